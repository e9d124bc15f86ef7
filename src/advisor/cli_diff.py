"""``advisor diff``: two requirement files, or the same files under two rule directories.

Argument parsing, loading and exit codes only; the comparison is ``advisor.diff``. Exit 0 when
nothing differs, 1 when something does, 2 on bad input or rules, 3 on an engine failure.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from advisor.cli_common import (
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    add_engine_option,
    advisor_or_fail,
    catalog_or_fail,
    check_writable,
    emit,
    recommend_or_fail,
    requirements_or_fail,
)
from advisor.paths import examples_dir
from advisor.pipeline import Advisor

if TYPE_CHECKING:
    from advisor.diff import ReportDiff, RulesDiff

EXIT_DIFFERENT = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``diff`` subcommand to an ``advisor`` argument parser."""
    diff = subparsers.add_parser(
        "diff", help="compare the recommendations for two requirement files, or for the same "
                     "files under two rule directories (exit 1 when they differ)")
    diff.add_argument("files", nargs="*", metavar="FILE",
                      help="two requirement files (A then B); with two --rules, the profiles "
                           "to evaluate (default: the bundled examples)")
    diff.add_argument("--rules", action="append", metavar="DIR",
                      help="rules directory; give it twice (old, then new) to compare rule "
                           "versions (default: the bundled rules)")
    diff.add_argument("--format", choices=("md", "json"), default="md", help="output format")
    add_engine_option(diff)
    diff.add_argument("-o", "--output", help="write the diff here instead of stdout")
    diff.set_defaults(handler=run_diff)


def run_diff(args: argparse.Namespace) -> int:
    """Handle ``advisor diff``; raises ``advisor.cli_common.Failure`` for a user's mistake."""
    # Imported here, so that starting the other subcommands does not load the comparison.
    from advisor.diff import diff_reports, diff_rule_sets, render_diff

    check_writable("-o", args.output)
    rules: list[str] = args.rules or []
    result: ReportDiff | RulesDiff
    if len(rules) > 2:
        raise Failure(EXIT_INVALID, f"--rules given {len(rules)} times: give it once (the rules "
                                    "for both files) or twice (old rules, then new rules)")
    if len(rules) == 2:
        # Bundled examples are named from the examples directory, so the output does not
        # depend on where the package is installed.
        files = {file: file for file in args.files} or {
            f"{path.parent.name}/{path.name}": str(path)
            for path in sorted(examples_dir().glob("*.yaml"))}
        if not files:
            raise Failure(EXIT_INVALID, f"no requirement files given and none in {examples_dir()}")
        profiles = [(name, requirements_or_fail(path)) for name, path in files.items()]
        old, new = _advisor(rules[0], args.engine), _advisor(rules[1], args.engine)
        result = diff_rule_sets(rules[0], rules[1], [
            (file, recommend_or_fail(old, requirements), recommend_or_fail(new, requirements))
            for file, requirements in profiles])
    else:
        if len(args.files) != 2:
            raise Failure(EXIT_INVALID, f"expected two requirement files (A and B), got "
                                        f"{len(args.files)}; to compare rule versions give "
                                        "--rules twice")
        first, second = requirements_or_fail(args.files[0]), requirements_or_fail(args.files[1])
        advisor = _advisor(rules[0] if rules else None, args.engine)
        result = diff_reports(recommend_or_fail(advisor, first), recommend_or_fail(advisor, second),
                              args.files[0], args.files[1])
    emit(render_diff(result, args.format), args.output)
    return EXIT_DIFFERENT if result.differs else EXIT_OK


def _advisor(rules: str | None, engine: str) -> Advisor:
    try:
        catalog = catalog_or_fail(rules)
    except Failure as failure:
        if rules is None:
            raise
        # With two rule directories, say which one is broken.
        raise Failure(failure.code, f"--rules {rules}:\n{failure}") from None
    return advisor_or_fail(catalog, engine)
