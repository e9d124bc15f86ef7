"""The journal of a batch run: one JSON line per finished profile, appended as each finishes,
so an interrupted run can be resumed without redoing what is done."""

from __future__ import annotations

import fcntl
import os
import re
import stat
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from advisor.yamlio import clip as clip_text

Status = Literal["succeeded", "failed", "timed_out"]

# What a batch records of anything it echoes from its input (a name, a value inside an error
# message): a profile may hold a 200 MB string, and the journal and summaries must stay small.
MAX_ECHO_CHARACTERS = 200
MAX_LINE_CHARACTERS = 1_000
MAX_MESSAGE_LINES = 20
# Text at most this much over a limit is kept whole: room for the mark a clip appends, so
# clipping clipped text (the worker clips, and so does the journal) changes nothing.
CLIP_MARK_ROOM = 40
READ_CHUNK_BYTES = 1 << 20
_LONG_WORD = re.compile(rf"\S{{{MAX_ECHO_CHARACTERS + CLIP_MARK_ROOM + 1},}}")


def clip(text: str, limit: int = MAX_ECHO_CHARACTERS) -> str:
    """``text`` as recorded: when it is longer than ``limit`` (and the room for the mark), its
    first ``limit`` characters, an ellipsis and its length."""
    return text if len(text) <= limit + CLIP_MARK_ROOM else clip_text(text, limit)


def recorded_name(name: str) -> str:
    """A file name as recorded: bytes that are not UTF-8 (kept by Python as lone surrogates,
    which a UTF-8 journal or summary cannot hold) escaped as ``\\xff``, then clipped."""
    return clip(os.fsencode(name).decode("utf-8", errors="backslashreplace"))


def clip_message(message: str) -> str:
    """An error message as recorded: every long run of characters without a space (an echoed
    value) clipped to ``MAX_ECHO_CHARACTERS``, every line to ``MAX_LINE_CHARACTERS``, and at
    most ``MAX_MESSAGE_LINES`` lines; a message of ordinary length is unchanged."""
    lines = message.split("\n")
    if len(lines) > MAX_MESSAGE_LINES:
        lines = [*lines[:MAX_MESSAGE_LINES - 1],
                 f"\u2026 ({len(lines) - MAX_MESSAGE_LINES + 1:,} more lines)"]
    return "\n".join(clip(_LONG_WORD.sub(lambda match: clip(match.group()), line),
                          MAX_LINE_CHARACTERS) for line in lines)


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

    @field_validator("error")
    @classmethod
    def _clip_error(cls, error: str | None) -> str | None:
        return clip_message(error) if error is not None else None


class JournalBusy(Exception):
    """Another process is writing the same journal."""


class Journal:
    """An append-only journal file, locked against a second writer; ``entries`` holds the
    last entry read for each name."""

    def __init__(self, path: Path, restart: bool = False) -> None:
        self.path = path
        self.entries: dict[str, JournalEntry] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        # Never through a symbolic link, and never waiting on a FIFO put in its place.
        handle = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                         | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            os.close(handle)
            raise OSError(f"{path}: not a regular file")
        self._stream: IO[str] = os.fdopen(handle, "a", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._stream.close()
            raise JournalBusy(str(path)) from None
        if restart:
            self._stream.truncate(0)
        else:
            self._read(handle)

    def _read(self, handle: int) -> None:
        raw = bytearray()
        while chunk := os.pread(handle, READ_CHUNK_BYTES, len(raw)):
            raw += chunk
        complete = raw[:raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):
            # A line torn by a kill mid-write: drop it so the next line starts on its own.
            os.ftruncate(handle, len(complete))
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
