"""Evaluate many requirement profiles in worker processes: one report per profile, a summary,
a journal that lets an interrupted run resume, and a time limit per evaluation.

``run_batch`` is the Python API behind ``advisor batch``; the workers live in
``advisor.batch_pool`` and ``advisor.batch_worker``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from tqdm import tqdm

from advisor.batch_journal import Journal, JournalBusy, JournalEntry, clip, recorded_name
from advisor.batch_pool import PoolError, WorkerPool
from advisor.batch_profiles import DEFAULT_TIMEOUT, Profile, discover_input
from advisor.batch_summary import (
    BatchSummary,
    RemovedReport,
    SkippedInput,
    render_summary,
    summarize,
)
from advisor.batch_worker import Outcome, WorkerSettings, evaluate_profile, resolve_function
from advisor.catalog import Catalog
from advisor.cli_common import (
    EXIT_ENGINE,
    EXIT_INVALID,
    Failure,
    advisor_or_fail,
    catalog_or_fail,
    check_directory_writable,
    describe_file_type,
    write_atomically,
)
from advisor.engine import ENGINE_NAMES
from advisor.pipeline import tool_version
from advisor.render import FORMATS

__all__ = ["DEFAULT_EVALUATE", "BatchResult", "evaluate_profile", "run_batch"]

DEFAULT_EVALUATE = "advisor.batch:evaluate_profile"
REPORTS = "reports"
JOURNAL = Path(".batch") / "journal.jsonl"
SUMMARIES = ("summary.json", "summary.md")
# Profiles per message to a worker: small enough that a lost worker costs little, large
# enough that messages are a negligible share of the work.
MAX_CHUNK = 32
CHUNKS_PER_WORKER = 4
# How long the parent sleeps at most between looks at the clock and the stop flag.
MAX_WAIT_SECONDS = 0.5


@dataclass(frozen=True)
class BatchResult:
    """What a batch run did. ``summary`` is None when it was interrupted before every profile
    was accounted for."""

    profiles: int
    done: int
    summary: BatchSummary | None

    @property
    def interrupted(self) -> bool:
        """Whether the run stopped early (a signal); running it again resumes it."""
        return self.summary is None


class _StopRequest:
    """SIGINT and SIGTERM set a flag and wake the parent's wait through a pipe, so the run
    stops between two steps instead of wherever the signal lands."""

    def __init__(self) -> None:
        self.requested = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    @property
    def fileno(self) -> int:
        """The descriptor that becomes readable when a stop is requested."""
        return self._read

    def request(self, signum: int, frame: FrameType | None) -> None:
        """Signal handler: remember the request and wake the waiting parent."""
        self.requested = True
        with contextlib.suppress(OSError):  # a full pipe: the parent is awake already
            os.write(self._write, b"!")

    def close(self) -> None:
        """Release the pipe."""
        os.close(self._read)
        os.close(self._write)


@contextmanager
def _stop_on_signals() -> Iterator[_StopRequest]:
    stop = _StopRequest()
    previous = {}
    try:
        # Handlers can only be installed from the main thread; elsewhere the caller stops it.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, stop.request)
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        stop.close()


def _check_options(workers: int, timeout: float, output_format: str, engine: str) -> None:
    if workers < 1:
        raise Failure(EXIT_INVALID, f"--workers {workers}: must be at least 1")
    if not timeout > 0:
        raise Failure(EXIT_INVALID, f"--timeout {timeout:g}: must be more than 0 seconds")
    if output_format not in FORMATS:
        raise Failure(EXIT_INVALID, f"--format {output_format}: allowed: {', '.join(FORMATS)}")
    if engine not in ENGINE_NAMES:
        raise Failure(EXIT_INVALID, f"--engine {engine}: allowed: {', '.join(ENGINE_NAMES)}")


def _check_output(source: Path, out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise Failure(EXIT_INVALID, f"-o {out_dir}: exists and is not a directory (give a "
                                     "directory for the reports; it is created when missing)")
    parent = out_dir.resolve().parent
    if not out_dir.exists() and not parent.is_dir():
        raise Failure(EXIT_INVALID, f"-o {out_dir}: directory {parent} does not exist")
    if source.is_dir() and source.resolve() == out_dir.resolve():
        raise Failure(EXIT_INVALID, f"-o {out_dir}: is the input directory (give another "
                                     "directory, so summaries are never read as profiles)")
    # What the batch writes in it must be of the kind it writes: a FIFO in a file's place would
    # block the run, a directory in one would fail it after all the work.
    for name, directory in ((REPORTS, True), (str(JOURNAL.parent), True), (str(JOURNAL), False),
                            *((summary, False) for summary in SUMMARIES)):
        path = out_dir / name
        try:
            mode = (os.stat if directory else os.lstat)(path).st_mode
        except FileNotFoundError:
            continue
        except OSError as error:
            raise Failure(EXIT_INVALID, f"-o {out_dir}: {name}: {error.strerror}") from None
        if not (stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode)):
            wanted = "a directory" if directory else "a regular file"
            raise Failure(EXIT_INVALID, f"-o {out_dir}: {name} is {describe_file_type(mode)}, "
                                        f"not {wanted} (move it away: the batch writes "
                                        f"{wanted} there)")


def _settings_digest(catalog: Catalog, engine: str, output_format: str) -> str:
    """What, besides its input, a journal entry's report depends on."""
    settings = {"engine": engine, "format": output_format, "rules": catalog.digest,
                "version": tool_version()}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _remove_temporary_files(out_dir: Path) -> None:
    """Delete temporary files a killed worker or an interrupted run left behind."""
    # Report names never start with a dot (hidden input files are skipped), so every dot file
    # in the reports directory is a temporary file of ``write_atomically``.
    leftovers = list((out_dir / REPORTS).glob(".*"))
    for name in SUMMARIES:
        leftovers += out_dir.glob(f".{name}.*")
    for path in leftovers:
        if not path.is_dir():
            path.unlink(missing_ok=True)


