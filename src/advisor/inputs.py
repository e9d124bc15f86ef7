"""Read a requirements file (YAML or JSON) into a validated ``Requirements`` model.

Errors name the file, the line, the field path, what was wrong and what is allowed.
"""

from __future__ import annotations

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
from advisor.yamlio import LocatedDocument, YamlError, parse_yaml

MAX_INPUT_BYTES = 1_000_000


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


class InputError(Exception):
    """The requirements are invalid; ``details`` holds each problem, ``problems`` each as a
    line ('<origin>[:line]: <field>: <problem> (<allowed>)')."""

    def __init__(self, details: Sequence[Problem]) -> None:
        self.details = list(details)
        self.problems = [str(problem) for problem in self.details]
        super().__init__("\n".join(self.problems))


@functools.lru_cache(maxsize=1)
def _section_schemas() -> dict[str, dict[str, Any]]:
    """Each section's JSON Schema properties, from the model itself (one source of truth)."""
    schema = Requirements.model_json_schema()
    out: dict[str, dict[str, Any]] = {}
    for section, reference in schema["properties"].items():
        name = reference["$ref"].rsplit("/", 1)[-1]
        out[section] = schema["$defs"][name]["properties"]
    return out


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
    spec = requirement_fact_specs().get(f"{section}.{field}")
    if spec is None:
        return "free text"
    if spec.type in ("enum", "set"):
        prefix = "a list of" if spec.type == "set" else "one of"
        return f"{prefix}: " + ", ".join(spec.values)
    if spec.type == "bool":
        return "true or false"
    return _describe_number(spec)


def _unsupported_value(data: Any, path: tuple[str | int, ...] = ()) -> tuple[Any, ...] | None:
    """The path of the first value JSON cannot carry (a YAML date, a set ...), if any."""
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                return (*path, repr(key))
            found = _unsupported_value(value, (*path, key))
            if found is not None:
                return found
        return None
    if isinstance(data, list):
        for index, value in enumerate(data):
            found = _unsupported_value(value, (*path, index))
            if found is not None:
                return found
        return None
    if data is None or isinstance(data, bool | int | float | str):
        return None
    return path


def describe_validation_error(
    error: ValidationError, origin: str, doc: LocatedDocument | None = None
) -> list[Problem]:
    """One problem per validation error, with what is allowed in the field."""
    out = []
    for item in error.errors():
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
            problem = item["msg"][0].lower() + item["msg"][1:]
            given = item.get("input")
            if not isinstance(given, Mapping | list):
                problem += f", got {json.dumps(given)}"
            allowed = _allowed(section, name) if loc else ""
        where = f"{origin}:{doc.line_of(loc)}" if doc is not None else origin
        suffix = f" ({allowed})" if allowed else ""
        out.append(Problem(where, loc, f"{problem}{suffix}"))
    return out


def parse_requirements(data: Any, origin: str = "<input>",
                       doc: LocatedDocument | None = None) -> Requirements:
    """Validate plain data as requirements (strict: no coercion of 'yes' or '1')."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError([Problem(origin, (), "expected a mapping of sections, "
                                  f"got {type(data).__name__}")])
    bad = _unsupported_value(data)
    if bad is not None:
        where = f"{origin}:{doc.line_of(bad)}" if doc is not None else origin
        raise InputError([Problem(where, bad, "unsupported value (use true/false, a number, "
                                  "a string or a list; quote dates)")])
    text = json.dumps(data)
    try:
        return Requirements.model_validate_json(text)
    except ValidationError as error:
        raise InputError(describe_validation_error(error, origin, doc)) from None


def read_requirements(path: str) -> Requirements:
    """Read requirements from a file path, or standard input for '-'."""
    origin = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read(MAX_INPUT_BYTES + 1)
        else:
            file = Path(path)
            if file.is_dir():
                raise InputError([Problem(origin, None, "is a directory, not a requirements file")])
            if not file.is_file():
                raise InputError([Problem(origin, None, "no such file")])
            if file.stat().st_size > MAX_INPUT_BYTES:
                raise InputError([Problem(origin, None,
                                          f"file is larger than {MAX_INPUT_BYTES} bytes")])
            text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError([Problem(origin, None, "not UTF-8 text")]) from None
    except OSError as error:
        raise InputError([Problem(origin, None, f"cannot read: {error.strerror}")]) from None
    if len(text) > MAX_INPUT_BYTES:
        raise InputError([Problem(origin, None, f"input is larger than {MAX_INPUT_BYTES} bytes")])
    try:
        doc = parse_yaml(text)  # YAML is a superset of JSON: one parser for both
    except YamlError as error:
        raise InputError([Problem(f"{origin}:{error.line}", None, error.problem)]) from None
    return parse_requirements(doc.data, origin, doc)
