"""Read a requirements file (YAML or JSON) into a validated ``Requirements`` model.

Errors name the file, the line, the field path, what was wrong and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from advisor.facts import FactSpec, requirement_fact_specs
from advisor.models.requirements import Requirements
from advisor.yamlio import (
    ECHO_LIMIT,
    MAX_DEPTH,
    LocatedDocument,
    YamlError,
    clip,
    decode_utf8,
    parse_yaml,
    read_bounded,
)

MAX_INPUT_BYTES = 1_000_000
# Every section and field with a few list items is well under a thousand values; more is a
# generated or hostile document, refused before validation (which costs ~10 us and, when
# invalid, ~2 KB per value).
MAX_VALUES = 10_000
# Problems kept in ``InputError.details`` (the rest are counted) and listed in its message.
MAX_DETAILS = 1_000
MAX_LISTED = 50
# A message longer than this was built around an echoed value; the allowed keys of the largest
# section take about 900 characters.
_MESSAGE_LIMIT = 10 * ECHO_LIMIT
_EMPTY_HINT = "expected a YAML or JSON mapping of requirement sections; {} when nothing is known"


Location = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One problem with an input: where it is, which field, what was wrong and what is allowed.

    ``field`` is the path inside the document (``()``: the document itself) or None when the
    problem is with the file as a whole (missing, unreadable, not YAML)."""

    where: str  # the origin, with ':<line>' when known
    field: Location | None
    message: str

    @property
    def text(self) -> str:
        """The problem without its origin: '<field>: <message>'."""
        if self.field is None:
            return self.message
        return f"{'.'.join(str(part) for part in self.field) or '(document)'}: {self.message}"

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


def _echo(given: Any) -> str:
    """``given`` as JSON for a message: a long string is cut inside its quotes, then its
    length in characters (of the value, not of its JSON form)."""
    if isinstance(given, str) and len(given) > ECHO_LIMIT:
        return f'{json.dumps(given[:ECHO_LIMIT])[:-1]}\u2026" ({len(given):,} characters)'
    return clip(json.dumps(given))


def _bounded(problem: Problem) -> Problem:
    """``problem`` with every echoed key and the message clipped (what a hostile document puts
    in a key or value must not make a message of its size)."""
    fields = problem.field
    if fields is not None and any(isinstance(part, str) and len(part) > ECHO_LIMIT
                                  for part in fields):
        fields = tuple(clip(part) if isinstance(part, str) else part for part in fields)
    message = clip(problem.message, _MESSAGE_LIMIT)
    if fields is problem.field and message is problem.message:
        return problem
    return dataclasses.replace(problem, field=fields, message=message)


class InputError(Exception):
    """The requirements are invalid; ``details`` holds each problem (the first ``MAX_DETAILS``;
    ``omitted`` counts the rest), ``problems`` each as a line ('<origin>[:line]: <field>:
    <problem> (<allowed>)'). The message lists the first ``MAX_LISTED`` and how many more."""

    def __init__(self, details: Sequence[Problem], omitted: int = 0) -> None:
        self.details = [_bounded(problem) for problem in details[:MAX_DETAILS]]
        self.omitted = omitted + max(0, len(details) - MAX_DETAILS)
        self.problems = [str(problem) for problem in self.details]
        listed = self.problems[:MAX_LISTED]
        more = len(self.problems) + self.omitted - len(listed)
        if more:
            listed.append(f"... and {more:,} more problem{'s' if more > 1 else ''}")
        super().__init__("\n".join(listed))


@functools.lru_cache(maxsize=1)
def _section_schemas() -> dict[str, dict[str, Any]]:
    """Each section's JSON Schema properties, from the model itself (one source of truth)."""
    schema = Requirements.model_json_schema()
    out: dict[str, dict[str, Any]] = {}
    for section, reference in schema["properties"].items():
        name = reference["$ref"].rsplit("/", 1)[-1]
        out[section] = schema["$defs"][name]["properties"]
    return out


@functools.lru_cache(maxsize=1)
def _fact_specs() -> dict[str, FactSpec]:
    """The requirement fact specs, built once (building them walks the whole model)."""
    return requirement_fact_specs()