def _prepare(out_dir: Path) -> None:
    try:
        (out_dir / REPORTS).mkdir(parents=True, exist_ok=True)
        (out_dir / JOURNAL).parent.mkdir(exist_ok=True)
    except OSError as error:
        raise Failure(EXIT_INVALID, f"-o {out_dir}: cannot create: {error.strerror}") from None
    for directory in (out_dir, out_dir / REPORTS, (out_dir / JOURNAL).parent):
        check_directory_writable(directory, f"-o {out_dir}")


class _Run:
    """One run's bookkeeping: finished profiles, the journal and the progress bar."""

    def __init__(self, profiles: list[Profile], journal: Journal, settings: str,
                 bar: tqdm[Any], log: TextIO) -> None:
        self.profiles = profiles
        self.journal = journal
        self.settings = settings
        self.bar = bar
        self.log = log
        self.finished: dict[int, JournalEntry] = {}

    def record(self, outcome: Outcome) -> None:
        """Journal a finished profile (its report is already in place)."""
        profile = self.profiles[outcome.index]
        entry = JournalEntry(name=profile.name, digest=profile.digest, settings=self.settings,
                             status=outcome.status, decisions=outcome.decisions,
                             warnings=outcome.warnings, conflicts=outcome.conflicts,
                             error=outcome.error)
        self.journal.append(entry)
        self.finished[outcome.index] = entry
        self.bar.update(1)

    def notify(self, message: str) -> None:
        """A line on the log stream that does not tear the progress bar."""
        tqdm.write(f"advisor batch: {message}", file=self.log)

    @property
    def complete(self) -> bool:
        """Whether every profile is accounted for."""
        return len(self.finished) == len(self.profiles)


def _resume(run: _Run, reports: Path, output_format: str) -> set[str]:
    """Take over the profiles the journal says are done with the same input and settings and
    whose report exists; their names."""
    resumed = set()
    for profile in run.profiles:
        entry = run.journal.entries.get(profile.name)
        if (entry is not None and entry.status == "succeeded" and entry.digest == profile.digest
                and entry.settings == run.settings
                and (reports / f"{profile.name}.{output_format}").is_file()):
            run.finished[profile.index] = entry
            resumed.add(profile.name)
    run.bar.update(len(resumed))
    return resumed


def _remove_stale_reports(reports: Path, run: _Run, output_format: str) -> list[RemovedReport]:
    """Remove every file in ``reports`` that is not the report of a profile this complete run
    succeeded with, so a report left there always describes its profile's current input; what
    was removed and why."""
    status = {run.profiles[index].name: entry.status for index, entry in run.finished.items()}
    current = {f"{name}.{output_format}" for name, outcome in status.items()
               if outcome == "succeeded"}
    with os.scandir(reports) as listing:
        stale = sorted((entry for entry in listing
                        if entry.name not in current and not entry.name.startswith(".")
                        and not entry.is_dir(follow_symlinks=False)),
                       key=lambda entry: entry.name)
    removed = []
    for entry in stale:
        stem = os.path.splitext(entry.name)[0]
        outcome = status.get(stem)
        if outcome is None:
            reason = "no profile of this name in the input"
        elif outcome == "succeeded":
            reason = f"another format (this run wrote {stem}.{output_format})"
        else:
            reason = f"its profile {outcome.replace('_', ' ')} in this run"
        Path(entry.path).unlink(missing_ok=True)
        removed.append(RemovedReport(file=recorded_name(entry.name), reason=reason))
    return removed


