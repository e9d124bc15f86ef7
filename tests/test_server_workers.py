"""``advisor serve --workers N`` as an operator meets it: real processes on loopback, their
process tree read from /proc; and the ASGI factory ``advisor.asgi:create_app`` for other
servers, configured by environment variables."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from advisor.asgi import Settings, SettingsError, build_app, create_app, read_settings
from advisor.cli import main
from advisor.server_workers import MAX_WORKERS, RESTART_LIMIT
from support import free_port, serving, serving_process, start_server, wait_until_healthy

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads the process tree from /proc")

EXAMPLES = [Path("examples/serverless-api.yaml"), Path("examples/three-tier-web-app.yaml")]
DEADLINE = 30  # seconds a process may take to start, be replaced or stop on a busy machine
CONCURRENT = 24  # requests sent at once, each on its own connection


def _body(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: [0] is field 3 (state)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rsplit(")", 1)[1].split()


def _children(parent: int) -> list[int]:
    """The live (not zombie) processes whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except (OSError, IndexError):  # ended while being read
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def _cpu_ticks(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def _wait_for(condition: Any, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE} s: {what}"
                        + (f"\n{log.read_text()}" if log is not None else ""))
        time.sleep(0.05)


def _workers(parent: int, log: Path, count: int = 2) -> list[int]:
    """The ``count`` worker processes of ``parent``, once it has them all."""
    _wait_for(lambda: len(_children(parent)) == count, f"{count} worker processes", log)
    return _children(parent)


def _post_at_once(url: str, body: dict[str, Any]) -> list[httpx.Response]:
    """``CONCURRENT`` copies of one recommendation request, sent together."""

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=CONCURRENT)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as session:
            return await asyncio.gather(*(session.post("/v1/recommendations", json=body)
                                          for _ in range(CONCURRENT)))

    return asyncio.run(send_all())


def _all_work(url: str, workers: list[int]) -> None:
    """Fail unless every one of ``workers`` does a share of the work of a burst of requests.

    An idle worker still spends a clock tick now and then on its timers, so a share counts
    from a tenth of the CPU time all spent. The kernel spreads the burst's connections at
    random (advisor.cli_serve), so one of two workers gets fewer than a tenth of 24 about
    once in 28,000 bursts."""
    before = {pid: _cpu_ticks(pid) for pid in workers}
    responses = _post_at_once(url, _body(EXAMPLES[0]))
    assert [response.status_code for response in responses] == [200] * CONCURRENT
    spent = {pid: _cpu_ticks(pid) - before[pid] for pid in workers}
    idle = [pid for pid in workers if spent[pid] * 10 < sum(spent.values())]
    assert not idle, f"workers {idle} did almost none of the work: CPU ticks {spent}"


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("one") / "server.log"
    with serving(log) as url:
        yield url


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    log = tmp_path_factory.mktemp("two") / "server.log"
    with serving_process(log, "--workers", "2") as (url, process):
        yield url, process.pid, log


