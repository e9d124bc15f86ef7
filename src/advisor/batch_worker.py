"""A batch worker process: one ``Advisor``, reused for every profile it is sent; each report is
written by the worker itself, whole or not at all, before the parent hears it is done."""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from advisor.batch_journal import Status, clip_message
from advisor.batch_profiles import Profile
from advisor.catalog import load_catalog
from advisor.cli_common import Failure, write_atomically
from advisor.engine.base import CompileError, EngineError
from advisor.inputs import InputError, Problem, parse_requirements, read_requirements
from advisor.models.requirements import Requirements
from advisor.paths import rules_dir
from advisor.pipeline import Advisor
from advisor.render import render

# The slot a worker shares with the parent: [index of the profile it is on (IDLE: none),
# time.monotonic() when it started it]. Written by the worker only; the index is written last.
SLOT_INDEX, SLOT_STARTED = 0, 1
IDLE = -1.0
# Outcomes are sent in batches at most this old (and at the end of each chunk): every message
# wakes the parent, and a wake-up costs more than the outcome it carries. A worker killed with
# outcomes unsent only means those profiles are evaluated again.
SEND_EVERY_SECONDS = 0.2
# Collector thresholds once the long-lived objects are frozen (the default is 700, 10, 10).
GC_THRESHOLDS = (20_000, 20, 20)


@dataclass(frozen=True)
class Evaluation:
    """One evaluated profile: the rendered report and what the batch summary counts."""

    text: str
    decisions: dict[str, str]
    warnings: list[str]
    conflicts: list[str]


Evaluate = Callable[[Advisor, Profile, str], Evaluation]


@dataclass(frozen=True)
class Outcome:
    """What a worker reports for one profile (its report, if any, is already in place)."""

    index: int
    status: Status
    decisions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class WorkerSettings:
    """How every worker of a batch evaluates and where it writes."""

    engine: str
    rules: str | None
    output_format: str
    reports: str
    evaluate: str


def load_profile(profile: Profile) -> Requirements:
    """The requirements of a profile; ``InputError`` naming the profile and field."""
    if profile.path is not None:
        return read_requirements(profile.path)
    try:
        data = json.loads(profile.text or "")
    except json.JSONDecodeError as error:
        raise InputError([Problem(profile.origin, None, f"not JSON: {error.msg} "
                                                        f"(column {error.colno})")]) from None
    return parse_requirements(data, profile.origin)


def evaluate_profile(advisor: Advisor, profile: Profile, output_format: str) -> Evaluation:
    """The report for one profile and what the summary counts; ``InputError`` for bad input."""
    report = advisor.recommend(load_profile(profile))
    return Evaluation(
        text=render(report, output_format),
        decisions={decision.slot: decision.component for decision in report.decisions},
        warnings=sorted({warning.rule_id for warning in report.warnings}),
        conflicts=sorted({conflict.rule_id for conflict in report.conflicts}),
    )


def resolve_function(reference: str) -> Evaluate:
    """The function named by ``"module:function"``; ``ValueError`` when there is none."""
    module_name, _, name = reference.partition(":")
    try:
        function: Evaluate = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"cannot load evaluate function '{reference}': {error}") from None
    return function


def _failed(profile: Profile, error: str) -> Outcome:
    # Clipped here, so a value of hundreds of megabytes echoed in the message never reaches
    # the pipe to the parent.
    return Outcome(profile.index, "failed", error=clip_message(error))


def _evaluate_one(evaluate: Evaluate, advisor: Advisor, profile: Profile,
                  settings: WorkerSettings) -> Outcome:
    try:
        evaluation = evaluate(advisor, profile, settings.output_format)
        report = Path(settings.reports) / f"{profile.name}.{settings.output_format}"
        write_atomically(report, evaluation.text)
    except (InputError, Failure) as error:  # Failure: the report could not be written
        return _failed(profile, str(error))
    except (EngineError, CompileError) as error:
        return _failed(profile, f"engine '{settings.engine}' failed: {error}")
    except Exception as error:  # one bad profile must not stop the batch
        return _failed(profile, f"{type(error).__name__}: {error}")
    return Outcome(profile.index, "succeeded", evaluation.decisions, evaluation.warnings,
                   evaluation.conflicts)


def settle_memory() -> None:
    """Tune the garbage collector for a process that evaluates profiles one after another.

    What exists now (the catalog, the compiled rules, the templates) lives as long as the
    process; frozen, the collector stops re-scanning it. A report's objects die young, so
    collecting less often costs little memory and saves most of a full scan per report."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def worker_main(connection: Connection, slot: ctypes.Array[Any], settings: WorkerSettings) -> None:
    """Evaluate the chunks of profiles the parent sends until it sends None or goes away.

    Sends ``("ready", None)`` once the engine is compiled (``("fatal", message)`` if it cannot
    be), then ``("done", [Outcome, ...])`` for the profiles finished since the last message."""
    # The parent started this process with SIGINT and SIGTERM blocked, so a Ctrl-C to the
    # whole process group could not interrupt the imports; the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        catalog = load_catalog(Path(settings.rules) if settings.rules else rules_dir())
        advisor = Advisor(engine=settings.engine, catalog=catalog)
        evaluate = resolve_function(settings.evaluate)
    except Exception as error:
        connection.send(("fatal", f"{type(error).__name__}: {error}"))
        return
    settle_memory()
    connection.send(("ready", None))
    while True:
        try:
            chunk: list[Profile] | None = connection.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if chunk is None:
            return
        finished: list[Outcome] = []
        sent = time.monotonic()
        for position, profile in enumerate(chunk, start=1):
            slot[SLOT_STARTED] = time.monotonic()
            slot[SLOT_INDEX] = profile.index
            finished.append(_evaluate_one(evaluate, advisor, profile, settings))
            slot[SLOT_INDEX] = IDLE
            now = time.monotonic()
            if position == len(chunk) or now - sent >= SEND_EVERY_SECONDS:
                try:
                    connection.send(("done", finished))
                except OSError:
                    return  # the parent is gone
                finished, sent = [], now