def _evaluate(run: _Run, todo: list[int], workers: int, timeout: float,
              settings: WorkerSettings, stop: _StopRequest) -> None:
    chunk_size = max(1, min(MAX_CHUNK, len(todo) // (workers * CHUNKS_PER_WORKER)))
    with WorkerPool(min(workers, len(todo)), settings, run.profiles, todo, timeout, chunk_size,
                    run.notify) as pool:
        while not run.complete and not stop.requested:
            for outcome in pool.step([stop.fileno], MAX_WAIT_SECONDS):
                run.record(outcome)
        if run.complete:
            pool.close()
        else:
            for outcome in pool.kill():  # reports already in place are kept and journaled
                run.record(outcome)


def run_batch(
    source: Path | str,
    out_dir: Path | str,
    *,
    workers: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    output_format: str = "md",
    engine: str = "durable",
    rules: Path | str | None = None,
    restart: bool = False,
    evaluate: str = DEFAULT_EVALUATE,
    progress: bool | None = None,
    log: TextIO | None = None,
) -> BatchResult:
    """Evaluate every profile of ``source`` (a directory of requirement files or a ``.jsonl``
    file) into ``out_dir``: ``reports/<name>.<format>``, and ``summary.md`` plus
    ``summary.json`` once every profile is accounted for.

    ``workers`` processes (default: one per core) each evaluate with ``evaluate``, a
    ``"module:function"`` with the signature of ``evaluate_profile``; an evaluation longer than
    ``timeout`` seconds is killed and reported as timed out. Profiles already finished with the
    same input and settings (per ``out_dir``'s journal) are not evaluated again unless
    ``restart``. SIGINT or SIGTERM stops the run early (the result says so). Bad options or
    input raise ``advisor.cli_common.Failure`` (exit 2, or 3 when the rules do not compile).
    The progress bar (default: when stderr is a terminal) and notices go to ``log`` (stderr)."""
    source, out_dir = Path(source), Path(out_dir)
    log = log if log is not None else sys.stderr
    workers = workers if workers is not None else os.cpu_count() or 1
    _check_options(workers, timeout, output_format, engine)
    _check_output(source, out_dir)
    found = discover_input(source)
    profiles = found.profiles
    catalog = catalog_or_fail(str(rules) if rules is not None else None)
    advisor_or_fail(catalog, engine)  # rules that do not compile stop the run before any work
    resolve_function(evaluate)
    worker_settings = WorkerSettings(
        engine=engine, rules=str(rules) if rules is not None else None,
        output_format=output_format, reports=str(out_dir / REPORTS), evaluate=evaluate)
    _prepare(out_dir)
    show = progress if progress is not None else log.isatty()
    try:
        run, resumed = _execute(profiles, out_dir, _settings_digest(catalog, engine, output_format),
                                worker_settings, restart=restart, workers=workers,
                                timeout=timeout, progress=show, log=log)
        if not run.complete:
            return BatchResult(len(profiles), len(run.finished), None)
        removed = _remove_stale_reports(out_dir / REPORTS, run, output_format)
        summary = summarize(list(run.finished.values()), resumed,
                            source=clip(source.resolve().name), engine=engine,
                            output_format=output_format, ruleset_hash=catalog.digest,
                            skipped=[SkippedInput(name=item.name, reason=item.reason)
                                     for item in found.skipped],
                            removed_reports=removed)
        for name in SUMMARIES:
            write_atomically(out_dir / name, render_summary(summary, Path(name).suffix[1:]))
    except OSError as error:
        raise Failure(EXIT_INVALID, f"-o {out_dir}: cannot go on: {error}") from None
    return BatchResult(len(profiles), len(run.finished), summary)


def _execute(profiles: list[Profile], out_dir: Path, settings: str,
             worker_settings: WorkerSettings, *, restart: bool, workers: int, timeout: float,
             progress: bool, log: TextIO) -> tuple[_Run, set[str]]:
    """Resume from the journal, evaluate the rest until done or stopped; the run and the
    names of the resumed profiles."""
    try:
        journal = Journal(out_dir / JOURNAL, restart=restart)
    except JournalBusy:
        raise Failure(EXIT_INVALID, f"-o {out_dir}: another advisor batch is writing to this "
                                     "directory (wait for it, or choose another)") from None
    # Only now, with the journal locked, can no other run own a temporary file here.
    _remove_temporary_files(out_dir)
    bar = tqdm(total=len(profiles), disable=not progress, file=log, unit="profile",
               dynamic_ncols=True)
    run = _Run(profiles, journal, settings, bar, log)
    try:
        with _stop_on_signals() as stop:
            resumed = _resume(run, out_dir / REPORTS, worker_settings.output_format)
            todo = [profile.index for profile in profiles if profile.index not in run.finished]
            if todo:
                for name in SUMMARIES:  # a summary only ever describes a complete run
                    (out_dir / name).unlink(missing_ok=True)
                try:
                    _evaluate(run, todo, workers, timeout, worker_settings, stop)
                except PoolError as error:
                    raise Failure(EXIT_ENGINE, str(error)) from None
        journal.sync()
    finally:
        bar.close()
        _remove_temporary_files(out_dir)
        journal.close()
    return run, resumed