@pytest.fixture
def fresh_two(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """A two-worker server of this test's own, which the test may take apart."""
    log = tmp_path / "server.log"
    with serving_process(log, "--workers", "2") as (url, process):
        yield url, process, log


# --- the same API from more processes -------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
@pytest.mark.parametrize("query", ["", "?sensitivity=false"])
def test_two_workers_answer_byte_for_byte_as_one(one: str, two: tuple[str, int, Path],
                                                 path: Path, query: str) -> None:
    answers = [httpx.post(f"{url}/v1/recommendations{query}", json=_body(path), timeout=60)
               for url in (one, two[0])]
    assert [answer.status_code for answer in answers] == [200, 200], answers[1].text
    assert answers[0].content == answers[1].content
    assert answers[0].headers["content-type"] == answers[1].headers["content-type"]


def test_the_start_up_line_says_how_many_workers_serve(two: tuple[str, int, Path]) -> None:
    url, _, log = two
    port = url.rsplit(":", 1)[1]
    assert (f"advisor: serving the HTTP API on http://127.0.0.1:{port} (engine durable, "
            in log.read_text())
    assert re.search(r"\d+ rules, 2 workers\); Ctrl\+C stops it", log.read_text())


def test_two_workers_are_children_of_the_parent_and_both_serve(
        two: tuple[str, int, Path]) -> None:
    url, parent, log = two
    workers = _workers(parent, log)
    assert len(workers) == 2 and parent not in workers
    _all_work(url, workers)


def test_the_parent_serves_nothing_itself(two: tuple[str, int, Path]) -> None:
    url, parent, log = two
    # Single-threaded when it forked, and it starts no thread afterwards: no request thread
    # pool, no event loop; its CPU time stays flat while the workers answer.
    assert len(os.listdir(f"/proc/{parent}/task")) == 1
    before = _cpu_ticks(parent)
    _all_work(url, _workers(parent, log))
    assert _cpu_ticks(parent) - before <= 2


def test_a_port_a_worker_group_holds_is_a_clear_error(two: tuple[str, int, Path],
                                                      tmp_path: Path) -> None:
    # The workers' sockets share their port with each other; a second server must not join
    # them (and get half the connections) but fail as on any busy port.
    port = two[0].rsplit(":", 1)[1]
    log = tmp_path / "second.log"
    second = start_server("--port", port, "--workers", "2", log=log)
    try:
        assert second.wait(timeout=DEADLINE) == 2
    finally:
        if second.poll() is None:  # it serves: stop it and its workers
            second.terminate()
            second.wait(timeout=DEADLINE)
    assert f"advisor: cannot listen on 127.0.0.1:{port}: address already in use" in log.read_text()


# --- supervision ---------------------------------------------------------------------------


def test_a_killed_worker_is_replaced_and_the_server_keeps_answering(
        fresh_two: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    url, process, log = fresh_two
    first, second = _workers(process.pid, log)
    os.kill(first, signal.SIGKILL)
    _wait_for(lambda: len(_children(process.pid)) == 2 and first not in _children(process.pid),
              "a new worker in place of the killed one", log)
    workers = _children(process.pid)
    assert second in workers
    _wait_for(lambda: f"worker process {first} was killed by signal 9 (SIGKILL); started "
                      "another in its place" in log.read_text(), "the replacement logged", log)
    _all_work(url, workers)  # the new worker serves too
    assert process.poll() is None


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=lambda stop: stop.name)
def test_a_stop_signal_ends_the_parent_and_every_worker_with_exit_0(
        fresh_two: tuple[str, subprocess.Popen[bytes], Path], stop: signal.Signals) -> None:
    url, process, log = fresh_two
    workers = _workers(process.pid, log)
    process.send_signal(stop)
    assert process.wait(timeout=DEADLINE) == 0, log.read_text()
    _wait_for(lambda: not any(_alive(pid) for pid in workers), "the workers gone", log)
    assert log.read_text().count("Finished server process") == 2
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=5)


