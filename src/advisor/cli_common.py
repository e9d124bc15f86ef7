"""What every subcommand shares: exit codes, the user-error exception, whole-or-nothing output
and loading the rules with their errors reported."""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import stat
import sys
from pathlib import Path

from advisor.catalog import Catalog, CatalogError, load_catalog
from advisor.engine import ENGINE_NAMES
from advisor.engine.base import CompileError, EngineError
from advisor.inputs import InputError, read_requirements
from advisor.models.report import Report
from advisor.models.requirements import Requirements
from advisor.paths import rules_dir
from advisor.pipeline import Advisor, check_components

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_ENGINE = 3


def add_engine_option(parser: argparse.ArgumentParser) -> None:
    """The ``--engine`` option: which rule engine backend evaluates the rules."""
    parser.add_argument("--engine", choices=ENGINE_NAMES, default="durable",
                        help="rule engine backend (default: durable)")


def add_rules_option(parser: argparse.ArgumentParser) -> None:
    """The ``--rules`` option: a rules directory other than the bundled one."""
    parser.add_argument("--rules", help="rules directory (default: the bundled rules)")


class Failure(Exception):
    """A user's mistake or an engine failure: printed as one message, never a traceback."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# Random temporary names tried before giving up (a clash is a one in four billion chance).
TEMPORARY_ATTEMPTS = 100
# Characters of the target's name kept in its temporary file's name, so the temporary name
# stays under the file system's limit (255 bytes) even for a long name in a wide script.
TEMPORARY_NAME_CHARACTERS = 48


def describe_file_type(mode: int) -> str:
    """What a file of this ``st_mode`` is, for messages: 'a regular file', 'a FIFO', ..."""
    kinds = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"),
             (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _existing_regular_file(path: Path, shown: str) -> os.stat_result | None:
    """The status of ``path`` when it is a regular file, None when it does not exist; a
    ``Failure`` for anything else. Never follows a symbolic link and never opens the path
    (opening a FIFO blocks, opening a device can act on it)."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Failure(EXIT_INVALID, f"{shown}: cannot write: {error.strerror}") from None
    if stat.S_ISLNK(status.st_mode):
        raise Failure(EXIT_INVALID, f"{shown}: is not a regular file (it is a symbolic link; "
                                    "give the path of the file it points to)")
    if not stat.S_ISREG(status.st_mode):
        raise Failure(EXIT_INVALID, f"{shown}: is not a regular file (it is "
                                    f"{describe_file_type(status.st_mode)}; give the path of "
                                    "a file to create or replace)")
    return status


def _create_temporary(directory: Path, name: str, shown: str) -> tuple[int, Path]:
    """A new, empty dot file for ``name`` in ``directory`` (batch clean-up finds it by the
    dot), open for writing. Its mode is 0666 less the umask, as for any file a program makes."""
    if not directory.is_dir():
        raise Failure(EXIT_INVALID, f"{shown}: directory {Path(os.path.abspath(directory))} "
                                    "does not exist")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(TEMPORARY_ATTEMPTS):
        temporary = directory / f".{name[:TEMPORARY_NAME_CHARACTERS]}.{secrets.token_hex(4)}"
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
        except OSError as error:
            where = Path(os.path.abspath(directory))
            raise Failure(EXIT_INVALID, f"{shown}: cannot create a file in {where}: "
                                        f"{error.strerror}") from None
    raise Failure(EXIT_INVALID, f"{shown}: cannot create a temporary file in {directory}")


