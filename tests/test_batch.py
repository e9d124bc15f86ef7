"""``advisor batch``: many profiles in worker processes, with a time limit, replacement of lost
workers, and resumption after an interrupt. Real processes throughout; faults are injected
through ``run_batch(evaluate=...)`` with the functions in ``batch_faults``."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from advisor.batch import run_batch
from advisor.catalog import Catalog
from advisor.inputs import parse_requirements, read_requirements
from advisor.pipeline import Advisor
from advisor.render import render
from advisor.sampling import random_requirements
from batch_faults import MARKS
from support import VALID_RULE, example_files, minimal_rules, obey_file_permissions


def batch(*args: str, timeout: float = 120, **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "advisor", "batch", *args],
                          capture_output=True, text=True, timeout=timeout, **options)


@contextlib.contextmanager
def running_batch(*args: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The batch command as a process in its own process group (as a shell runs a job); killed
    and reaped afterwards if the test left it running."""
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "advisor", "batch", *args],
                                   stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def write_lines(path: Path, documents: list[object]) -> Path:
    path.write_text("".join(json.dumps(document) + "\n" for document in documents),
                    encoding="utf-8")
    return path


def generated(catalog: Catalog, count: int, seed: int = 11) -> list[object]:
    rng = random.Random(seed)
    return [random_requirements(rng, catalog, 0.5) for _ in range(count)]


def api_profile(name: str, peak_rps: int = 300) -> dict[str, object]:
    return {"workload": {"name": name, "kind": "api"}, "traffic": {"peak_rps": peak_rps}}


def reports(out: Path) -> dict[str, Path]:
    return {path.stem: path for path in (out / "reports").iterdir()}


def leftovers(out: Path) -> list[Path]:
    """Temporary files: every dot file except the journal's directory."""
    return [path for path in out.rglob(".*") if path != out / ".batch"]


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def workers_of(pid: int) -> list[int]:
    """The batch's worker processes (not multiprocessing's resource tracker)."""
    children = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(child) for child in listing.read_text().split()]
    found = []
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


@pytest.fixture()
def marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "marks"
    directory.mkdir()
    monkeypatch.setenv(MARKS, str(directory))  # spawned workers inherit the environment
    return directory


def test_directory_of_examples_gives_a_report_each_and_lists_the_invalid_file(
        tmp_path: Path, durable: Advisor) -> None:
    source = tmp_path / "profiles"
    source.mkdir()
    chosen = example_files()[::4]
    for path in chosen:
        shutil.copy(path, source / path.name)
    (source / "broken.yaml").write_text("workload: {kind: api}\ndata: {model: graphy}\n")
    (source / "notes.txt").write_text("not a profile")
    out = tmp_path / "out"

    result = batch(str(source), "-o", str(out), "--workers", "2")

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "%|" not in result.stderr  # no progress bar in a log
    assert f"{len(chosen) + 1} profiles: {len(chosen)} succeeded, 1 failed" in result.stderr
    assert sorted(reports(out)) == sorted(path.stem for path in chosen)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"] == {"profiles": len(chosen) + 1, "succeeded": len(chosen),
                                 "failed": 1, "timed_out": 0, "resumed": 0}
    expected: dict[str, Counter[str]] = {}
    for path in chosen:
        for decision in durable.recommend(read_requirements(str(path))).decisions:
            expected.setdefault(decision.slot, Counter())[decision.component] += 1
    assert summary["decisions"] == {slot: dict(counts) for slot, counts in expected.items()}
    [failure] = summary["failures"]
    assert failure["name"] == "broken"
    assert "broken.yaml:2: data.model:" in failure["error"] and "graphy" in failure["error"]
    markdown = (out / "summary.md").read_text()
    assert "| broken |" in markdown and "data.model" in markdown
    first = reports(out)[chosen[0].stem].read_text()
    assert first == render(durable.recommend(read_requirements(str(chosen[0]))), "md")


