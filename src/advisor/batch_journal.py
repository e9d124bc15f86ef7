"""The journal of a batch run: one JSON line per finished profile, appended as each finishes,
so an interrupted run can be resumed without redoing what is done."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

Status = Literal["succeeded", "failed", "timed_out"]


class JournalEntry(BaseModel):
    """What one finished profile gave: enough to write the batch summary without its report.

    ``settings`` identifies the engine, format and rule set it was evaluated with; ``digest``
    is the SHA-256 of the profile's raw bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    digest: str
    settings: str
    status: Status
    decisions: dict[str, str] = {}
    warnings: list[str] = []
    conflicts: list[str] = []
    error: str | None = None


class JournalBusy(Exception):
    """Another process is writing the same journal."""


class Journal:
    """An append-only journal file, locked against a second writer; ``entries`` holds the
    last entry read for each name."""

    def __init__(self, path: Path, restart: bool = False) -> None:
        self.path = path
        self.entries: dict[str, JournalEntry] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stream: IO[str] = path.open("a", encoding="utf-8")
        try:
            fcntl.flock(self._stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._stream.close()
            raise JournalBusy(str(path)) from None
        if restart:
            self._stream.truncate(0)
        else:
            self._read()

    def _read(self) -> None:
        raw = self.path.read_bytes()
        complete = raw[:raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):
            # A line torn by a kill mid-write: drop it so the next line starts on its own.
            os.truncate(self.path, len(complete))
        for line in complete.splitlines():
            try:
                entry = JournalEntry.model_validate_json(line)
            except ValidationError:
                continue  # a damaged line only means that profile is evaluated again
            self.entries[entry.name] = entry

    def append(self, entry: JournalEntry) -> None:
        """Record a finished profile; the line reaches the file before this returns."""
        self._stream.write(entry.model_dump_json() + "\n")
        self._stream.flush()
        self.entries[entry.name] = entry

    def close(self) -> None:
        """Close the file; later appends fail."""
        self._stream.close()

    def sync(self) -> None:
        """Make the appended lines durable (once, when the run stops)."""
        self._stream.flush()
        os.fsync(self._stream.fileno())