def write_atomically(path: Path, text: str, shown: str | None = None) -> None:
    """Write ``text`` to the regular file ``path`` whole or not at all (a temporary file
    beside it, then a rename); a ``Failure`` naming ``shown`` (default: the path) when the
    path is not a regular file (a directory, FIFO, device, socket or symbolic link: refused,
    never opened) or cannot be written, with no temporary file left behind.

    A new file gets mode 0666 less the umask; a replaced file keeps its permission bits."""
    shown = shown if shown is not None else str(path)
    existing = _existing_regular_file(path, shown)
    handle, temporary = _create_temporary(path.parent, path.name, shown)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            if existing is not None:  # before any byte is written: a private file stays so
                os.fchmod(stream.fileno(), stat.S_IMODE(existing.st_mode) & 0o777)
            stream.write(text)
        # Looked at again just before the rename, which would replace whatever is there.
        _existing_regular_file(path, shown)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise Failure(EXIT_INVALID, f"{shown}: cannot write: {error.strerror}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _names_a_directory(value: str) -> bool:
    # pathlib drops a trailing slash, which would turn "out/" into a file named "out".
    return value.endswith(("/", os.sep)) or Path(value).name in ("", ".", "..")


def check_writable(option: str, value: str | None) -> None:
    """Refuse, before any work is done, an output path that could not be written: one naming
    a directory, an existing file that is not a regular file, a missing directory, or a
    directory where no file can be created (tried with an empty temporary file)."""
    if value is None or value == "-":
        return
    shown = f"{option} {value}"
    if _names_a_directory(value):
        raise Failure(EXIT_INVALID, f"{shown}: is not a regular file (it names a directory; "
                                    "give the path of a file to create or replace)")
    path = Path(value)
    _existing_regular_file(path, shown)
    check_directory_writable(path.parent, shown)


def check_directory_writable(directory: Path, shown: str) -> None:
    """A ``Failure`` naming ``shown`` unless a file can be created in ``directory`` (tried with
    an empty temporary file, removed at once: permissions alone do not tell, e.g. for root or
    on a read-only file system)."""
    handle, temporary = _create_temporary(directory, "probe", shown)
    os.close(handle)
    temporary.unlink(missing_ok=True)


def emit(text: str, output: str | None, option: str = "-o") -> None:
    """Write to the file ``output`` (as ``write_atomically``; messages name ``option``), or to
    stdout when it is None or '-'."""
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    if _names_a_directory(output):
        check_writable(option, output)  # raises: says why
    write_atomically(Path(output), text, f"{option} {output}")


def keep_for_the_process() -> None:
    """Leave every object alive now out of the cyclic collector's scans from here on.

    Called once the rules are loaded and once they are compiled: those objects (about a
    hundred thousand) live as long as the process, and each full collection would walk them
    again. Freezing them cut the first report of a start by about 80 ms of its 180 ms and
    loading and compiling by about 50 ms (docs/benchmarks.md, *Cold start*)."""
    gc.freeze()


def catalog_or_fail(rules: str | None) -> Catalog:
    """The rules in ``rules`` (default: the bundled rules); their problems as a ``Failure``."""
    try:
        catalog = load_catalog(Path(rules) if rules else rules_dir())
    except CatalogError as error:
        count = len(error.problems)
        raise Failure(EXIT_INVALID, f"{error}\n{count} problem(s) in the rules") from None
    keep_for_the_process()
    return catalog


def requirements_or_fail(path: str) -> Requirements:
    """The requirements in a file ('-': stdin); their problems as a ``Failure``."""
    try:
        return read_requirements(path)
    except InputError as error:
        raise Failure(EXIT_INVALID, str(error)) from None


def advisor_or_fail(catalog: Catalog, engine: str) -> Advisor:
    """An Advisor compiled for ``engine``; a compile failure as a ``Failure``."""
    try:
        advisor = Advisor(engine=engine, catalog=catalog)
    except (EngineError, CompileError) as error:
        raise Failure(EXIT_ENGINE, f"engine '{engine}' failed: {error}") from None
    keep_for_the_process()
    return advisor


def recommend_or_fail(advisor: Advisor, requirements: Requirements,
                      sensitivity: bool = False) -> Report:
    """The report (with what would change each decision when ``sensitivity``); a constraint
    naming an unknown component and an engine failure as a ``Failure``."""
    try:
        return advisor.recommend(requirements, sensitivity=sensitivity)
    except InputError as error:
        raise Failure(EXIT_INVALID, str(error)) from None
    except (EngineError, CompileError) as error:
        raise Failure(EXIT_ENGINE, f"engine '{advisor.engine.name}' failed: {error}") from None


def report_for_file(path: str, rules: str | None, engine: str,
                    sensitivity: bool = False) -> Report:
    """The report for a requirements file ('-': stdin); bad input, bad rules and engine
    failures become a ``Failure`` with their exit code."""
    requirements = requirements_or_fail(path)
    advisor = advisor_or_fail(catalog_or_fail(rules), engine)
    try:
        check_components(advisor.catalog, requirements, "<stdin>" if path == "-" else path)
    except InputError as error:
        raise Failure(EXIT_INVALID, str(error)) from None
    return recommend_or_fail(advisor, requirements, sensitivity)