def test_json_lines_name_profiles_by_line_and_report_bad_lines(
        tmp_path: Path, durable: Advisor) -> None:
    source = tmp_path / "profiles.jsonl"
    source.write_text("\n".join([
        json.dumps(api_profile("first")),
        "",
        "{not json",
        json.dumps({"data": {"model": "graphy"}}),
        json.dumps(api_profile("fifth", 5000)),
    ]) + "\n")
    out = tmp_path / "out"

    result = batch(str(source), "-o", str(out), "--format", "json")

    assert result.returncode == 1, result.stderr
    assert sorted(reports(out)) == ["line-000001", "line-000005"]
    report = json.loads((out / "reports" / "line-000005.json").read_text())
    expected = durable.recommend(parse_requirements(api_profile("fifth", 5000)))
    assert report["decisions"] == [d.model_dump(mode="json") for d in expected.decisions]
    summary = json.loads((out / "summary.json").read_text())
    errors = {item["name"]: item["error"] for item in summary["failures"]}
    assert sorted(errors) == ["line-000003", "line-000004"]
    assert errors["line-000003"].startswith("profiles.jsonl:3: not JSON")
    assert errors["line-000004"].startswith("profiles.jsonl:4: data.model: ")
    assert summary["totals"]["profiles"] == 4

    again = tmp_path / "again"
    assert batch(str(source), "-o", str(again), "--format", "json").returncode == 1
    for name in ("summary.md", "summary.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes()


def test_an_evaluation_that_hangs_holding_the_gil_is_killed_and_reported(
        tmp_path: Path) -> None:
    names = ["a", "b", "HANG", "c", "d", "e"]
    source = write_lines(tmp_path / "p.jsonl", [api_profile(name, 100 * (i + 1))
                                                for i, name in enumerate(names)])
    out = tmp_path / "out"

    result = run_batch(source, out, workers=2, timeout=2, progress=False,
                       evaluate="batch_faults:hang_holding_the_gil")

    assert result.summary is not None
    assert result.summary.totals.timed_out == 1 and result.summary.totals.succeeded == 5
    [failure] = result.summary.failures
    assert (failure.name, failure.status, failure.error) == (
        "line-000003", "timed_out", "timed out after 2 s")
    assert sorted(reports(out)) == [f"line-{n:06d}" for n in (1, 2, 4, 5, 6)]
    assert "line-000003 | timed out after 2 s |" in (out / "summary.md").read_text()
    assert not leftovers(out)


def test_a_crashing_profile_is_retried_once_in_a_new_worker(tmp_path: Path, marks: Path) -> None:
    names = ["a", "CRASH-ONCE", "b", "CRASH", "c"]
    source = write_lines(tmp_path / "p.jsonl", [api_profile(name) for name in names])
    out = tmp_path / "out"

    result = run_batch(source, out, workers=2, progress=False, evaluate="batch_faults:crash")

    assert result.summary is not None
    assert [(item.name, item.error) for item in result.summary.failures] == [
        ("line-000004", "worker exited with signal 9")]
    assert sorted(reports(out)) == ["line-000001", "line-000002", "line-000003", "line-000005"]
    assert (marks / "line-000002").exists()  # it did crash its first worker
    assert not leftovers(out)


def test_killing_a_worker_mid_run_still_accounts_for_every_profile(
        tmp_path: Path, catalog: Catalog) -> None:
    count = 200
    source = write_lines(tmp_path / "p.jsonl", generated(catalog, count))
    out = tmp_path / "out"
    log = tmp_path / "log"
    with running_batch(str(source), "-o", str(out), "--workers", "2", log=log) as process:
        wait_for(lambda: len(workers_of(process.pid)) == 2 and (out / "reports").is_dir()
                 and len(list((out / "reports").glob("*.md"))) >= 10, "reports")
        victim = workers_of(process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        code = process.wait(timeout=120)
    text = log.read_text()
    assert code in (0, 1), text
    assert "worker exited with signal 9" in text and "Traceback" not in text
    summary = json.loads((out / "summary.json").read_text())
    failed = {item["name"]: item["error"] for item in summary["failures"]}
    assert summary["totals"]["profiles"] == count
    assert set(reports(out)) | set(failed) == {f"line-{n:06d}" for n in range(1, count + 1)}
    assert set(reports(out)).isdisjoint(failed)
    assert all(error.startswith("worker exited") for error in failed.values())
    assert not leftovers(out)


def test_interrupt_then_rerun_resumes_without_redoing_finished_profiles(
        tmp_path: Path, catalog: Catalog) -> None:
    count = 150
    source = write_lines(tmp_path / "p.jsonl", generated(catalog, count, seed=5))
    out = tmp_path / "out"
    log = tmp_path / "log"
    journal = out / ".batch" / "journal.jsonl"
    with running_batch(str(source), "-o", str(out), "--workers", "1", log=log) as process:
        wait_for(lambda: journal.is_file() and journal.read_text().count("\n") >= 10,
                 "finished profiles")
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole process group
        code = process.wait(timeout=60)
    text = log.read_text()
    assert code == 130, text
    assert "Traceback" not in text
    done = int(text.split("interrupted: ", 1)[1].split(" of ", 1)[0])
    assert f"interrupted: {done} of {count} done; run the same command again to resume" in text
    assert 10 <= done < count
    assert not leftovers(out)
    assert not (out / "summary.md").exists() and not (out / "summary.json").exists()
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(entries) == done
    finished = {entry["name"]: reports(out)[entry["name"]].stat().st_mtime_ns
                for entry in entries}

    result = batch(str(source), "-o", str(out))

    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"]["resumed"] == done
    assert summary["totals"]["succeeded"] == count
    assert len(reports(out)) == count
    assert {name: reports(out)[name].stat().st_mtime_ns for name in finished} == finished


def test_a_changed_profile_is_evaluated_again_and_a_torn_journal_line_ignored(
        tmp_path: Path) -> None:
    source = tmp_path / "profiles"
    source.mkdir()
    for name in ("a", "b", "c"):
        write_lines(source / f"{name}.json", [api_profile(name)])
    out = tmp_path / "out"
    assert batch(str(source), "-o", str(out), "--workers", "1").returncode == 0
    before = {name: path.stat().st_mtime_ns for name, path in reports(out).items()}
    write_lines(source / "b.json", [api_profile("b", 9000)])
    journal = out / ".batch" / "journal.jsonl"
    with journal.open("a") as stream:
        stream.write('{"name": "c", "dig')  # a line torn by a kill mid-write

    result = batch(str(source), "-o", str(out), "--workers", "1")

    assert result.returncode == 0, result.stderr
    after = {name: path.stat().st_mtime_ns for name, path in reports(out).items()}
    assert after["a"] == before["a"] and after["c"] == before["c"]
    assert after["b"] != before["b"]
    assert json.loads((out / "summary.json").read_text())["totals"]["resumed"] == 2
    assert all(json.loads(line) for line in journal.read_text().splitlines())

    restarted = batch(str(source), "-o", str(out), "--workers", "1", "--restart")
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads((out / "summary.json").read_text())["totals"]["resumed"] == 0


@pytest.mark.parametrize(("setup", "args", "message"), [
    ("missing", [], "no such file or directory"),
    ("empty-dir", [], "no requirement files"),
    ("text-file", [], "not a directory of requirement files or a .jsonl file"),
    ("empty-jsonl", [], "empty (expected one JSON object per line)"),
    ("same-name", [], "a.json and a.yaml"),
    ("out-is-file", [], "exists and is not a directory"),
    ("valid", ["--workers", "0"], "--workers 0: must be at least 1"),
    ("valid", ["--timeout", "0"], "--timeout 0: must be more than 0 seconds"),
])
def test_bad_invocations_exit_2_and_write_nothing(tmp_path: Path, setup: str, args: list[str],
                                                  message: str) -> None:
    source = tmp_path / "in"
    out = tmp_path / "out"
    if setup == "empty-dir":
        source.mkdir()
    elif setup == "text-file":
        source = tmp_path / "in.txt"
        source.write_text("{}\n")
    elif setup == "empty-jsonl":
        source = tmp_path / "in.jsonl"
        source.write_text("\n  \n")
    elif setup in ("same-name", "out-is-file", "valid"):
        source.mkdir()
        (source / "a.yaml").write_text("workload: {kind: api}\n")
        if setup == "same-name":
            (source / "a.json").write_text('{"workload": {"kind": "api"}}\n')
        if setup == "out-is-file":
            out.write_text("keep me")

    result = batch(str(source), "-o", str(out), *args)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("advisor: ") and "Traceback" not in result.stderr
    assert out.read_text() == "keep me" if setup == "out-is-file" else not out.exists()


def test_a_second_run_into_the_same_directory_is_refused_while_the_first_runs(
        tmp_path: Path) -> None:
    source = write_lines(tmp_path / "p.jsonl", [api_profile("a")])
    journal = tmp_path / "out" / ".batch" / "journal.jsonl"
    journal.parent.mkdir(parents=True)
    with journal.open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a running batch holds it

        result = batch(str(source), "-o", str(tmp_path / "out"))

    assert result.returncode == 2, result.stderr
    assert "another advisor batch is writing to this directory" in result.stderr
    assert journal.read_text() == ""


def test_a_terminal_gets_a_progress_bar(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "p.jsonl", [api_profile(name) for name in "abc"])
    terminal = pexpect.spawn(sys.executable, ["-m", "advisor", "batch", str(source), "-o",
                                              str(tmp_path / "out")],
                             dimensions=(24, 100), encoding="utf-8", timeout=120)
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0, terminal.before
    assert "100%|" in terminal.before and "3/3" in terminal.before


def test_rules_that_do_not_compile_exit_3_before_any_work(tmp_path: Path) -> None:
    # One rule over durable-rules' alpha-stack limit: it loads, but cannot be compiled.
    branches = ", ".join(str(value) for value in range(70))
    rule = (VALID_RULE
            .replace("{fact: data.model, equals: key_value}",
                     f"{{fact: traffic.peak_rps, one_of: [{branches}]}}")
            .replace("{data: {model: key_value}}", "{traffic: {peak_rps: 3}}")
            .replace("{data: {model: relational}}", "{traffic: {peak_rps: 500}}"))
    rules = minimal_rules(tmp_path, {"data/DATA-900-oversized.yaml": rule})
    source = write_lines(tmp_path / "p.jsonl", [api_profile("a")])
    out = tmp_path / "out"

    result = batch(str(source), "-o", str(out), "--rules", str(rules))

    assert result.returncode == 3, result.stderr
    assert "DATA-900" in result.stderr and "limit 64" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_a_huge_value_is_recorded_clipped_in_the_journal_and_summaries(tmp_path: Path) -> None:
    source = tmp_path / "big.jsonl"
    huge = "x" * 20_000_000
    source.write_text(json.dumps(api_profile("first")) + "\n"
                      + json.dumps({"workload": {"name": huge}}) + "\n"
                      + json.dumps({"workload": {huge[:5_000_000]: 1}}) + "\n")
    out = tmp_path / "out"

    result = batch(str(source), "-o", str(out), "--workers", "1")

    assert result.returncode == 1, result.stderr
    sizes = {str(path.relative_to(out)): path.stat().st_size
             for path in out.rglob("*") if path.is_file()}
    assert sorted(sizes) == [".batch/journal.jsonl", "reports/line-000001.md", "summary.json",
                             "summary.md"]
    assert all(size < 20_000 for size in sizes.values()), sizes
    errors = {item["name"]: item["error"]
              for item in json.loads((out / "summary.json").read_text())["failures"]}
    assert errors["line-000002"].startswith("big.jsonl:2: workload.name: ")
    # The value is cut to about 200 characters, marked by an ellipsis, with its length.
    for name, length in (("line-000002", r"20,?000,?0\d\d"), ("line-000003", r"5,?000,?0\d\d")):
        assert "x" * 150 in errors[name] and "x" * 300 not in errors[name], errors[name]
        assert "\u2026" in errors[name] and re.search(length, errors[name]), errors[name]
    for path in (out / "summary.md", out / ".batch" / "journal.jsonl"):
        text = path.read_text()
        assert "x" * 150 in text and "x" * 300 not in text


def test_a_rerun_removes_the_reports_it_did_not_write_and_says_why(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(example_files()[0], source / f"{name}.yaml")
    out = tmp_path / "out"
    first = batch(str(source), "-o", str(out), "--workers", "1", umask=0o027)
    assert first.returncode == 0, first.stderr
    assert sorted(reports(out)) == ["a", "b", "c"]
    # Every file follows the umask (not a private 0600 of a temporary file).
    modes = {stat.S_IMODE(path.stat().st_mode)
             for path in [*reports(out).values(), out / "summary.md", out / "summary.json",
                          out / ".batch" / "journal.jsonl"]}
    assert modes == {0o640}
    (source / "b.yaml").write_text("data: {model: graphy}\n")
    (source / "c.yaml").unlink()

    second = batch(str(source), "-o", str(out), "--workers", "1")

    assert second.returncode == 1, second.stderr
    assert "2 stale reports removed from reports/ (see the summary)" in second.stderr
    assert sorted(reports(out)) == ["a"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["removed_reports"] == [
        {"file": "b.md", "reason": "its profile failed in this run"},
        {"file": "c.md", "reason": "no profile of this name in the input"}]
    markdown = (out / "summary.md").read_text()
    assert "## Removed reports" in markdown and "| c.md | no profile of this name" in markdown

    third = batch(str(source), "-o", str(out), "--workers", "1", "--format", "json")

    assert third.returncode == 1, third.stderr
    assert sorted(path.name for path in (out / "reports").iterdir()) == ["a.json"]
    assert json.loads((out / "summary.json").read_text())["removed_reports"] == [
        {"file": "a.md", "reason": "another format (this run wrote a.json)"}]


def test_input_entries_that_are_not_regular_files_are_listed_as_skipped(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    write_lines(source / "a.json", [api_profile("a")])
    os.mkfifo(source / "pipe.yaml")  # opened for reading, it would block the run
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(source / "socket.yaml"))
    (source / "sub").mkdir()
    write_lines(source / "sub" / "inner.json", [api_profile("inner")])
    (source / "folder.yaml").symlink_to(source / "sub")
    (source / "gone.yaml").symlink_to(source / "missing.yaml")
    (source / "alias.json").symlink_to("a.json")  # a link to a regular file is read
    os.mkfifo(source / ("p" * 250 + ".yaml"))  # a name is recorded clipped
    write_lines(source / os.fsdecode(b"\xffbad.json"), [api_profile("bad")])
    out = tmp_path / "out"

    result = batch(str(source), "-o", str(out), "--workers", "1", timeout=60)

    assert result.returncode == 0, result.stderr
    assert "4 profiles" not in result.stderr and "2 profiles: 2 succeeded" in result.stderr
    assert "7 input entries skipped (see the summary)" in result.stderr
    assert sorted(reports(out)) == ["a", "alias"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped"] == [
        {"name": "\\xffbad.json",
         "reason": "its name is not UTF-8 (rename it; reports are named after it)"},
        {"name": "folder.yaml", "reason": "a symbolic link to a directory, not a regular file"},
        {"name": "gone.yaml", "reason": "a symbolic link to nothing (broken)"},
        {"name": "pipe.yaml", "reason": "a FIFO (named pipe), not a regular file"},
        {"name": "p" * 200 + "\u2026 (255 characters)",
         "reason": "a FIFO (named pipe), not a regular file"},
        {"name": "socket.yaml", "reason": "a socket, not a regular file"},
        {"name": "sub", "reason": "a directory, not a regular file"}]
    assert "| pipe.yaml | a FIFO (named pipe), not a regular file |" in (
        out / "summary.md").read_text()
    assert stat.S_ISFIFO((source / "pipe.yaml").lstat().st_mode)


@pytest.mark.parametrize(("entry", "kind", "message"), [
    ("summary.md", "fifo", "summary.md is a FIFO (named pipe), not a regular file"),
    (".batch/journal.jsonl", "fifo", ".batch/journal.jsonl is a FIFO (named pipe), not a "
                                     "regular file"),
    ("summary.json", "directory", "summary.json is a directory, not a regular file"),
    ("reports", "file", "reports is a regular file, not a directory"),
])
def test_an_output_directory_holding_the_wrong_kind_of_file_is_refused_before_work(
        tmp_path: Path, entry: str, kind: str, message: str) -> None:
    source = write_lines(tmp_path / "p.jsonl", [api_profile("a")])
    out = tmp_path / "out"
    path = out / entry
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_text("mine")

    result = batch(str(source), "-o", str(out), timeout=60)

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"advisor: -o {out}: {message}")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert sorted(str(item.relative_to(out)) for item in out.rglob("*")) == sorted(
        {entry, str(Path(entry).parent)} - {"."})


def test_an_output_directory_where_nothing_can_be_written_is_refused_before_work(
        tmp_path: Path) -> None:
    source = write_lines(tmp_path / "p.jsonl", [api_profile("a")])
    out = tmp_path / "out"
    for directory in (out / "reports", out / ".batch", out):
        directory.mkdir(parents=True, exist_ok=True)
    (out / "reports").chmod(0o555)

    # As root the child loses the capabilities that override permissions (see support.py).
    result = batch(str(source), "-o", str(out), timeout=60, preexec_fn=obey_file_permissions)

    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"advisor: -o {out}: cannot create a file in {out / 'reports'}: "
                             "Permission denied\n")
    assert sorted(str(item.relative_to(out)) for item in out.rglob("*")) == [".batch", "reports"]