def _describe_number(spec: FactSpec) -> str:
    kind = "a whole number" if spec.integer else "a number"
    bounds = []
    for value, symbol in ((spec.minimum, ">" if spec.minimum_exclusive else ">="),
                          (spec.maximum, "<=")):
        if value is not None:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            bounds.append(f"{symbol} {shown}")
    return kind + (" " + " and ".join(bounds) if bounds else "")


def _allowed(section: str, field: str) -> str:
    sections = _section_schemas()
    if section not in sections:
        return "allowed sections: " + ", ".join(sections)
    fields = sections[section]
    if not field:
        return f"a mapping with keys: {', '.join(fields)}"
    if field not in fields:
        return f"allowed keys in {section}: " + ", ".join(fields)
    spec = _fact_specs().get(f"{section}.{field}")
    if spec is None:
        return "free text"
    if spec.type in ("enum", "set"):
        prefix = "a list of" if spec.type == "set" else "one of"
        return f"{prefix}: " + ", ".join(spec.values)
    if spec.type == "bool":
        return "true or false"
    return _describe_number(spec)


def _suggestion(word: str, options: Sequence[str]) -> str:
    """'; did you mean ...?' naming the option closest to ``word``, or nothing."""
    close = difflib.get_close_matches(clip(word, 64), options, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _suggest_for(item: Any, loc: Location) -> str:
    """A did-you-mean for an unknown section or field, or an unknown enum value."""
    sections = _section_schemas()
    section = str(loc[0]) if loc else ""
    if item["type"] == "extra_forbidden":
        if len(loc) == 1:
            return _suggestion(section, list(sections))
        if len(loc) == 2 and section in sections:
            return _suggestion(str(loc[1]), list(sections[section]))
        return ""
    given = item.get("input")
    spec = _enum_spec(item, loc)
    if isinstance(given, str) and spec is not None:
        return _suggestion(given, spec.values)
    return ""


def _enum_spec(item: Any, loc: Location) -> FactSpec | None:
    """The spec of the field when ``item`` refuses a value outside its listed values (the field
    itself, or an item of a list field), else None."""
    if item["type"] != "enum" or not 2 <= len(loc) <= 3:
        return None
    if len(loc) == 3 and not isinstance(loc[2], int):
        return None
    spec = _fact_specs().get(f"{loc[0]}.{loc[1]}")
    return spec if spec is not None and spec.type in ("enum", "set") else None


def _value_problem(data: Any) -> tuple[Location, str] | None:
    """Where and what the first value is that no requirements document holds: one JSON cannot
    carry (a YAML date, a set ...), nesting past ``MAX_DEPTH``, or more than ``MAX_VALUES``
    values in all. Iterative, so no document can exhaust the stack."""
    pending: list[tuple[Any, Location, int]] = [(data, (), 1)]
    count = 0
    while pending:
        value, path, depth = pending.pop()
        count += 1
        if count > MAX_VALUES:
            return (), f"holds more than {MAX_VALUES:,} values"
        if depth > MAX_DEPTH:
            return path, f"nests deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            children: list[tuple[Any, Location, int]] = []
            for key, child in value.items():
                if not isinstance(key, str):
                    return (*path, clip(repr(key))), _UNSUPPORTED
                children.append((child, (*path, key), depth + 1))
            pending.extend(reversed(children))
        elif isinstance(value, list):
            pending.extend((child, (*path, index), depth + 1)
                           for index, child in reversed(list(enumerate(value))))
        elif not (value is None or isinstance(value, bool | int | float | str)):
            return path, _UNSUPPORTED
    return None


_UNSUPPORTED = "unsupported value (use true/false, a number, a string or a list; quote dates)"


def describe_validation_error(
    error: ValidationError, origin: str, doc: LocatedDocument | None = None,
    limit: int = MAX_DETAILS,
) -> tuple[list[Problem], int]:
    """One problem per validation error, with what is allowed in the field and, for a
    misspelt key or value, the closest allowed one; at most ``limit`` problems, and how many
    errors were left undescribed."""
    out: list[Problem] = []
    items = error.errors(include_url=False)
    for index, item in enumerate(items):
        if len(out) >= limit:
            return out, len(items) - index
        loc = tuple(item["loc"])
        if item["type"] == "inconsistent":
            # The cross-field checks name each field they found wrong in the context.
            for field, problem in (item.get("ctx") or {}).get("problems", ()):
                path = tuple(int(part) if part.isdigit() else part for part in field.split("."))
                where = f"{origin}:{doc.line_of(path)}" if doc is not None else origin
                out.append(Problem(where, path, problem))
            continue
        section = str(loc[0]) if loc else ""
        name = str(loc[1]) if len(loc) > 1 and isinstance(loc[1], str) else ""
        if item["type"] == "extra_forbidden":
            problem = "unknown key"
            allowed = _allowed(section, name)
        else:
            # Pydantic's message for a value outside an enum lists the values; the allowed
            # part below lists them, once.
            problem = ("not an allowed value" if _enum_spec(item, loc) is not None
                       else item["msg"][0].lower() + item["msg"][1:])
            given = item.get("input")
            if not isinstance(given, Mapping | list):
                problem += f", got {_echo(given)}"
            allowed = _allowed(section, name) if loc else ""
        where = f"{origin}:{doc.line_of(loc)}" if doc is not None else origin
        suffix = f" ({allowed})" if allowed else ""
        out.append(Problem(where, loc, f"{problem}{suffix}{_suggest_for(item, loc)}"))
    return out, 0


def parse_requirements(data: Any, origin: str = "<input>",
                       doc: LocatedDocument | None = None) -> Requirements:
    """Validate plain data as requirements (strict: no coercion of 'yes' or '1')."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError([Problem(origin, (), "expected a mapping of sections, "
                                  f"got {type(data).__name__}")])
    bad = _value_problem(data)
    if bad is not None:
        path, problem = bad
        where = f"{origin}:{doc.line_of(path)}" if doc is not None else origin
        raise InputError([Problem(where, path, problem)])
    text = json.dumps(data)
    try:
        return Requirements.model_validate_json(text)
    except ValidationError as error:
        raise InputError(*describe_validation_error(error, origin, doc)) from None


def _read_bytes(path: str, origin: str) -> bytes:
    """At most ``MAX_INPUT_BYTES`` of a requirements file ('-': standard input)."""
    try:
        if path == "-":
            # Bytes, not sys.stdin's text: its decoder may turn bad bytes into surrogates.
            stream = getattr(sys.stdin, "buffer", None)
            raw: bytes = (stream.read(MAX_INPUT_BYTES + 1) if stream is not None  # embedded use:
                          else sys.stdin.read(MAX_INPUT_BYTES + 1).encode())  # already text
            if len(raw) > MAX_INPUT_BYTES:
                raise YamlError(1, f"larger than {MAX_INPUT_BYTES:,} bytes")
            return raw
        file = Path(path)
        if file.is_dir():
            raise InputError([Problem(origin, None, "is a directory, not a requirements file")])
        if not file.exists():
            raise InputError([Problem(origin, None, "no such file")])
        return read_bounded(file, MAX_INPUT_BYTES)  # a pipe (<(...)) has no size to check
    except YamlError as error:
        raise InputError([Problem(origin, None, error.problem)]) from None
    except OSError as error:
        raise InputError([Problem(origin, None, f"cannot read: {error.strerror}")]) from None


def read_requirements(path: str) -> Requirements:
    """Read requirements from a file path, or standard input for '-'.

    Refused with ``InputError`` (one problem naming the origin and line): more than
    ``MAX_INPUT_BYTES``, text that is not UTF-8, an empty document or one that is only comments
    or null, YAML anchors, aliases and merge keys, more than ``MAX_VALUES`` values, nesting past
    ``MAX_DEPTH`` and integers past ``advisor.yamlio.MAX_DIGITS`` digits."""
    origin = "<stdin>" if path == "-" else path
    raw = _read_bytes(path, origin)
    try:
        text = decode_utf8(raw)
    except YamlError as error:
        raise InputError([Problem(f"{origin}:{error.line}", None, error.problem)]) from None
    if not text.strip():
        raise InputError([Problem(origin, None, f"is empty ({_EMPTY_HINT})")])
    try:
        doc = parse_yaml(text, max_nodes=MAX_VALUES)  # YAML is a superset of JSON: one parser
    except YamlError as error:
        raise InputError([Problem(f"{origin}:{error.line}", error.path, error.problem)]) from None
    if doc.data is None:
        raise InputError([Problem(origin, None, "holds no requirements, only comments or null "
                                  f"({_EMPTY_HINT})")])
    return parse_requirements(doc.data, origin, doc)
