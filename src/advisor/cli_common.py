"""What every subcommand shares: exit codes, the user-error exception, whole-or-nothing output
and loading the rules with their errors reported."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
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


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename: whole or nothing."""
    directory = path.resolve().parent
    if not directory.is_dir():
        raise Failure(EXIT_INVALID, f"{path}: directory {directory} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def emit(text: str, output: str | None) -> None:
    """Write to ``output`` (whole or nothing), or to stdout when it is None or '-'."""
    if output is None or output == "-":
        sys.stdout.write(text)
    else:
        write_atomically(Path(output), text)


def catalog_or_fail(rules: str | None) -> Catalog:
    """The rules in ``rules`` (default: the bundled rules); their problems as a ``Failure``."""
    try:
        return load_catalog(Path(rules) if rules else rules_dir())
    except CatalogError as error:
        count = len(error.problems)
        raise Failure(EXIT_INVALID, f"{error}\n{count} problem(s) in the rules") from None


def check_writable(option: str, value: str | None) -> None:
    """Refuse an output path whose directory does not exist, before any work is done."""
    if value is None or value == "-":
        return
    directory = Path(value).resolve().parent
    if not directory.is_dir():
        raise Failure(EXIT_INVALID, f"{option} {value}: directory {directory} does not exist")


def requirements_or_fail(path: str) -> Requirements:
    """The requirements in a file ('-': stdin); their problems as a ``Failure``."""
    try:
        return read_requirements(path)
    except InputError as error:
        raise Failure(EXIT_INVALID, str(error)) from None


def advisor_or_fail(catalog: Catalog, engine: str) -> Advisor:
    """An Advisor compiled for ``engine``; a compile failure as a ``Failure``."""
    try:
        return Advisor(engine=engine, catalog=catalog)
    except (EngineError, CompileError) as error:
        raise Failure(EXIT_ENGINE, f"engine '{engine}' failed: {error}") from None


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
