"""``advisor serve --workers N``: a parent that forks N worker processes, replaces a worker that
ends, and stops them all on SIGINT or SIGTERM. The parent never serves.

The parent loads the rules and compiles the engine before it forks, so every worker starts
with them already in memory (shared with the parent until either writes to a page) and is
ready in milliseconds. Forking is safe only while the parent runs a single thread: a child
inherits every lock, including those a thread that does not exist in the child holds, so
``run_workers`` refuses to fork otherwise. The workers start their own threads.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import FrameType

MAX_WORKERS = 64
# Worker exits the parent answers by starting another before it gives up: a worker that dies
# at once, every time, would otherwise be replaced for ever.
RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 60.0
# How long the parent sleeps between looking at its workers when no signal wakes it.
POLL_SECONDS = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_WAKE_SIGNALS = {*STOP_SIGNALS, signal.SIGCHLD}


class WorkersFailed(Exception):
    """Workers kept ending soon after they were started, or a worker could not be started
    (the message says what happened); every worker has been stopped."""


def fork_available() -> bool:
    """Whether this platform can fork a process (POSIX), which more than one worker needs."""
    return hasattr(os, "fork")


def thread_count() -> int:
    """The threads this process runs: the kernel's count where ``/proc`` has it, so that
    threads started by C extensions count too; else the ones Python knows."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    try:
        return len(os.listdir(tasks))
    except OSError:
        return threading.active_count()


