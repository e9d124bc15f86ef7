"""Memoisation shared by the pipeline's steps: what a rule set implies, worked out once per rule
set, and bounded caches of pieces that many reports share."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from advisor.catalog import Catalog

_Key = TypeVar("_Key", bound=Hashable)
_Made = TypeVar("_Made")

# A cache of shared pieces starts again once it holds this many, so a long-lived process that
# keeps seeing new values stays bounded (a few MB per cache).
LIMIT = 20_000

_PER_RULE_SET: dict[tuple[Callable[[Any], Any], str], Any] = {}


def per_rule_set(build: Callable[[Catalog], _Made], catalog: Catalog) -> _Made:
    """``build(catalog)``, made once per rule set: the digest covers every knowledge file."""
    key = (build, catalog.digest)
    made = _PER_RULE_SET.get(key)
    if made is None:
        made = _PER_RULE_SET[key] = build(catalog)
    return made


def remember(cache: dict[_Key, _Made], key: _Key, made: _Made) -> _Made:
    """Store ``made`` under ``key`` (emptying a full cache first) and return it."""
    if len(cache) >= LIMIT:
        cache.clear()
    cache[key] = made
    return made


def value_key(values: Iterable[object]) -> tuple[object, ...]:
    """Fact values as a hashable key. The class keeps true, 1 and 1.0 apart (equal, and hashed
    alike, in Python); a list counts as the tuple of its items."""
    return tuple((value.__class__, tuple(value) if isinstance(value, list) else value)
                 for value in values)
