"""Command line: argument parsing, output files and exit codes only.

Exit codes: 0 success, 2 invalid input or invalid rules (the message names the field),
3 an engine failure. No command prints a traceback for a user's mistake, and an output file
is written whole or not at all.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from advisor.catalog import CatalogError
from advisor.cli_ask import register as register_ask
from advisor.cli_batch import register as register_batch
from advisor.cli_common import (
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    add_engine_option,
    add_rules_option,
    catalog_or_fail,
    check_writable,
    emit,
    report_for_file,
)
from advisor.cli_diff import register as register_diff
from advisor.cli_doc import register as register_doc
from advisor.cli_explain import register as register_explain
from advisor.cli_serve import register as register_serve
from advisor.coverage import KINDS
from advisor.models.report import Report
from advisor.models.requirements import Requirements
from advisor.render import FORMATS, render


def _recommend(args: argparse.Namespace) -> int:
    check_writable("-o", args.output)
    report = report_for_file(args.file, args.rules, args.engine, args.sensitivity)
    emit(render(report, args.format), args.output)
    return EXIT_OK


def _rules_list(args: argparse.Namespace) -> int:
    catalog = catalog_or_fail(args.rules)
    if args.format == "json":
        emit(json.dumps(catalog.summaries(), indent=2) + "\n", None)
        return EXIT_OK
    width = max((len(rule.id) for rule in catalog.rules), default=2)
    lines = []
    for rule in catalog.rules:
        target = (f"{rule.slot} -> {rule.recommend.component}" if rule.recommend
                  else "warning" if rule.purpose == "warn" else rule.purpose)
        lines.append(f"{rule.id:<{width}}  {rule.area:<10} {target:<44} {rule.title}")
    emit("\n".join(lines) + ("\n" if lines else ""), None)
    return EXIT_OK


def _rules_components(args: argparse.Namespace) -> int:
    catalog = catalog_or_fail(args.rules)
    slots: dict[str, set[str]] = {}
    for rule in catalog.rules:
        if rule.recommend:
            slots.setdefault(rule.recommend.component, set()).add(rule.recommend.slot)
    rows = [{"id": component.id, "label": component.label, "category": component.category.value,
             "slots": sorted(slots.get(component.id, ()))}
            for component in catalog.components.values()]
    if args.format == "json":
        emit(json.dumps(rows, indent=2) + "\n", None)
        return EXIT_OK
    width = max((len(row["id"]) for row in rows), default=2)
    lines = [f"{row['id']:<{width}}  {row['category']:<13} {row['label']}"
             + (f"  [{', '.join(row['slots'])}]" if row["slots"] else "") for row in rows]
    emit("\n".join(lines) + ("\n" if lines else ""), None)
    return EXIT_OK


def _rules_show(args: argparse.Namespace) -> int:
    catalog = catalog_or_fail(args.rules)
    wanted = args.id.upper()
    if wanted not in catalog.rule_files:
        known = ", ".join(rule.id for rule in catalog.rules[:8])
        raise Failure(EXIT_INVALID, f"no rule with id '{args.id}' (known ids include {known} "
                                     "...; `advisor rules list` shows all)")
    path = catalog.root.parent / catalog.rule_files[wanted]  # rule_files are relative to it
    emit(f"# {catalog.rule_files[wanted]}\n" + path.read_text(encoding="utf-8"), None)
    return EXIT_OK


def _rules_lint(args: argparse.Namespace) -> int:
    from advisor.lint import lint_catalog

    catalog = catalog_or_fail(args.rules)
    problems = lint_catalog(catalog)
    if problems:
        raise Failure(EXIT_INVALID, "\n".join(problems) + f"\n{len(problems)} problem(s)")
    sys.stdout.write(f"{len(catalog.rules)} rules OK: schema, references, examples "
                     "(fires/silent) and durable-rules limits\n")
    return EXIT_OK


def _rules_coverage(args: argparse.Namespace) -> int:
    from advisor.coverage import REQUIRED_KINDS, load_coverage

    catalog = catalog_or_fail(args.rules)
    try:
        coverage = load_coverage(catalog)
    except CatalogError as error:
        raise Failure(EXIT_INVALID, f"{error}\n{len(error.problems)} problem(s) in the "
                                     "coverage file") from None
    entries = [entry for entry in coverage.entries
               if (args.kind is None or entry.kind == args.kind)
               and (args.status is None or entry.status.replace(" ", "_") == args.status)]
    if args.format == "json":
        rows = [entry.model_dump(exclude_none=True) | {"status": entry.status}
                for entry in entries]
        emit(json.dumps({"catalogue": coverage.catalogue, "entries": rows}, indent=2) + "\n",
             None)
        return EXIT_OK
    lines = [f"Coverage of {coverage.catalogue}", "",
             "| Entry | Kind | Title | Status | Rules or reason |", "|---|---|---|---|---|"]
    for entry in entries:
        detail = ", ".join(entry.rules) if entry.rules else (entry.out_of_scope or "")
        lines.append(f"| {entry.id} | {entry.kind} | {entry.title} | {entry.status} | "
                     f"{detail.replace('|', '/')} |")
    lines += ["", "| Kind | Encoded | Out of scope | Total |", "|---|---|---|---|"]
    counts = coverage.counts()
    for kind in KINDS:
        tally = counts[kind]
        mark = " (required)" if kind in REQUIRED_KINDS else ""
        lines.append(f"| {kind}{mark} | {tally['encoded']} | {tally['out of scope']} | "
                     f"{tally.total()} |")
    emit("\n".join(lines) + "\n", None)
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    model = Report if args.output else Requirements
    schema = model.model_json_schema(mode="serialization" if args.output else "validation")
    emit(json.dumps(schema, indent=2, sort_keys=True) + "\n", None)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="advisor",
        description="Recommend an AWS architecture from stated requirements, with a "
        "justification, rejected alternatives and sources for every decision.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    recommend = sub.add_parser(
        "recommend", help="recommend an architecture for a requirements file"
    )
    recommend.add_argument("file", help="requirements file (YAML or JSON), or - for stdin")
    recommend.add_argument("--format", choices=FORMATS, default="md", help="output format")
    add_engine_option(recommend)
    recommend.add_argument("-o", "--output", help="write the report here instead of stdout")
    add_rules_option(recommend)
    recommend.add_argument("--no-sensitivity", dest="sensitivity", action="store_false",
                           help="leave out 'What would change this decision' (it re-evaluates "
                                "changed requirements, a few evaluations more)")
    recommend.set_defaults(handler=_recommend)

    rules = sub.add_parser("rules", help="list, show or lint the rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    listing = rules_sub.add_parser("list", help="one line per rule")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(handler=_rules_list)
    components = rules_sub.add_parser(
        "components", help="every component id (for constraints.must_use / must_not_use)")
    components.add_argument("--format", choices=("text", "json"), default="text")
    components.set_defaults(handler=_rules_components)
    show = rules_sub.add_parser("show", help="print one rule file")
    show.add_argument("id", help="rule id, e.g. DATA-001")
    show.set_defaults(handler=_rules_show)
    lint = rules_sub.add_parser("lint", help="validate every rule and run its examples")
    lint.set_defaults(handler=_rules_lint)
    covered = rules_sub.add_parser(
        "coverage", help="which rules encode each entry of the seed catalogue"
    )
    covered.add_argument("--format", choices=("md", "json"), default="md")
    covered.add_argument("--kind", choices=KINDS, help="only entries of this kind")
    covered.add_argument("--status", choices=("encoded", "out_of_scope"),
                         help="only entries with this status")
    covered.set_defaults(handler=_rules_coverage)
    for action in (listing, components, show, lint, covered):
        add_rules_option(action)

    schema = sub.add_parser("schema", help="print the JSON Schema of the input (or the output)")
    schema.add_argument("--output", action="store_true",
                        help="print the schema of the JSON report instead of the input")
    schema.set_defaults(handler=_schema)

    # The front doors: each module registers its own subcommand and loads its heavy
    # dependencies (prompt toolkit, the web framework) only when run.
    register_ask(sub)
    register_doc(sub)
    register_serve(sub)
    register_diff(sub)
    register_explain(sub)
    register_batch(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``advisor`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except Failure as failure:
        sys.stderr.write(f"advisor: {failure}\n" if "\n" not in str(failure)
                         else f"advisor: error\n{failure}\n")
        return failure.code
    except BrokenPipeError:  # pragma: no cover - e.g. `advisor rules list | head`
        return EXIT_OK
    except KeyboardInterrupt:  # pragma: no cover
        return 130


def run() -> NoReturn:
    """The ``advisor`` program: ``main``, then exit with its code."""
    code = main()
    # At exit the interpreter's collector scans every object still alive (the catalog, the
    # compiled rules, the templates) several times over, which cost about 150 ms, a sixth of
    # a cold start. Frozen, they are left to be freed with the process.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
