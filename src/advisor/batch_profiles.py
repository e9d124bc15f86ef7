"""The profiles of a batch: every requirements file of a directory, or every line of a JSON
Lines file, each with the name its report gets and a digest of its raw bytes."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from advisor.batch_journal import recorded_name
from advisor.cli_common import EXIT_INVALID, Failure, describe_file_type

# Seconds one profile's evaluation may take before it is reported as timed out.
DEFAULT_TIMEOUT = 60.0

PROFILE_SUFFIXES = (".yaml", ".yml", ".json")
LINES_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class Profile:
    """One profile to evaluate: a requirements file (``path``) or one JSON line (``text``).

    ``origin`` is what error messages call it; ``digest`` is the SHA-256 of its raw bytes."""

    index: int
    name: str
    origin: str
    digest: str
    path: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class SkippedEntry:
    """An entry of the input directory that is not read, and why (``name`` as shown)."""

    name: str
    reason: str


@dataclass(frozen=True)
class BatchInput:
    """What a batch evaluates: its profiles, and the entries of its directory skipped without
    being opened (a directory, FIFO, device, socket, a symbolic link to one of these or to
    nothing, or a name that is not UTF-8)."""

    profiles: list[Profile]
    skipped: list[SkippedEntry]


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path``, opened only as a regular file: ``OSError`` otherwise. The open
    cannot block even if a FIFO took the file's place since it was listed."""
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return stream.read()


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")  # undecodable bytes are lone surrogates, which do not encode
    except UnicodeEncodeError:
        return False
    return True


def _skip_reason(entry: os.DirEntry[str]) -> str | None:
    """Why a directory entry is not read (None: it is a regular file, or a symbolic link to
    one); from its status alone, never by opening it."""
    try:
        own = entry.stat(follow_symlinks=False).st_mode
        if not stat.S_ISLNK(own):
            return None if stat.S_ISREG(own) else f"{describe_file_type(own)}, not a regular file"
        target = entry.stat(follow_symlinks=True).st_mode
    except FileNotFoundError:
        return "a symbolic link to nothing (broken)"
    except OSError as error:
        return f"cannot be examined: {error.strerror}"
    if stat.S_ISREG(target):
        return None
    return f"a symbolic link to {describe_file_type(target)}, not a regular file"


def _from_directory(directory: Path) -> BatchInput:
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as error:
        raise Failure(EXIT_INVALID, f"{directory}: cannot list: {error.strerror}") from None
    files: list[Path] = []
    skipped: list[SkippedEntry] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        # A name that is not UTF-8 could not name a report in a UTF-8 journal or summary.
        reason = (_skip_reason(entry) if _is_utf8(entry.name)
                  else "its name is not UTF-8 (rename it; reports are named after it)")
        if reason is not None:
            skipped.append(SkippedEntry(recorded_name(entry.name), reason))
        elif Path(entry.name).suffix in PROFILE_SUFFIXES:
            files.append(Path(entry.path))
    files.sort(key=lambda path: (path.stem, path.suffix))
    if not files:
        raise _no_profiles(directory, skipped)
    by_name: dict[str, list[Path]] = {}
    for path in files:
        by_name.setdefault(path.stem, []).append(path)
    clashes = [paths for paths in by_name.values() if len(paths) > 1]
    if clashes:
        listed = "; ".join(" and ".join(path.name for path in paths) for paths in clashes)
        raise Failure(EXIT_INVALID, f"{directory}: files that would write the same report: "
                                    f"{listed} (rename or remove one of each)")
    profiles: list[Profile] = []
    for path in files:
        try:
            raw = _read_regular(path)
        except OSError as error:
            # Unreadable, or no longer a regular file (a FIFO put in its place since it was
            # listed): skipped, never waited on.
            skipped.append(SkippedEntry(recorded_name(path.name),
                                        f"cannot be read: {error.strerror}"))
            continue
        profiles.append(Profile(index=len(profiles), name=path.stem, origin=str(path),
                                digest=_digest(raw), path=str(path)))
    if not profiles:
        raise _no_profiles(directory, skipped)
    return BatchInput(profiles, sorted(skipped, key=lambda item: item.name))


def _no_profiles(directory: Path, skipped: list[SkippedEntry]) -> Failure:
    listed = "; ".join(f"{item.name}: {item.reason}" for item in skipped[:3])
    suffixes = ", ".join("*" + suffix for suffix in PROFILE_SUFFIXES)
    return Failure(EXIT_INVALID, f"{directory}: no requirement files ({suffixes}) in this "
                                 "directory" + (f" (skipped {listed})" if listed else ""))


def _from_lines(file: Path) -> BatchInput:
    try:
        raw_lines = _read_regular(file).splitlines()
    except OSError as error:
        raise Failure(EXIT_INVALID, f"{file}: cannot read: {error.strerror}") from None
    profiles: list[Profile] = []
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        # Undecodable bytes stay in the text as replacement characters: the line then fails
        # as "not JSON" on its own instead of failing the whole batch.
        text = raw.decode("utf-8", errors="replace")
        profiles.append(Profile(index=len(profiles), name=f"line-{number:06d}",
                                origin=f"{file.name}:{number}", digest=_digest(raw), text=text))
    if not profiles:
        raise Failure(EXIT_INVALID, f"{file}: empty (expected one JSON object per line)")
    return BatchInput(profiles, [])


def discover_input(source: Path) -> BatchInput:
    """The profiles in a directory (``*.yaml``, ``*.yml``, ``*.json``, sorted by name; entries
    that are not regular files are skipped, unopened, and listed) or a ``.jsonl`` file (one per
    non-blank line); a ``Failure`` (exit 2) when there are none, when two files would give the
    same report name, or when ``source`` is neither."""
    if source.is_dir():
        return _from_directory(source)
    if not source.exists():
        raise Failure(EXIT_INVALID, f"{source}: no such file or directory")
    if source.is_file() and source.suffix == LINES_SUFFIX:
        return _from_lines(source)
    raise Failure(EXIT_INVALID, f"{source}: not a directory of requirement files or a "
                                 f"{LINES_SUFFIX} file (one JSON object per line)")


def discover_profiles(source: Path) -> list[Profile]:
    """The profiles of ``source``, as ``discover_input``."""
    return discover_input(source).profiles
