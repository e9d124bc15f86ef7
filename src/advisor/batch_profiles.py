"""The profiles of a batch: every requirements file of a directory, or every line of a JSON
Lines file, each with the name its report gets and a digest of its raw bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from advisor.cli_common import EXIT_INVALID, Failure

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


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _from_directory(directory: Path) -> list[Profile]:
    files = sorted((path for path in directory.iterdir()
                    if path.suffix in PROFILE_SUFFIXES and not path.name.startswith(".")
                    and path.is_file()), key=lambda path: (path.stem, path.suffix))
    if not files:
        raise Failure(EXIT_INVALID, f"{directory}: no requirement files "
                                     f"({', '.join('*' + suffix for suffix in PROFILE_SUFFIXES)}) "
                                     "in this directory")
    by_name: dict[str, list[Path]] = {}
    for path in files:
        by_name.setdefault(path.stem, []).append(path)
    clashes = [paths for paths in by_name.values() if len(paths) > 1]
    if clashes:
        listed = "; ".join(" and ".join(path.name for path in paths) for paths in clashes)
        raise Failure(EXIT_INVALID, f"{directory}: files that would write the same report: "
                                     f"{listed} (rename or remove one of each)")
    profiles = []
    for index, path in enumerate(files):
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise Failure(EXIT_INVALID, f"{path}: cannot read: {error.strerror}") from None
        profiles.append(Profile(index=index, name=path.stem, origin=str(path),
                                digest=_digest(raw), path=str(path)))
    return profiles


def _from_lines(file: Path) -> list[Profile]:
    try:
        raw_lines = file.read_bytes().splitlines()
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
    return profiles


def discover_profiles(source: Path) -> list[Profile]:
    """The profiles in a directory (``*.yaml``, ``*.yml``, ``*.json``, sorted by name) or a
    ``.jsonl`` file (one per non-blank line); a ``Failure`` (exit 2) when there are none, when
    two files would give the same report name, or when ``source`` is neither."""
    if source.is_dir():
        return _from_directory(source)
    if not source.exists():
        raise Failure(EXIT_INVALID, f"{source}: no such file or directory")
    if source.is_file() and source.suffix == LINES_SUFFIX:
        return _from_lines(source)
    raise Failure(EXIT_INVALID, f"{source}: not a directory of requirement files or a "
                                 f"{LINES_SUFFIX} file (one JSON object per line)")
