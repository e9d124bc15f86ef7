"""Read a requirements file (YAML or JSON) into a validated ``Requirements`` model.

Errors name the file, the line, the field path, what was wrong and what is allowed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from advisor.facts import requirement_fact_specs
from advisor.models.requirements import Requirements
from advisor.yamlio import LocatedDocument, YamlError, parse_yaml

MAX_INPUT_BYTES = 1_000_000


class InputError(Exception):
    """The requirements are invalid; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _allowed(section: str, field: str) -> str:
    if section not in Requirements.model_fields:
        return "allowed sections: " + ", ".join(Requirements.model_fields)
    model = Requirements.model_fields[section].annotation
    fields = getattr(model, "model_fields", {})
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
    return "a number"


def describe_validation_error(
    error: ValidationError, origin: str, doc: LocatedDocument | None = None
) -> list[str]:
    """One line per problem: '<origin>[:line]: <field>: <problem> (<allowed>)'."""
    out = []
    for item in error.errors():
        loc = tuple(item["loc"])
        field = ".".join(str(part) for part in loc) or "(document)"
        section = str(loc[0]) if loc else ""
        name = str(loc[1]) if len(loc) > 1 else ""
        if item["type"] == "extra_forbidden":
            problem = "unknown key"
            allowed = _allowed(section, name if len(loc) > 1 else "")
            if len(loc) == 1:
                allowed = "allowed sections: " + ", ".join(Requirements.model_fields)
        else:
            problem = item["msg"][0].lower() + item["msg"][1:]
            given = item.get("input")
            if not isinstance(given, Mapping | list):
                problem += f", got {json.dumps(given)}"
            allowed = _allowed(section, name) if len(loc) >= 2 else ""
        where = f"{origin}:{doc.line_of(loc)}" if doc is not None else origin
        suffix = f" ({allowed})" if allowed else ""
        out.append(f"{where}: {field}: {problem}{suffix}")
    return out


def parse_requirements(data: Any, origin: str = "<input>",
                       doc: LocatedDocument | None = None) -> Requirements:
    """Validate plain data as requirements (strict: no coercion of 'yes' or '1')."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError([f"{origin}: (document): expected a mapping of sections, "
                          f"got {type(data).__name__}"])
    try:
        text = json.dumps(data)
    except (TypeError, ValueError) as error:
        raise InputError([f"{origin}: (document): unsupported value: {error}"]) from None
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
            if not file.is_file():
                raise InputError([f"{origin}: no such file"])
            if file.stat().st_size > MAX_INPUT_BYTES:
                raise InputError([f"{origin}: file is larger than {MAX_INPUT_BYTES} bytes"])
            text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError([f"{origin}: not UTF-8 text"]) from None
    except OSError as error:
        raise InputError([f"{origin}: cannot read: {error.strerror}"]) from None
    if len(text) > MAX_INPUT_BYTES:
        raise InputError([f"{origin}: input is larger than {MAX_INPUT_BYTES} bytes"])
    try:
        doc = parse_yaml(text)  # YAML is a superset of JSON: one parser for both
    except YamlError as error:
        raise InputError([f"{origin}:{error.line}: {error.problem}"]) from None
    return parse_requirements(doc.data, origin, doc)
