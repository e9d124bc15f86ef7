"""Ties: two rules of one priority that fill one slot differently and can fire together are
refused by lint, because rule id order would decide between them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from advisor.catalog import Catalog, load_catalog
from advisor.lint import lint_catalog
from advisor.models.rule import Clause
from advisor.overlap import exclusive, silent_ties
from support import VALID_RULE, minimal_rules


def _clauses(*items: dict[str, Any]) -> list[Clause]:
    return [Clause.model_validate(item) for item in items]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ({"fact": "data.model", "equals": "key_value"}, {"fact": "data.model", "equals": "graph"},
         True),
        ({"fact": "data.model", "one_of": ["graph", "document"]},
         {"fact": "data.model", "one_of": ["document", "key_value"]}, False),
        ({"fact": "data.model", "equals": "graph"},
         {"fact": "data.model", "not_equals": "graph"}, True),
        ({"fact": "traffic.peak_rps", "gt": 100}, {"fact": "traffic.peak_rps", "lte": 100}, True),
        ({"fact": "traffic.peak_rps", "gte": 100}, {"fact": "traffic.peak_rps", "lte": 100},
         False),
        ({"fact": "traffic.peak_rps", "gt": 100}, {"fact": "traffic.peak_rps", "lt": 101}, False),
        ({"fact": "streaming.consumer_count", "equals": 1},
         {"fact": "streaming.consumer_count", "gte": 2}, True),
        ({"fact": "traffic.peak_rps", "exists": False}, {"fact": "traffic.peak_rps", "gt": 0},
         True),
        ({"fact": "traffic.peak_rps", "exists": True}, {"fact": "traffic.peak_rps", "gt": 0},
         False),
        ({"fact": "traffic.global_users", "equals": True},
         {"fact": "traffic.global_users", "equals": False}, True),
        ({"fact": "data.model", "equals": "graph"}, {"fact": "traffic.peak_rps", "gt": 0}, False),
    ],
)
def test_exclusive_is_true_only_when_the_clauses_contradict(
    first: dict[str, Any], second: dict[str, Any], expected: bool,
) -> None:
    assert exclusive(_clauses(first), _clauses(second)) is expected
    assert exclusive(_clauses(second), _clauses(first)) is expected


TIED_RULE = VALID_RULE.replace("DATA-900", "DATA-902").replace(
    "component: dynamodb", "component: documentdb").replace(
    "Test rule that recommends DynamoDB", "Test rule that recommends DocumentDB").replace(
    "  - {component: aurora, because: A relational engine is not needed for key lookups.}",
    "  - {component: aurora, because: A relational engine is not needed here.}")


def test_lint_refuses_two_rules_of_one_priority_that_can_fire_together(tmp_path: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE,
                                    "data/DATA-902-tied.yaml": TIED_RULE})
    problems = lint_catalog(load_catalog(root, use_cache=False))
    assert problems == [
        "rules/data/DATA-902-tied.yaml: DATA-902: priority: ties with DATA-900 "
        "(rules/data/DATA-900-test.yaml) at priority 50 in slot 'primary_datastore', proposing "
        "documentdb against dynamodb, and nothing in their conditions keeps them from firing "
        "together (give the rule whose reason prevails a higher priority, or add the clause "
        "that excludes the other)"]


# The tied rule made one priority point higher, or made to fire only for document data.
HIGHER = TIED_RULE.replace("priority: 50", "priority: 51")
EXCLUDING = TIED_RULE.replace("equals: key_value}", "equals: document}").replace(
    "{name: kv, requirements: {data: {model: key_value}}}",
    "{name: doc, requirements: {data: {model: document}}}")


@pytest.mark.parametrize("tied", [HIGHER, EXCLUDING], ids=["higher-priority", "excluding-clause"])
def test_a_different_priority_or_an_excluding_clause_ends_the_tie(
    tmp_path: Path, tied: str,
) -> None:
    assert tied != TIED_RULE
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE,
                                    "data/DATA-902-tied.yaml": tied})
    assert lint_catalog(load_catalog(root, use_cache=False)) == []


def test_the_bundled_rules_have_no_silent_tie(catalog: Catalog) -> None:
    assert [(tie.slot, tie.priority, tie.first, tie.second)
            for tie in silent_ties(catalog)] == []