def test_workers_whose_parent_is_killed_stop_by_themselves(
        fresh_two: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    _, process, log = fresh_two
    workers = _workers(process.pid, log)
    process.kill()  # SIGKILL: the parent cannot stop them
    process.wait(timeout=DEADLINE)
    _wait_for(lambda: not any(_alive(pid) for pid in workers), "the orphaned workers gone", log)


_CRASHING = """
import os, sys
from advisor.server_workers import WorkersFailed, run_workers
try:
    run_workers(2, lambda slot: os._exit(7), lambda line: print(line, flush=True))
except WorkersFailed as error:
    print(f"failed: {error}", flush=True)
    sys.exit(3)
"""


def test_workers_that_keep_ending_stop_the_parent_with_a_message() -> None:
    result = subprocess.run([sys.executable, "-c", _CRASHING], capture_output=True, text=True,
                            timeout=DEADLINE)
    assert result.returncode == 3, result.stderr
    lines = result.stdout.splitlines()
    replaced = [line for line in lines if "exited with status 7; started another" in line]
    assert len(replaced) == RESTART_LIMIT
    assert re.fullmatch(rf"failed: workers keep ending: {RESTART_LIMIT + 1} within 60 s, the "
                        r"last \(process \d+\) exited with status 7; stopping \(the log above "
                        r"says why\)", lines[-1])
    assert "Traceback" not in result.stderr


_UNFORKABLE = """
import errno, os
from advisor.server_workers import WorkersFailed, run_workers
def refuse():
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
os.fork = refuse
try:
    run_workers(2, lambda slot: None, print)
except WorkersFailed as error:
    print(f"failed: {error}")
"""


def test_a_worker_that_cannot_be_forked_is_a_clear_failure() -> None:
    result = subprocess.run([sys.executable, "-c", _UNFORKABLE], capture_output=True, text=True,
                            timeout=DEADLINE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("failed: cannot start a worker process: Resource temporarily "
                             "unavailable; stopping\n")


_THREADED = """
import threading, time
from advisor.server_workers import run_workers
threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
run_workers(2, lambda slot: None, print)
"""


def test_workers_are_never_forked_from_a_process_running_threads() -> None:
    result = subprocess.run([sys.executable, "-c", _THREADED], capture_output=True, text=True,
                            timeout=DEADLINE)
    assert result.returncode == 1
    assert ("RuntimeError: cannot fork workers from a process running 2 threads"
            in result.stderr)


# --- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "message"), [
    ("0", "advisor: --workers 0: must be at least 1"),
    ("-3", "advisor: --workers -3: must be at least 1"),
    (str(MAX_WORKERS + 1), f"advisor: --workers {MAX_WORKERS + 1}: at most {MAX_WORKERS} "
                           "(about one per CPU core serves best"),
    ("100000000", f"advisor: --workers 100000000: at most {MAX_WORKERS}"),
])
def test_a_bad_worker_count_exits_2_with_a_message(tmp_path: Path, count: str,
                                                   message: str) -> None:
    log = tmp_path / "serve.log"
    process = start_server("--workers", count, "--port", "0", log=log)
    assert process.wait(timeout=DEADLINE) == 2
    assert message in log.read_text()
    assert "Traceback" not in log.read_text()


def test_more_than_one_worker_without_fork_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("advisor.cli_serve.fork_available", lambda: False)
    assert main(["serve", "--workers", "2", "--port", "0"]) == 2
    assert ("advisor: --workers 2: more than one worker needs fork(), which this platform "
            "lacks" in capsys.readouterr().err)


def test_help_says_the_connection_limit_is_per_worker(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "each worker has its own --max-connections" in " ".join(capsys.readouterr().out.split())


def _lower_descriptor_limit() -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))


def test_every_worker_may_open_the_descriptors_its_connection_limit_needs(
        tmp_path: Path) -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    connections = 500
    needed = 2 * connections + 64  # as advisor.cli_serve raises it
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard open-file limit ({hard}) is below {needed}")
    log = tmp_path / "serve.log"
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "advisor", "serve", "--port", str(port), "--workers", "2",
             "--max-connections", str(connections)],
            stdout=sink, stderr=subprocess.STDOUT, preexec_fn=_lower_descriptor_limit)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
        for worker in _workers(process.pid, log):
            limits = Path(f"/proc/{worker}/limits").read_text()
            soft = int(re.search(r"Max open files\s+(\d+)", limits).group(1))  # type: ignore[union-attr]
            assert soft >= needed
    finally:
        process.terminate()
        assert process.wait(timeout=DEADLINE) == 0


# --- the ASGI factory -----------------------------------------------------------------------


def test_settings_default_when_unset_or_empty() -> None:
    defaults = Settings(rules=None, engine="durable", max_body_bytes=1_000_000,
                        allowed_hosts=None)
    assert read_settings({}) == defaults
    assert read_settings({"ADVISOR_RULES": "", "ADVISOR_ENGINE": "",
                          "ADVISOR_MAX_BODY_BYTES": "", "ADVISOR_ALLOWED_HOSTS": " "}) == defaults