def describe_exit(status: int) -> str:
    """How a process ended, from its ``waitpid`` status: 'exited with status 1', 'was killed
    by signal 9 (SIGKILL)'."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            return f"was killed by signal {number}"
        return f"was killed by signal {number} ({name})"
    return f"exited with status {os.WEXITSTATUS(status)}"


def run_workers(count: int, work: Callable[[int], None], notify: Callable[[str], None],
                on_stop: Callable[[], None] | None = None) -> None:
    """Run ``work(slot)`` in ``count`` forked processes, slots 0 to ``count - 1``, until this
    process gets SIGINT or SIGTERM, replacing each that ends meanwhile by a process with the
    same slot; return once every worker has stopped.

    On the first signal each worker gets SIGTERM and may finish what it is doing, and then
    ``on_stop`` is called (no worker is started after it); on a second signal, SIGKILL.
    ``notify`` is told, in one line each, when a worker ends and is replaced.
    ``WorkersFailed`` when more than ``RESTART_LIMIT`` workers end within
    ``RESTART_WINDOW_SECONDS`` or a process cannot be forked; ``RuntimeError`` when this
    process runs more than one thread."""
    if not 1 <= count <= MAX_WORKERS:
        raise ValueError(f"count must be 1 to {MAX_WORKERS}, got {count}")
    threads = thread_count()
    if threads != 1:
        raise RuntimeError(f"cannot fork workers from a process running {threads} threads "
                           "(a worker would inherit locks that no thread of its own releases)")
    _Supervisor(count, work, notify, on_stop).run()


class _Supervisor:
    def __init__(self, count: int, work: Callable[[int], None], notify: Callable[[str], None],
                 on_stop: Callable[[], None] | None) -> None:
        self._count = count
        self._work = work
        self._notify = notify
        self._on_stop_hook = on_stop
        self._workers: dict[int, int] = {}  # process id -> slot
        self._stop_requests = 0
        self._exits: deque[float] = deque()  # when workers ended unasked, within the window
        self._wake_read = self._wake_write = -1

    def run(self) -> None:
        # A signal handler written in Python runs only between bytecodes of the main thread,
        # and a system call it interrupts is retried; the C handler also writes a byte to the
        # wake-up pipe, which is what ends the parent's wait.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        previous = {number: signal.signal(number, self._on_stop_signal)
                    for number in STOP_SIGNALS}
        previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _ignore)
        previous_wakeup = signal.set_wakeup_fd(self._wake_write)
        try:
            # What the parent holds now lives as long as the workers; frozen, no collection in
            # a worker touches it, so its pages stay shared.
            gc.freeze()
            for slot in range(self._count):
                self._start(slot)
            while not self._stop_requests:
                self._reap(stopping=False)
                if not self._stop_requests:
                    self._wait()
        finally:
            self._stop()
            signal.set_wakeup_fd(previous_wakeup)
            for number, handler in previous.items():
                if handler is not None:  # None: not set from Python, so left as it is
                    signal.signal(number, handler)
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _on_stop_signal(self, number: int, frame: FrameType | None) -> None:
        self._stop_requests += 1
        if self._stop_requests > 1:  # asked again while waiting: stop now
            self._signal_all(signal.SIGKILL)

    def _start(self, slot: int) -> None:
        # Blocked across the fork, so the child replaces the parent's handlers before any
        # stop signal reaches it.
        signal.pthread_sigmask(signal.SIG_BLOCK, _WAKE_SIGNALS)
        try:
            sys.stdout.flush()
            sys.stderr.flush()  # else the child would write the parent's buffered text again
            try:
                pid = os.fork()
            except OSError as error:  # e.g. the user's process limit (ulimit -u) reached
                raise WorkersFailed(f"cannot start a worker process: {error.strerror}; "
                                    "stopping") from None
            if pid == 0:
                self._become_worker(slot)  # never returns
            self._workers[pid] = slot
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _WAKE_SIGNALS)

    def _become_worker(self, slot: int) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            os.close(self._wake_read)
            os.close(self._wake_write)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # Until the server installs its own handlers (and again once it has stopped and
            # restored these) there is nothing in flight, so a stop signal ends the worker.
            for number in STOP_SIGNALS:
                signal.signal(number, _exit_now)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _WAKE_SIGNALS)
            self._work(slot)
            code = 0
        except SystemExit as error:
            code = error.code if isinstance(error.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            _flush()
            os._exit(code)

    def _wait(self) -> None:
        """Sleep until a signal arrives or ``POLL_SECONDS`` pass."""
        select.select([self._wake_read], [], [], POLL_SECONDS)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_read, 512):
                pass

    def _reap(self, stopping: bool) -> None:
        """Collect every worker that has ended; unless ``stopping``, start one in its place."""
        while self._workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self._workers.clear()
                return
            if pid == 0:
                return
            if pid not in self._workers:
                continue
            slot = self._workers.pop(pid)
            if stopping or self._stop_requests:
                continue
            self._replace(pid, slot, status)

    def _replace(self, pid: int, slot: int, status: int) -> None:
        now = time.monotonic()
        self._exits.append(now)
        while self._exits and now - self._exits[0] > RESTART_WINDOW_SECONDS:
            self._exits.popleft()
        how = describe_exit(status)
        if len(self._exits) > RESTART_LIMIT:
            raise WorkersFailed(
                f"workers keep ending: {len(self._exits)} within "
                f"{RESTART_WINDOW_SECONDS:.0f} s, the last (process {pid}) {how}; stopping "
                "(the log above says why)")
        self._start(slot)
        self._notify(f"advisor: worker process {pid} {how}; started another in its place "
                     f"({len(self._exits)} of at most {RESTART_LIMIT} replacements within "
                     f"{RESTART_WINDOW_SECONDS:.0f} s)")

    def _stop(self) -> None:
        """Ask every worker to stop (SIGTERM) and wait until all have."""
        self._signal_all(signal.SIGTERM)
        if self._on_stop_hook is not None:
            self._on_stop_hook()
        while self._workers:
            self._reap(stopping=True)
            if self._workers:
                self._wait()

    def _signal_all(self, number: int) -> None:
        for pid in list(self._workers):
            with contextlib.suppress(ProcessLookupError):  # an unreaped one is still there
                os.kill(pid, number)


def _ignore(number: int, frame: FrameType | None) -> None:
    """SIGCHLD's handler: its only work is the wake-up byte the C handler writes."""


def _exit_now(number: int, frame: FrameType | None) -> None:
    _flush()
    os._exit(0)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        # Closed, or interrupted mid-write by the handler that calls this.
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            stream.flush()
