"""A per-user cache for work that depends only on file contents: validated catalogs and
compiled templates. ``ADVISOR_CACHE_DIR`` moves it; ``ADVISOR_CACHE_DIR=off`` disables it.

Entries are keyed by a hash of every input byte plus the tool, Python and pydantic versions, so
a stale entry can never be read. Any cache failure falls back to doing the work.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pydantic

KEEP = 8


def cache_dir() -> Path | None:
    """The cache directory, created on demand, or None when caching is off or impossible."""
    configured = os.environ.get("ADVISOR_CACHE_DIR")
    if configured == "off":
        return None
    if configured:
        base = Path(configured)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "advisor"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return base if os.access(base, os.W_OK) else None


@functools.lru_cache(maxsize=1)
def _code_key() -> str:
    """A digest of the package's own source: a cached object is only reused by the code that
    pickled it, even between builds that share a version number."""
    hasher = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        hasher.update(path.relative_to(package).as_posix().encode())
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


def _environment_key() -> str:
    try:
        version = metadata.version("advisor")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "unknown"
    return f"{version}|{sys.version}|{pydantic.VERSION}|{_code_key()}"


def key(*parts: str) -> str:
    """A cache key over the given parts and the running environment."""
    return hashlib.sha256("\0".join((_environment_key(), *parts)).encode()).hexdigest()


def load(name: str) -> Any | None:
    """The cached object stored under ``name``, or None."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        with (directory / f"{name}.pickle").open("rb") as stream:
            return pickle.load(stream)
    except Exception:  # a missing or unreadable entry means: recompute
        return None


def store(name: str, value: Any) -> None:
    """Store ``value`` under ``name`` atomically; failures are ignored."""
    directory = cache_dir()
    if directory is None:
        return
    temporary = ""
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, directory / f"{name}.pickle")
    except Exception:  # caching is an optimisation only
        if temporary:
            Path(temporary).unlink(missing_ok=True)
        return
    _prune(directory, name.split("-", 1)[0])


def _prune(directory: Path, kind: str, keep: int = KEEP) -> None:
    """Keep only the most recently written entries of one kind."""
    try:
        entries = sorted(directory.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime)
        for stale in entries[:-keep]:
            stale.unlink(missing_ok=True)
    except OSError:
        return
