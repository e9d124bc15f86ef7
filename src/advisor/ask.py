"""The interactive questionnaire: ask each relevant question once, validate, re-ask, record.

The run talks to the user only through a ``Terminal``: ``PlainTerminal`` reads answers line by
line (pipes, files, dumb terminals); ``InteractiveTerminal`` uses questionary on a real
terminal. Both hand back the reply as text, which ``interpret`` turns into a value the same way
for both; the requirements model then judges it (``check_answer``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from advisor.questions import (
    Answers,
    Question,
    answer_facts,
    answered,
    check_answer,
    is_asked,
    sections,
    with_answer,
)

# Replies that mean "skip / don't know" (the field stays unknown).
SKIP_WORDS = ("-", "skip")
# A reply to a list question meaning "none of them" (an empty list), unless it is a choice.
NONE_WORD = "none"
_YES = ("y", "yes", "true")
_NO = ("n", "no", "false")


@dataclass(frozen=True)
class Prompt:
    """What the terminal shows for one question."""

    question: Question
    number: int
    total: int
    problem: str | None = None  # why the previous reply was refused


class Terminal(Protocol):
    """Where questions are shown and replies come from."""

    def show(self, text: str) -> None:
        """Show a line of text (a section heading)."""

    def ask(self, prompt: Prompt) -> str | None:
        """The reply as text; None when there is no more input."""


def interpret(question: Question, reply: str) -> Any:
    """The value a text reply gives; None means skip / don't know.

    Text that is not a value of the question's kind is passed on unchanged, so the model
    rejects it with the message ``advisor recommend`` gives for the same value.
    """
    text = reply.strip()
    if text == "":
        return question.default
    if text.lower() in SKIP_WORDS:
        return None
    if question.kind == "bool":
        lowered = text.lower()
        return True if lowered in _YES else False if lowered in _NO else text
    if question.kind in ("number", "integer"):
        return _number(text)
    if question.kind == "enum":
        return _choice(question, text)
    if question.kind == "multi":
        if text.lower() == NONE_WORD and NONE_WORD not in question.choices:
            return []
        return [_choice(question, part) for part in text.replace(",", " ").split()]
    if question.kind == "components":
        return components_from_text(text, ";")
    return text


def components_from_text(text: str, separator: str) -> list[dict[str, str]] | str:
    """Components with a reason from 'id: reason' entries; 'none' is an empty list. An entry
    without a reason keeps an empty one, which the model then refuses with its own message."""
    if text.strip().lower() == NONE_WORD:
        return []
    out = []
    for entry in text.split(separator):
        if not entry.strip():
            continue
        component, _, reason = entry.partition(":")
        out.append({"component": component.strip(), "reason": reason.strip()})
    return out


def _number(text: str) -> Any:
    for convert in (int, float):
        try:
            value = convert(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            return text
        return value
    return text


def _choice(question: Question, text: str) -> str:
    """A choice by value or by its 1-based number in the list."""
    if text.isdigit() and 1 <= int(text) <= len(question.choices):
        return question.choices[int(text) - 1]
    return text


def describe_allowed(question: Question) -> str:
    """One line saying what a reply may be."""
    if question.kind == "bool":
        allowed = "yes or no"
    elif question.kind == "enum":
        allowed = "a number or a value from the list"
    elif question.kind == "multi":
        allowed = ("numbers or values from the list, separated by commas"
                   + (f"; '{NONE_WORD}' for none of them"
                      if NONE_WORD not in question.choices else ""))
    elif question.kind in ("number", "integer"):
        allowed = "a whole number" if question.kind == "integer" else "a number"
        bounds = []
        if question.minimum is not None:
            symbol = ">" if question.minimum_exclusive else ">="
            bounds.append(f"{symbol} {question.minimum:g}")
        if question.maximum is not None:
            bounds.append(f"<= {question.maximum:g}")
        allowed += (" " + " and ".join(bounds)) if bounds else ""
    elif question.kind == "components":
        allowed = (f"'component: reason' entries separated by ';' (`advisor rules components` "
                   f"lists the ids); '{NONE_WORD}' for none")
    else:
        allowed = "text"
    if question.default is None:
        return f"{allowed}; Enter or '-': skip (don't know)"
    return f"{allowed}; Enter: {display(question.default)}; '-': skip (don't know)"


def display(value: Any) -> str:
    """A value as the user would type it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return "; ".join(f"{item.get('component')}: {item.get('reason')}" for item in value)
        return ", ".join(str(item) for item in value) or NONE_WORD
    return str(value)


@dataclass
class Result:
    """The answers after a run and whether every relevant question was reached."""

    answers: Answers
    finished: bool


