"""YAML reading that remembers where every value came from, for errors that name a line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
# libyaml's parser when PyYAML was built with it (about 10x faster); same safe constructor.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(Exception):
    """A file is not well-formed YAML, or repeats a key."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass
class LocatedDocument:
    """A parsed document plus the 1-based line of each value, keyed by its path."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of the deepest known prefix of ``path`` (1 when nothing matches)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                # PyYAML keeps the last duplicate silently; a repeated `when` would drop clauses.
                raise YamlError(line, f"key '{key}' repeats the one on line {seen[key]}")
            seen[key] = line
            child = (*path, key)
            lines[child] = line
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child_path: Path_ = (*path, index)
            _walk(item, child_path, lines)


# A JSON escape pair for one character beyond the Basic Multilingual Plane ("\ud83d\ude00"), or an
# escaped backslash, which must be skipped so that "\\ud83d" stays literal text.
_SURROGATE_PAIR = re.compile(
    r"\\(\\|u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2}))")


def _joined_surrogates(match: re.Match[str]) -> str:
    if match.group(2) is None:
        return match.group(0)
    high, low = int(match.group(2), 16), int(match.group(3), 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"


def _yaml_escapes(text: str) -> str:
    """JSON text with surrogate-pair escapes written as YAML's 8-digit escapes: YAML reads JSON,
    but its parser refuses each half of a pair ("invalid Unicode character escape code"). Only
    text that is valid JSON is rewritten, where every backslash is inside a string."""
    if "\\u" not in text or _SURROGATE_PAIR.search(text) is None:
        return text
    try:
        json.loads(text)
    except ValueError:
        return text
    return _SURROGATE_PAIR.sub(_joined_surrogates, text)


def parse_yaml(text: str) -> LocatedDocument:
    """Parse one YAML document safely, rejecting duplicate keys, recording lines."""
    text = _yaml_escapes(text)
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.constructor.SafeConstructor().construct_document(node) if node else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, f"malformed YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlError(1, f"malformed YAML: {error}") from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return LocatedDocument(data, lines)
