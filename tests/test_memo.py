"""The shared caches: one build per rule set, bounded size, and keys that keep true, 1 and 1.0
apart (a report showing `true` must never reuse evidence built for `1`)."""

from __future__ import annotations

import dataclasses

from advisor import memo
from advisor.catalog import Catalog


def test_per_rule_set_builds_once_per_rule_set_and_again_for_another(catalog: Catalog) -> None:
    builds: list[str] = []

    def build(given: Catalog) -> list[str]:
        builds.append(given.digest)
        return [given.digest]

    first = memo.per_rule_set(build, catalog)
    assert memo.per_rule_set(build, catalog) is first
    changed = dataclasses.replace(catalog, digest=catalog.digest + "-edited")
    assert memo.per_rule_set(build, changed) == [changed.digest]
    assert builds == [catalog.digest, changed.digest]


def test_a_full_cache_starts_again_instead_of_growing() -> None:
    cache: dict[int, int] = {}
    for number in range(memo.LIMIT):
        memo.remember(cache, number, number)
    assert len(cache) == memo.LIMIT
    assert memo.remember(cache, -1, 7) == 7
    assert cache == {-1: 7}


def test_value_keys_tell_true_one_and_one_point_zero_apart() -> None:
    keys = {memo.value_key([value]) for value in (True, 1, 1.0)}
    assert len(keys) == 3
    listed = {memo.value_key([["a", "b"]]): "set members"}  # a list value still makes a key
    assert listed[memo.value_key([["a", "b"]])] == "set members"
    assert memo.value_key([["a", "b"]]) != memo.value_key([["b", "a"]])
    assert memo.value_key([None, "x"]) != memo.value_key(["x", None])
