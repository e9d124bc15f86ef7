"""``advisor explain``: what would change each decision for one requirements file.

Argument parsing and exit codes only; the analysis is ``advisor.sensitivity`` and the output
``advisor.explain``. Exit 0, 2 on bad input, rules or an unknown ``--decision``, 3 on an engine
failure.
"""

from __future__ import annotations

import argparse

from advisor.cli_common import (
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    add_engine_option,
    add_rules_option,
    advisor_or_fail,
    catalog_or_fail,
    check_writable,
    emit,
    recommend_or_fail,
    requirements_or_fail,
)
from advisor.explain import UnknownDecision, explanation, render_explanation


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``explain`` subcommand to an ``advisor`` argument parser."""
    explain = subparsers.add_parser(
        "explain", help="what would change each decision: the smallest requirement changes, "
                        "each confirmed by evaluating the changed requirements")
    explain.add_argument("file", help="requirements file (YAML or JSON), or - for stdin")
    explain.add_argument("--decision", metavar="SLOT",
                         help="only this decision, by slot id (e.g. primary_datastore)")
    explain.add_argument("--format", choices=("md", "json"), default="md", help="output format")
    add_engine_option(explain)
    explain.add_argument("-o", "--output", help="write the explanation here instead of stdout")
    add_rules_option(explain)
    explain.set_defaults(handler=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    """Handle ``advisor explain``; raises ``advisor.cli_common.Failure`` for a user's mistake."""
    check_writable("-o", args.output)
    requirements = requirements_or_fail(args.file)
    catalog = catalog_or_fail(args.rules)
    if args.decision is not None and args.decision not in catalog.slots:
        raise Failure(EXIT_INVALID, f"--decision {args.decision}: no such slot; slots: "
                                    f"{', '.join(sorted(catalog.slots))}")
    report = recommend_or_fail(advisor_or_fail(catalog, args.engine), requirements,
                               sensitivity=True)
    try:
        explained = explanation(report, args.decision)
    except UnknownDecision as error:
        raise Failure(EXIT_INVALID, str(error)) from None
    emit(render_explanation(explained, args.format), args.output)
    return EXIT_OK