def test_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = read_settings({"ADVISOR_RULES": str(tmp_path), "ADVISOR_ENGINE": "python",
                              "ADVISOR_MAX_BODY_BYTES": "2048",
                              "ADVISOR_ALLOWED_HOSTS": "localhost:9000, api.example.com"})
    assert settings == Settings(rules=tmp_path, engine="python", max_body_bytes=2048,
                                allowed_hosts=frozenset({"localhost:9000", "api.example.com"}))


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("ADVISOR_ENGINE", "fast",
     "ADVISOR_ENGINE='fast': not an engine (allowed: durable, python; unset: durable)"),
    ("ADVISOR_MAX_BODY_BYTES", "1e6", "ADVISOR_MAX_BODY_BYTES='1e6': not a whole number of "
     "bytes (allowed: a whole number of bytes, at least 1; unset: 1000000)"),
    ("ADVISOR_MAX_BODY_BYTES", "-5", "ADVISOR_MAX_BODY_BYTES='-5': not a whole number of bytes"),
    ("ADVISOR_MAX_BODY_BYTES", "0", "ADVISOR_MAX_BODY_BYTES='0': must be at least 1 (allowed:"),
    ("ADVISOR_MAX_BODY_BYTES", "9" * 5000, "more than 15 digits"),
    ("ADVISOR_RULES", "/no/such/rules", "ADVISOR_RULES='/no/such/rules': does not exist "
     "(allowed: a rules directory, as for advisor serve --rules; unset: the bundled rules)"),
    ("ADVISOR_RULES", "README.md", "ADVISOR_RULES='README.md': is not a directory"),
    ("ADVISOR_ALLOWED_HOSTS", "localhost:8000,,example.com",
     "ADVISOR_ALLOWED_HOSTS='localhost:8000,,example.com': '' is not a Host header value"),
    ("ADVISOR_ALLOWED_HOSTS", "local host", "'local host' is not a Host header value"),
])
def test_a_bad_variable_is_named_with_what_is_allowed(variable: str, value: str,
                                                      message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        build_app({variable: value})
    assert message in str(raised.value)
    assert len(str(raised.value)) < 400  # a long value is cut, not echoed whole


def test_the_server_factory_exits_with_the_message_instead_of_raising(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ADVISOR_ENGINE", "fast")
    with pytest.raises(SystemExit) as raised:
        create_app()
    assert raised.value.code == 2
    assert capsys.readouterr().err == ("advisor: ADVISOR_ENGINE='fast': not an engine (allowed: "
                                       "durable, python; unset: durable)\n")


def test_rules_that_do_not_load_are_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"the rules do not load \(4 problem\(s\)\):\n.*"
                                            r"registry file is missing"):
        build_app({"ADVISOR_RULES": str(tmp_path)})


def test_the_asgi_app_honours_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_ENGINE", "python")
    monkeypatch.setenv("ADVISOR_MAX_BODY_BYTES", "2000")
    monkeypatch.setenv("ADVISOR_ALLOWED_HOSTS", "advisor.test")
    app = create_app()

    async def requests() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://advisor.test") as api:
            return [await api.get("/healthz"),
                    await api.post("/v1/recommendations?sensitivity=false",
                                   json={"workload": {"name": "x" * 3000}}),
                    await api.post("/v1/recommendations?sensitivity=false", json={}),
                    await api.get("/healthz", headers={"host": "other.test"})]

    health, large, small, elsewhere = asyncio.run(requests())
    assert health.json()["engine"] == "python"
    assert large.status_code == 413
    assert large.json() == {"detail": "request body is larger than 2000 bytes"}
    assert small.status_code == 200 and small.json()["engine"] == "python"
    assert elsewhere.status_code == 421


def _uvicorn(port: int, log: Path, **environment: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "advisor.asgi:create_app",
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **environment})


def test_uvicorn_factory_serves_what_advisor_serve_does(one: str, tmp_path: Path) -> None:
    log = tmp_path / "uvicorn.log"
    port = free_port()
    process = _uvicorn(port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, log)
        for path in EXAMPLES:
            answers = [httpx.post(f"{base}/v1/recommendations", json=_body(path), timeout=60)
                       for base in (one, url)]
            assert answers[0].status_code == 200
            assert answers[0].content == answers[1].content
        assert httpx.get(f"{url}/healthz").json() == httpx.get(f"{one}/healthz").json()
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE)
    assert "Traceback" not in log.read_text()


def test_uvicorn_factory_with_a_bad_variable_exits_naming_it(tmp_path: Path) -> None:
    log = tmp_path / "uvicorn.log"
    process = _uvicorn(free_port(), log, ADVISOR_MAX_BODY_BYTES="lots")
    assert process.wait(timeout=DEADLINE) == 2
    output = log.read_text()
    assert ("advisor: ADVISOR_MAX_BODY_BYTES='lots': not a whole number of bytes (allowed: a "
            "whole number of bytes, at least 1; unset: 1000000)\n") in output
    assert "Traceback" not in output
