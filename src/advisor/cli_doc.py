"""``advisor doc``: a design-document draft (and optionally one MADR file per decision).

Argument parsing and file handling only; the text comes from ``advisor.design_doc``. Every
file is rendered before any is written, and each is written whole or not at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from advisor.cli_common import (
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    add_engine_option,
    add_rules_option,
    check_writable,
    emit,
    report_for_file,
    write_atomically,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``doc`` subcommand to an ``advisor`` argument parser."""
    doc = subparsers.add_parser(
        "doc", help="write a design-document draft (and MADR decision records) for a "
                    "requirements file")
    doc.add_argument("file", help="requirements file (YAML or JSON), or - for stdin")
    doc.add_argument("-o", "--output", help="write the design document here instead of stdout")
    doc.add_argument("--adr-dir", help="also write one MADR file per decision into this "
                                       "directory (created if missing)")
    doc.add_argument("--templates", help="directory with your own design.md.j2 and adr.md.j2 "
                                         "(default: the bundled templates/design-doc)")
    add_engine_option(doc)
    add_rules_option(doc)
    doc.set_defaults(handler=run_doc)


def run_doc(args: argparse.Namespace) -> int:
    """Handle ``advisor doc``; raises ``advisor.cli_common.Failure`` for a user's mistake."""
    from advisor.design_doc import DesignDocError, adr_files, design_doc

    templates = Path(args.templates) if args.templates else None
    adr_dir = Path(args.adr_dir) if args.adr_dir else None
    if adr_dir is not None and adr_dir.exists() and not adr_dir.is_dir():
        raise Failure(EXIT_INVALID, f"--adr-dir {adr_dir}: exists and is not a directory")
    check_writable("-o", args.output)
    report = report_for_file(args.file, args.rules, args.engine, sensitivity=True)
    try:
        document = design_doc(report, templates)
        records = adr_files(report, templates) if adr_dir is not None else {}
    except DesignDocError as error:
        raise Failure(EXIT_INVALID, str(error)) from None
    try:
        if adr_dir is not None:
            adr_dir.mkdir(parents=True, exist_ok=True)
            for name, text in records.items():
                write_atomically(adr_dir / name, text)
        emit(document, args.output)
    except OSError as error:
        where = error.filename or args.output or adr_dir
        raise Failure(EXIT_INVALID, f"{where}: cannot write: {error.strerror}") from None
    return EXIT_OK
