"""``advisor ask``: argument parsing, answer files, the report and exit codes.

Exit codes as ``advisor.cli_common``: 0 success, 2 invalid input (answers file, an output path),
3 an engine failure, 130 interrupted (Ctrl-C; answers given so far are already saved).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from advisor.cli_common import (
    EXIT_ENGINE,
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    add_engine_option,
    add_rules_option,
    catalog_or_fail,
    check_writable,
    emit,
    write_atomically,
)
from advisor.engine.base import CompileError, EngineError
from advisor.inputs import InputError, Problem, parse_requirements, read_requirements
from advisor.pipeline import Advisor
from advisor.render import FORMATS, render
from advisor.yamlio import parse_yaml

if TYPE_CHECKING:
    from advisor.questions import Answers, Question

EXIT_INTERRUPTED = 130
_HEADER = "# Answers to `advisor ask`; null: asked, not known. Also a requirements file.\n"


def register(subparsers: Any) -> None:
    """Add the ``ask`` subcommand to an ``add_subparsers()`` object."""
    ask = subparsers.add_parser(
        "ask", help="answer questions one at a time, then get the report",
        description="Ask the requirements one question at a time (with help, choices and "
        "defaults), skipping questions that do not apply, then print the report. Replies are "
        "read line by line when standard input is not a terminal.",
    )
    ask.add_argument("--answers", metavar="FILE",
                     help="pre-fill from a requirements/answers file; its questions are not "
                     "asked again")
    ask.add_argument("--save", metavar="FILE",
                     help="write the answers here (YAML) after every answer, whole or nothing")
    ask.add_argument("--no-input", action="store_true",
                     help="ask nothing: report on the answers file as it is")
    ask.add_argument("-o", "--output", help="write the report here instead of stdout")
    ask.add_argument("--format", choices=FORMATS, default="md", help="output format")
    add_engine_option(ask)
    add_rules_option(ask)
    ask.set_defaults(handler=_ask)


def read_answers(path: str) -> Answers:
    """The answers in a requirements file, keeping ``null`` (asked, not known) as answered."""
    if path == "-":
        raise InputError([Problem("--answers -", None,
                                  "standard input carries the replies; give a file")])
    read_requirements(path)  # every check and message of `advisor recommend`
    data = parse_yaml(Path(path).read_text(encoding="utf-8")).data or {}
    return {section: dict(fields) for section, fields in data.items() if fields}


def dump_answers(answers: Answers, order: Sequence[Question]) -> str:
    """The answers as YAML in questionnaire order: deterministic, and a requirements file."""
    from advisor.questions import ordered_answers

    ordered = ordered_answers(answers, order)
    body = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True,
                          default_flow_style=False) if ordered else "{}\n"
    return _HEADER + body


def _ask(args: argparse.Namespace) -> int:
    # Imported when run: every other subcommand starts without the questionnaire.
    from advisor.ask import default_terminal, run
    from advisor.questions import QuestionnaireError, questions

    for option, value in (("-o", args.output), ("--save", args.save)):
        check_writable(option, value)
    try:
        asked = questions()
    except QuestionnaireError as error:
        raise Failure(EXIT_INVALID, f"{error}\n{len(error.problems)} problem(s) in "
                      "the questionnaire") from None
    try:
        answers = read_answers(args.answers) if args.answers else {}
    except InputError as error:
        raise Failure(EXIT_INVALID, str(error)) from None
    catalog = catalog_or_fail(args.rules)

    def save(state: Answers) -> None:
        if args.save:
            write_atomically(Path(args.save), dump_answers(state, asked), f"--save {args.save}")

    if not args.no_input:
        try:
            answers = run(asked, answers, default_terminal(), save).answers
        except KeyboardInterrupt:
            where = f"saved to {args.save}" if args.save else "not saved (use --save FILE)"
            raise Failure(EXIT_INTERRUPTED, f"interrupted; answers so far {where}") from None
    save(answers)
    requirements = parse_requirements(answers, args.save or args.answers or "<answers>")
    try:
        report = Advisor(engine=args.engine, catalog=catalog).recommend(requirements,
                                                                       sensitivity=True)
    except InputError as error:
        raise Failure(EXIT_INVALID, str(error)) from None
    except (EngineError, CompileError) as error:
        raise Failure(EXIT_ENGINE, f"engine '{args.engine}' failed: {error}") from None
    emit(render(report, args.format), args.output)
    return EXIT_OK
