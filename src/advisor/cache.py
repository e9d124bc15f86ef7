"""A per-user cache for work that depends only on file contents (validated catalogs).
``ADVISOR_CACHE_DIR`` moves it; ``ADVISOR_CACHE_DIR=off`` disables it.

Entries are keyed by what identifies their inputs (for a catalog, each rule file's name, size,
inode and times: ``advisor.catalog``) plus the tool, Python and pydantic versions and the
package's own source, so a stale entry can never be read. Any cache failure falls back to
doing the work.

Nothing read from here can run code: entries are bytes that callers parse as data (the catalog
is JSON, validated again on reading); never pickle, marshal or compiled templates. Beyond that,
the directory is the trust boundary for what an entry says. It is created 0700 and used only
while it belongs to the current user and neither group nor others can write it; otherwise the
run goes on without it after a one-line warning. An entry is opened without following a symlink
and read only when it is a regular file of the same owner that neither group nor others can
write. Each entry starts with a SHA-256 of its payload, so a truncated or altered entry is a
miss: it is rebuilt and overwritten, never used.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import pydantic

KEEP = 8
# Format name and version: an entry written by another layout is never mistaken for this one.
_MAGIC = b"advisor-cache/2 sha256:"
_DIGEST_LENGTH = 64
_HEADER_LENGTH = len(_MAGIC) + _DIGEST_LENGTH + 1
# Entries of earlier versions, in a format that ran code when read: deleted, never opened.
_LEGACY_SUFFIX = ".pickle"

# Directories already warned about, so a run prints the warning once, not once per entry.
_WARNED: set[str] = set()


def cache_dir() -> Path | None:
    """The cache directory, created on demand, or None when caching is off, impossible or the
    directory is not safe to read (then a one-line warning goes to stderr)."""
    configured = os.environ.get("ADVISOR_CACHE_DIR")
    if configured == "off":
        return None
    if configured:
        base = Path(configured)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "advisor"
    try:
        # 0700 for the directory itself; parents made here get the usual mode (~/.cache).
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = os.stat(base)
    except OSError:
        return None
    reason = refusal(status, os.geteuid())
    if reason is not None:
        _warn(base, reason)
        return None
    return base if os.access(base, os.W_OK) else None


def refusal(status: os.stat_result, uid: int, kind: str = "directory") -> str | None:
    """Why a cache directory or entry with this ``os.stat`` result must not be trusted by the
    user ``uid``, or None when it may be."""
    wanted = stat.S_ISDIR if kind == "directory" else stat.S_ISREG
    if not wanted(status.st_mode):
        return f"it is not a {kind}"
    if status.st_uid != uid:
        return f"it belongs to uid {status.st_uid}, not to the current user (uid {uid})"
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"group or others can write it (mode {stat.S_IMODE(status.st_mode):04o})"
    return None


def _warn(directory: Path, reason: str) -> None:
    if str(directory) in _WARNED:
        return
    _WARNED.add(str(directory))
    print(f"advisor: warning: not using the cache directory {directory}: {reason}; running "
          f"without a cache (make it yours with mode 0700, or set ADVISOR_CACHE_DIR)",
          file=sys.stderr)


@functools.lru_cache(maxsize=1)
def _code_key() -> str:
    """A digest of the package's own source: an entry is only reused by the code that wrote
    it, even between builds that share a version number."""
    hasher = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        hasher.update(path.relative_to(package).as_posix().encode())
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


@functools.lru_cache(maxsize=1)
def _environment_key() -> str:
    try:
        version = metadata.version("advisor")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "unknown"
    return f"{version}|{sys.version}|{pydantic.VERSION}|{_code_key()}"


def key(*parts: str) -> str:
    """A cache key over the given parts and the running environment."""
    return hashlib.sha256("\0".join((_environment_key(), *parts)).encode()).hexdigest()


def _path(directory: Path, name: str) -> Path:
    return directory / f"{name}.entry"


def load(name: str) -> bytes | None:
    """The payload stored under ``name``, or None when there is none that can be trusted."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        # O_NOFOLLOW: a symlink planted in the directory is not followed; O_NONBLOCK: a FIFO
        # planted there does not hang the open (it is then refused as not a regular file).
        handle = os.open(_path(directory, name),
                         os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as stream:
        try:
            if refusal(os.fstat(handle), os.geteuid(), "file") is not None:
                return None
            data = stream.read()
        except OSError:
            return None
    return _payload(data)


def _payload(data: bytes) -> bytes | None:
    """The payload of an entry whose digest matches it, else None."""
    header, payload = data[:_HEADER_LENGTH], data[_HEADER_LENGTH:]
    if not (header.startswith(_MAGIC) and header.endswith(b"\n")):
        return None
    recorded = header[len(_MAGIC):-1]
    return payload if recorded == hashlib.sha256(payload).hexdigest().encode() else None


def store(name: str, payload: bytes, keep: int | None = KEEP) -> None:
    """Store ``payload`` under ``name`` atomically; failures are ignored. With ``keep``, only
    the ``keep`` most recent entries of the name's kind (its text before the first '-') stay."""
    directory = cache_dir()
    if directory is None:
        return
    temporary = ""
    try:
        # mkstemp creates the file 0600 and never follows or reuses an existing name.
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        with os.fdopen(handle, "wb") as stream:
            stream.write(_MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n")
            stream.write(payload)
        os.replace(temporary, _path(directory, name))
    except Exception:  # caching is an optimisation only
        if temporary:
            Path(temporary).unlink(missing_ok=True)
        return
    if keep is not None:
        _prune(directory, name.split("-", 1)[0], keep)


def _prune(directory: Path, kind: str, keep: int) -> None:
    """Keep only the most recently written entries of one kind; drop legacy entries."""
    try:
        for legacy in directory.glob(f"{kind}-*{_LEGACY_SUFFIX}"):
            legacy.unlink(missing_ok=True)
        entries = sorted(directory.glob(f"{kind}-*.entry"), key=lambda p: p.lstat().st_mtime)
        for stale in entries[:-keep]:
            stale.unlink(missing_ok=True)
    except OSError:
        return