def run(questions: Sequence[Question], answers: Answers, terminal: Terminal,
        on_answer: Callable[[Answers], None] = lambda _: None) -> Result:
    """Ask every relevant unanswered question in order; ``on_answer`` sees each new state.

    A question already answered (``None`` included) is not asked again. The run ends early,
    unfinished, when the terminal has no more input. ``KeyboardInterrupt`` propagates; the
    answers given so far have already been passed to ``on_answer``.
    """
    titles = {section.id: section for section in sections()}
    done = answered(answers)
    total = len(questions)
    current_section = ""
    for number, question in enumerate(questions, start=1):
        if question.id in done or not is_asked(question, answer_facts(answers)):
            continue
        if question.section != current_section:
            current_section = question.section
            section = titles[current_section]
            terminal.show(f"{section.title}: {section.help}")
        problem: str | None = None
        while True:
            reply = terminal.ask(Prompt(question, number, total, problem))
            if reply is None:
                return Result(answers, finished=False)
            value = interpret(question, reply)
            problems = [] if value is None else check_answer(answers, question, value)
            if not problems:
                break
            problem = "\n".join(str(item) for item in problems)
        answers = with_answer(answers, question, value)
        on_answer(answers)
    return Result(answers, finished=True)


class PlainTerminal:
    """Line-by-line replies from ``source``; prompts as plain text to ``sink``."""

    def __init__(self, source: TextIO, sink: TextIO, echo: bool) -> None:
        self.source = source
        self.sink = sink
        # Piped replies are not echoed by a terminal; echoing keeps the transcript readable.
        self.echo = echo

    def show(self, text: str) -> None:
        """Write a section heading."""
        self.sink.write(f"\n== {text}\n")
        self.sink.flush()

    def ask(self, prompt: Prompt) -> str | None:
        """Write the question, read one line."""
        question = prompt.question
        lines = []
        if prompt.problem:
            lines.append(f"  ! {prompt.problem}")
        lines.append(f"[{prompt.number}/{prompt.total}] {question.id}: {question.help}")
        if question.choices:
            lines.append("  " + "  ".join(f"{index}) {choice}" for index, choice
                                          in enumerate(question.choices, start=1)))
        lines.append(f"  ({describe_allowed(question)})")
        self.sink.write("\n".join(lines) + "\n> ")
        self.sink.flush()
        line = self.source.readline()
        if line == "":
            self.sink.write("\n")
            return None
        reply = line.rstrip("\r\n")
        if self.echo:
            self.sink.write(reply + "\n")
        return reply


class InteractiveTerminal:
    """Prompts drawn by questionary on the terminal behind ``sink`` (standard error).

    Standard output is left for the report. Ctrl-D on a typed answer ends the questionnaire;
    Ctrl-C interrupts it.
    """

    def __init__(self, sink: TextIO) -> None:
        # Imported here: piped and --no-input runs never pay for loading prompt_toolkit.
        from prompt_toolkit.output import create_output

        self.sink = sink
        self.output = create_output(stdout=sink)

    def show(self, text: str) -> None:
        """Write a section heading."""
        self.sink.write(f"\n{text}\n")
        self.sink.flush()

    def ask(self, prompt: Prompt) -> str | None:
        """Ask with a list for choices and yes/no, a text field otherwise."""
        import questionary

        question = prompt.question
        if prompt.problem:
            self.sink.write(f"  ! {prompt.problem}\n")
        self.sink.write(f"  {question.help}\n")
        self.sink.flush()
        message = f"[{prompt.number}/{prompt.total}] {question.id}"
        skip = questionary.Choice("skip / don't know", value="-")
        try:
            if question.kind in ("bool", "enum"):
                values = ["yes", "no"] if question.kind == "bool" else list(question.choices)
                choices = [questionary.Choice(value, value=value) for value in values]
                default = display(question.default) if question.default is not None else "-"
                reply = questionary.select(
                    message, choices=[*choices, skip], default=default, use_shortcuts=True,
                    output=self.output,
                ).unsafe_ask()
            elif question.kind == "multi":
                choices = [questionary.Choice(value, value=value) for value in question.choices]
                extra = ([questionary.Choice("none of these", value=NONE_WORD)]
                         if NONE_WORD not in question.choices else [])
                picked = questionary.checkbox(
                    message, choices=[*choices, *extra, skip], output=self.output,
                    instruction="(Space to pick, Enter to confirm; nothing picked: skip)",
                ).unsafe_ask()
                reply = ",".join(picked)
            else:
                reply = questionary.text(
                    message, instruction=f"({describe_allowed(question)})", output=self.output,
                ).unsafe_ask()
        except EOFError:
            return None
        return str(reply) if reply is not None else None


def terminal_for(stdin: TextIO, stderr: TextIO) -> Terminal:
    """Questionary on a terminal; plain line-by-line prompts when input is piped."""
    if stdin.isatty() and stderr.isatty():
        return InteractiveTerminal(stderr)
    return PlainTerminal(stdin, stderr, echo=not stdin.isatty())


def default_terminal() -> Terminal:
    """The terminal for this process's standard streams."""
    return terminal_for(sys.stdin, sys.stderr)
