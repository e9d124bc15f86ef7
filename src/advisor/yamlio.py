"""YAML reading that remembers where every value came from, for errors that name a line.

Documents come from users (requirements, rule directories given with ``--rules``), so reading
one is bounded: no anchors or aliases (a few hundred bytes of nested aliases expand to
gigabytes), no nesting deeper than ``MAX_DEPTH``, no integer longer than ``MAX_DIGITS``, and
every value echoed in a message is clipped to ``ECHO_LIMIT`` characters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
# libyaml's parser when PyYAML was built with it (about 10x faster); same safe constructor.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Requirements nest three levels and rule files about eight; deeper is a mistake or an attack.
MAX_DEPTH = 64
# The largest bundled file (rules/_sources.yaml) holds under 7,000 values. Each value costs about
# a kilobyte and 20 microseconds while it is located, so a megabyte of "[1,1,1,...]" must be
# refused before it is composed.
MAX_NODES = 100_000
# The largest value any document holds has 13 digits; Python refuses to read past 4,300.
MAX_DIGITS = 100
# How much of a value a message shows before it is cut.
ECHO_LIMIT = 200

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Scalars whose constructor calls int(), float() or date(), which raise ValueError on bad text.
_CHECKED_TAGS = {"tag:yaml.org,2002:int": "an integer", "tag:yaml.org,2002:float": "a number",
                 "tag:yaml.org,2002:timestamp": "a date"}


class YamlError(Exception):
    """A file is not well-formed YAML, repeats a key, or is outside the bounds above;
    ``path`` names the value when the problem is with one."""

    def __init__(self, line: int, problem: str, path: Path_ | None = None) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem
        self.path = path


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` as a message may echo it: whole when short, else its start, an ellipsis and
    its length (a 900 KB value must not become a 900 KB error message)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


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


def decode_utf8(raw: bytes) -> str:
    """``raw`` as text, without a leading byte-order mark; ``YamlError`` naming the first byte
    that is not UTF-8, its line and its offset."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise YamlError(line, f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset "
                              f"{error.start})") from None
    return text.removeprefix("\ufeff")


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, reading at most ``limit + 1`` of them (a pipe or device has no
    size to check first); ``YamlError`` when there are more. ``OSError`` as raised."""
    with path.open("rb") as stream:
        raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise YamlError(1, f"larger than {limit:,} bytes")
    return raw


def _scan(text: str, allow_aliases: bool, max_nodes: int) -> None:
    """``YamlError`` at the first anchor or alias (unless allowed) and past ``max_nodes``
    values, found in the event stream, where nothing has been built or expanded yet."""
    # Neither can be written without its sigil, and every value takes at least half a
    # character ("{:,:}"), so most documents need no scan.
    anchors = not allow_aliases and ("&" in text or "*" in text)
    if not anchors and len(text) * 2 < max_nodes:
        return
    count = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if not isinstance(event, yaml.NodeEvent):
            continue
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if event.anchor is not None and not allow_aliases:
            sigil = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise YamlError(line,
                            f"YAML anchors and aliases are not accepted (found "
                            f"{sigil}{clip(event.anchor, 40)}); write each value out in full")
        count += 1
        if count > max_nodes:
            raise YamlError(line, f"holds more than {max_nodes:,} values")


def _check_scalar(node: yaml.ScalarNode, path: Path_,
                  constructor: yaml.constructor.SafeConstructor) -> None:
    """``YamlError`` for an integer past ``MAX_DIGITS`` digits (Python refuses to read one past
    4,300) and for a scalar its constructor cannot read ("!!int abc", "2001-02-30")."""
    kind = _CHECKED_TAGS.get(node.tag)
    if kind is None:
        return
    line = node.start_mark.line + 1
    if node.tag.endswith(":int") and sum(char.isdigit() for char in node.value) > MAX_DIGITS:
        raise YamlError(line, f"a number has more than {MAX_DIGITS} digits", path)
    try:
        constructor.construct_object(node)
    except (ValueError, OverflowError):
        raise YamlError(line, f"not {kind}: {json.dumps(clip(node.value))}", path) from None


@dataclass
class _Open:
    """A collection being read in the event stream: its path (None inside a key), and where
    the next node goes (a sequence's next index; a mapping's current key, or None while a key
    is awaited or when it is not plain text)."""

    path: Path_ | None
    is_sequence: bool
    index: int = 0
    key: str | None = None
    awaiting_key: bool = True

    def child(self, event: yaml.NodeEvent) -> Path_ | None:
        """The path of the node ``event`` starts (None for a key or inside one)."""
        if self.is_sequence:
            self.index += 1
            return None if self.path is None else (*self.path, self.index - 1)
        if self.awaiting_key:
            self.awaiting_key = False
            self.key = str(event.value) if isinstance(event, yaml.ScalarEvent) else None
            return None
        self.awaiting_key = True
        return None if self.path is None or self.key is None else (*self.path, self.key)


def _alias_lines(text: str) -> dict[Path_, int]:
    """The line each alias is written on, by the path it is written at. A composed alias is
    its anchor's node and carries the anchor's line, so this reads the event stream, where
    aliases are not followed."""
    out: dict[Path_, int] = {}
    open_: list[_Open] = []
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.CollectionEndEvent):
            open_.pop()
        elif isinstance(event, yaml.NodeEvent):
            path = open_[-1].child(event) if open_ else ()
            if isinstance(event, yaml.AliasEvent) and path is not None:
                out[path] = event.start_mark.line + 1 if event.start_mark is not None else 1
            elif isinstance(event, yaml.CollectionStartEvent):
                open_.append(_Open(path, isinstance(event, yaml.SequenceStartEvent)))
    return out


def _walk(root: yaml.Node, lines: dict[Path_, int], allow_aliases: bool,
          alias_lines: dict[Path_, int]) -> None:
    """Record the line of every value (for an alias, the line it is written on, from
    ``alias_lines``); refuse repeated keys, merge keys (unless aliases are allowed), complex
    keys, nesting past ``MAX_DEPTH`` and scalars their constructor would fail on. Iterative:
    the depth is checked here, not by Python's recursion limit. A value shared by aliases is
    walked once, where its anchor is, so paths inside it through an alias are not recorded
    and ``line_of`` answers with the alias's line."""
    constructor = yaml.constructor.SafeConstructor()
    walked: set[int] = set()
    pending: list[tuple[yaml.Node, Path_, int]] = [(root, (), 1)]
    while pending:
        node, path, depth = pending.pop()
        line = node.start_mark.line + 1
        if id(node) in walked:  # an alias: its value was walked where its anchor is
            lines.setdefault(path, alias_lines.get(path, line))
            continue
        lines.setdefault(path, line)
        walked.add(id(node))
        if depth > MAX_DEPTH:
            raise YamlError(line, f"nests deeper than {MAX_DEPTH} levels", path)
        if isinstance(node, yaml.ScalarNode):
            _check_scalar(node, path, constructor)
        elif isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            children: list[tuple[yaml.Node, Path_, int]] = []
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    raise YamlError(line, "a key must be plain text, not a list or mapping",
                                    path)
                if key_node.tag == _MERGE_TAG and not allow_aliases:
                    raise YamlError(line, "YAML merge keys (<<) are not accepted; write each "
                                          "key out in full", path)
                key = str(key_node.value)
                if key in seen:
                    # PyYAML keeps the last duplicate silently; a repeated `when` would drop
                    # clauses.
                    raise YamlError(line, f"key '{clip(key)}' repeats the one on line "
                                          f"{seen[key]}", path)
                seen[key] = line
                child = (*path, key)
                lines[child] = line
                children.append((value_node, child, depth + 1))
            pending.extend(reversed(children))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, (*path, index), depth + 1)
                           for index, item in reversed(list(enumerate(node.value))))


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
    except (ValueError, RecursionError):
        return text
    return _SURROGATE_PAIR.sub(_joined_surrogates, text)


def parse_yaml(text: str, *, allow_aliases: bool = False,
               max_nodes: int = MAX_NODES) -> LocatedDocument:
    """Parse one YAML document safely, recording lines; ``YamlError`` for malformed YAML, a
    repeated key, more than ``max_nodes`` values, nesting past ``MAX_DEPTH``, an integer past
    ``MAX_DIGITS`` digits, and, unless ``allow_aliases`` (for trusted files such as the bundled
    questionnaire), anchors, aliases and merge keys. Nothing is constructed before these checks
    pass."""
    text = _yaml_escapes(text)
    try:
        _scan(text, allow_aliases, max_nodes)
        node = yaml.compose(text, Loader=_LOADER)
        lines: dict[Path_, int] = {}
        if node is not None:
            aliases = _alias_lines(text) if allow_aliases and "*" in text else {}
            _walk(node, lines, allow_aliases, aliases)
        data = yaml.constructor.SafeConstructor().construct_document(node) if node else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, f"malformed YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlError(1, f"malformed YAML: {clip(str(error))}") from None
    except RecursionError:  # PyYAML's pure-Python composer recurses once per level
        raise YamlError(1, f"nests deeper than {MAX_DEPTH} levels") from None
    return LocatedDocument(data, lines)
