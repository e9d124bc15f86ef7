"""Worker processes for a batch: chunks of profiles out, outcomes back in small batches, a
per-evaluation time limit, and replacement of workers that hang or die.

Each worker has its own pipe (a worker killed mid-message breaks only its own pipe, and no lock
is shared between processes) and a shared slot saying which profile it is on and since when,
so the parent enforces the time limit without a message per profile. A hung evaluation may hold
the GIL inside the engine's C code, so it is stopped with SIGKILL from outside.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from advisor.batch_profiles import Profile
from advisor.batch_worker import (
    IDLE,
    SLOT_INDEX,
    SLOT_STARTED,
    Outcome,
    WorkerSettings,
    worker_main,
)

# A profile that was being evaluated when its worker died is tried this many times in all.
ATTEMPTS = 2
# Workers that die before they are ready, one after another, before the batch gives up.
STARTUP_FAILURES = 3
STOP_GRACE_SECONDS = 5.0


class PoolError(Exception):
    """Workers cannot be started (the message says why)."""


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    slot: ctypes.Array[Any]
    outstanding: list[int] = field(default_factory=list)
    ready: bool = False
    closed: bool = False

    def current(self) -> int | None:
        """The outstanding profile the worker is evaluating, if any."""
        index = int(self.slot[SLOT_INDEX])
        return index if index != IDLE and index in self.outstanding else None


class WorkerPool:
    """``size`` worker processes evaluating ``todo`` (indices into ``profiles``)."""

    def __init__(self, size: int, settings: WorkerSettings, profiles: Sequence[Profile],
                 todo: Sequence[int], timeout: float, chunk_size: int,
                 notify: Callable[[str], None]) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._size = size
        self._settings = settings
        self._profiles = profiles
        self._queue: deque[int] = deque(todo)
        self._timeout = timeout
        self._chunk_size = chunk_size
        self._notify = notify
        self._workers: list[_Worker] = []
        self._deaths: Counter[int] = Counter()
        self._startup_failures = 0

    def __enter__(self) -> WorkerPool:
        for _ in range(self._size):
            self._workers.append(self._spawn())
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def _spawn(self) -> _Worker:
        parent_end, child_end = self._context.Pipe(duplex=True)
        slot = self._context.RawArray(ctypes.c_double, 2)
        slot[SLOT_INDEX] = IDLE
        process = self._context.Process(target=worker_main, args=(child_end, slot, self._settings),
                                        name="advisor-batch-worker", daemon=True)
        # The child inherits the blocked signals, so Ctrl-C in a terminal (which reaches every
        # process of the group) cannot interrupt it while it imports; it unblocks them itself.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        child_end.close()
        return _Worker(process, parent_end, slot)

    def step(self, wake: Sequence[int], max_wait: float) -> list[Outcome]:
        """Send work to idle workers, wait for results, deaths, a deadline or a ``wake`` file
        descriptor (at most ``max_wait`` seconds), and return the outcomes that arrived."""
        self._dispatch()
        outcomes: list[Outcome] = []
        by_object: dict[Any, _Worker] = {}
        for worker in self._workers:
            by_object[worker.process.sentinel] = worker
            if not worker.closed:
                by_object[worker.connection] = worker
        ready = wait([*by_object, *wake], timeout=self._wait_time(max_wait))
        exited = []
        for item in ready:
            owner = by_object.get(item)
            if owner is None:
                continue
            if item is owner.connection:
                self._receive(owner, outcomes)
            else:
                exited.append(owner)
        for worker in exited:
            self._lost(worker, outcomes)
        self._enforce_time_limit(outcomes)
        return outcomes

    def kill(self) -> list[Outcome]:
        """Stop every worker at once (SIGKILL); the outcomes they had already sent."""
        outcomes: list[Outcome] = []
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.kill()
        for worker in self._workers:
            worker.process.join()
            self._receive(worker, outcomes)
            self._close(worker)
        self._workers = []
        return outcomes

    def close(self) -> None:
        """Ask idle workers to exit, and kill any that do not within a few seconds (and at
        once those still starting: they hold no work)."""
        for worker in self._workers:
            if not worker.ready:
                worker.process.kill()
                continue
            with contextlib.suppress(OSError):  # one that died is killed below anyway
                worker.connection.send(None)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        self.kill()

    def _wait_time(self, max_wait: float) -> float:
        now = time.monotonic()
        wait_time = max_wait
        for worker in self._workers:
            if worker.current() is not None:
                deadline = worker.slot[SLOT_STARTED] + self._timeout
                wait_time = min(wait_time, deadline - now)
        return max(0.0, wait_time)

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not self._queue:
                return
            if not worker.ready or worker.outstanding or worker.closed:
                continue
            # Only an idle worker (blocked reading its pipe) is sent work, so sending never
            # waits on a worker that is busy or hung.
            count = min(self._chunk_size, len(self._queue))
            worker.outstanding = [self._queue.popleft() for _ in range(count)]
            # If it died, its exit is noticed next and its chunk goes to another worker.
            with contextlib.suppress(OSError):
                worker.connection.send([self._profiles[index] for index in worker.outstanding])

    def _receive(self, worker: _Worker, outcomes: list[Outcome]) -> None:
        """Read every complete message waiting on the worker's pipe."""
        while not worker.closed:
            try:
                if not worker.connection.poll():
                    return
                kind, payload = worker.connection.recv()
            except (EOFError, OSError):
                # The worker exited, perhaps mid-message; its exit is handled via its sentinel.
                worker.closed = True
                return
            if kind == "done":
                for outcome in payload:
                    if outcome.index in worker.outstanding:
                        worker.outstanding.remove(outcome.index)
                        outcomes.append(outcome)
            elif kind == "ready":
                worker.ready = True
                self._startup_failures = 0
            else:
                raise PoolError(f"a worker could not start: {payload}")

    def _lost(self, worker: _Worker, outcomes: list[Outcome]) -> None:
        """A worker exited unasked: retry the profile it was on once, requeue the rest of its
        chunk, and start a replacement."""
        self._receive(worker, outcomes)
        worker.process.join()
        code = worker.process.exitcode or 0
        reason = (f"worker exited with signal {-code}" if code < 0
                  else f"worker exited with code {code}")
        current = worker.current()
        if current is not None:
            worker.outstanding.remove(current)
            self._deaths[current] += 1
            name = self._profiles[current].name
            if self._deaths[current] >= ATTEMPTS:
                outcomes.append(Outcome(current, "failed", error=reason))
                self._notify(f"{name}: {reason}, again; reported as failed")
            else:
                self._queue.appendleft(current)
                self._notify(f"{name}: {reason}; trying it again in a new worker")
        else:
            self._notify(f"{reason}{'' if worker.ready else ' while starting'}; "
                         "starting a new worker")
        if not worker.ready:
            self._startup_failures += 1
            if self._startup_failures >= STARTUP_FAILURES:
                raise PoolError(f"workers exit before they are ready ({reason})")
        self._replace(worker)

    def _enforce_time_limit(self, outcomes: list[Outcome]) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            current = worker.current()
            if current is None or now - worker.slot[SLOT_STARTED] < self._timeout:
                continue
            worker.process.kill()
            worker.process.join()
            self._receive(worker, outcomes)  # it may have finished just before the kill
            if current in worker.outstanding:
                worker.outstanding.remove(current)
                outcomes.append(Outcome(current, "timed_out",
                                        error=f"timed out after {self._timeout:g} s"))
                self._notify(f"{self._profiles[current].name}: timed out after "
                             f"{self._timeout:g} s; its worker was killed and replaced")
            self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        # The rest of its chunk goes back to the front of the queue, in order.
        self._queue.extendleft(reversed(worker.outstanding))
        worker.outstanding = []
        self._close(worker)
        self._workers[self._workers.index(worker)] = self._spawn()

    @staticmethod
    def _close(worker: _Worker) -> None:
        worker.connection.close()
        worker.closed = True
        worker.process.close()
