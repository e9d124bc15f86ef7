"""Helpers shared by test modules."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings

from advisor.paths import examples_dir, rules_dir

# prctl(2): remove a capability from the bounding set, so no program run afterwards has it.
PR_CAPBSET_DROP = 24
REGISTRIES = ("_areas.yaml", "_components.yaml", "_slots.yaml", "_sources.yaml")


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Requirement documents merged section by section, later parts winning."""
    out: dict[str, Any] = {}
    for part in parts:
        for section, fields in part.items():
            out.setdefault(section, {}).update(fields)
    return out


def example_files() -> list[Path]:
    """The bundled example requirement files."""
    return sorted(examples_dir().glob("*.yaml"))


def minimal_rules(tmp_path: Path, rules: dict[str, str]) -> Path:
    """A rules directory with the bundled registries and only the given rule files."""
    root = tmp_path / "rules"
    root.mkdir()
    for name in REGISTRIES:
        shutil.copy(rules_dir() / name, root / name)
    for relative, text in rules.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


VALID_RULE = """\
id: DATA-900
title: Test rule that recommends DynamoDB for key-value data
area: data
strength: moderate
priority: 50
when:
  - {fact: data.model, equals: key_value}
recommend:
  slot: primary_datastore
  component: dynamodb
rejects:
  - {component: aurora, because: A relational engine is not needed for key lookups.}
rationale: Key-value access by a known key is what DynamoDB serves at any scale.
citations:
  - {source: seed-000, quote: "Key-value and document database"}
examples:
  fires:
    - {name: kv, requirements: {data: {model: key_value}}}
  silent:
    - {name: relational, requirements: {data: {model: relational}}}
"""


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """``advisor serve`` with ``args`` as a real process, its output going to ``log``."""
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "advisor", "serve", *args],
                                stdout=sink, stderr=subprocess.STDOUT)


@contextlib.contextmanager
def serving(log: Path, *args: str) -> Iterator[str]:
    """A running ``advisor serve`` on a free loopback port (its base URL), stopped afterwards;
    a traceback in its output fails the test."""
    with serving_process(log, *args) as (url, _):
        yield url


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once ``url``/healthz answers 200; fail the test if ``process`` exits first or
    nothing answers within two minutes."""
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the server did not answer /healthz:\n{log.read_text()}")
        time.sleep(0.1)


@contextlib.contextmanager
def serving_process(log: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As ``serving``, with the ``advisor serve`` process itself."""
    port = free_port()
    process = start_server("--port", str(port), *args, log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if shutdown hangs
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text(), log.read_text()


def bounded(max_examples: int) -> settings:
    """Hypothesis settings for a test that uses fixtures and whole-pipeline runs: a fixed number
    of examples, so CI stays fast, and no per-example deadline on a noisy machine."""
    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def obey_file_permissions() -> None:
    """For ``subprocess``'s ``preexec_fn``: a child of root loses the capabilities that let it
    write where permissions forbid (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER), so a
    test of an unwritable directory means the same for root as for any user."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

