"""The alpha-network model that packs rulesets, checked against the real durable-rules C core.

Each shape is built twice: modelled here, and registered with the C core in a child process
(error 303 is followed by a crash when the state is deleted, so it must not happen in the test
process). A fact that matches every test realises the modelled worst case: at 64 pending
tests the core must succeed, at 65 it must fail with error 303, exactly as the model predicts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from advisor.engine.alpha_network import STACK_LIMIT, AlphaNetwork
from advisor.engine.base import CompiledClause, CompiledRule, CompiledRules
from advisor.engine.durable import (
    FACT_TYPE,
    pack_rulesets,
    rule_definition,
    ruleset_size,
    sentinel_definition,
    to_engine_fact,
)
from advisor.facts import FactValue
from advisor.models.rule import Operator

_PROBE = r"""
import json, os, sys
from durable import engine

class Host(engine.Host):
    def _run(self):
        return None

definitions, fact = json.loads(sys.stdin.read())
fired = []

def recorder(name):
    # One-argument actions: durable-rules treats a two-argument action as asynchronous.
    return lambda closure: fired.append(name)

for name, rule in definitions.items():
    rule["run"] = recorder(name)
host = Host()
host.set_rulesets({"probe": definitions})
try:
    host.assert_fact("probe", fact)
except Exception as error:
    print(json.dumps({"error": str(error)}), flush=True)
    os._exit(0)  # deleting the state after error 303 crashes the process
host.delete_state("probe", fact["sid"])
print(json.dumps({"fired": sorted(fired)}), flush=True)
"""


def _rule(rule_id: str, *clauses: CompiledClause) -> CompiledRule:
    return CompiledRule(id=rule_id, area="data", priority=1, round=0, slot=None,
                        component=None, clauses=clauses)


def _above(fact: str, threshold: float) -> CompiledClause:
    return CompiledClause(fact, Operator.gt, threshold)


def _in_core(rules: list[CompiledRule], facts: dict[str, FactValue]) -> dict[str, Any]:
    definitions = {rule.id: rule_definition(rule) for rule in rules}
    definitions["_stored"] = sentinel_definition()
    payload = json.dumps([definitions, to_engine_fact(facts)])
    completed = subprocess.run([sys.executable, "-c", _PROBE], input=payload,
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def _one_level(count: int) -> list[CompiledRule]:
    # Every rule's only test sits under the type test, and a peak of 5 passes all of them.
    return [_rule(f"ONE-{index:03d}", _above("traffic.peak_rps", index / 1000))
            for index in range(count)]


def _two_level(width: int) -> list[CompiledRule]:
    # Two first-level tests, each with ``width`` tests below it: while the second subtree is
    # walked, the first first-level node waits on the stack.
    return [
        _rule(f"TWO-{first}{second:03d}", _above("traffic.average_rps", first / 10),
              _above("traffic.peak_rps", second / 1000))
        for first in range(2) for second in range(width)
    ]


def _exclusive(count: int, others: int) -> list[CompiledRule]:
    # ``count`` equality tests on one property (at most one can match) beside ``others``
    # threshold tests that all match.
    equal = [_rule(f"EQ-{index:03d}", CompiledClause("workload.kind", Operator.equals,
                                                      f"kind-{index}"))
             for index in range(count)]
    return equal + _one_level(others)


@pytest.mark.parametrize(
    ("rules", "facts", "bound"),
    [
        (_one_level(64), {"traffic.peak_rps": 5}, 64),
        (_one_level(65), {"traffic.peak_rps": 5}, 65),
        (_two_level(63), {"traffic.average_rps": 5, "traffic.peak_rps": 5}, 64),
        (_two_level(64), {"traffic.average_rps": 5, "traffic.peak_rps": 5}, 65),
        (_exclusive(200, 63), {"workload.kind": "kind-7", "traffic.peak_rps": 5}, 64),
    ],
    ids=["one-level-64", "one-level-65", "two-level-64", "two-level-65", "exclusive-64"],
)
def test_the_modelled_stack_bound_is_what_the_core_enforces(
    rules: list[CompiledRule], facts: dict[str, FactValue], bound: int
) -> None:
    assert ruleset_size(rules).stack == bound
    result = _in_core(rules, facts)
    if bound <= STACK_LIMIT:
        expected = [rule.id for rule in rules
                    if not rule.id.startswith("EQ-") or rule.id == "EQ-007"]
        assert result == {"fired": sorted([*expected, "_stored"])}
    else:
        assert "303" in result["error"]


def test_packing_splits_exactly_where_the_core_would_fail() -> None:
    def packed(rules: list[CompiledRule]) -> list[int]:
        return [len(chunk) for chunk in pack_rulesets(CompiledRules((tuple(rules),), "x"))[0]]

    assert packed(_one_level(64)) == [64]
    assert packed(_one_level(65)) == [64, 1]
    assert packed(_two_level(63)) == [126]
    # Equality tests on one property share a stack entry, so they pack densely, until one
    # node holds more tests than the bucket limit allows.
    assert packed(_exclusive(150, 63)) == [213]
    assert packed(_exclusive(200, 63)) == [256, 7]


def test_shared_tests_are_one_node_and_distinct_types_are_not_merged() -> None:
    network = AlphaNetwork()
    for value in (1, 1.0, True, 1):
        network.add_rule({"all": [{"m": {"$and": [{"t": FACT_TYPE}, {"x": value}]}}]})
    # root, type test, then 1 / 1.0 / True (the repeated 1 is shared).
    assert network.size().nodes == 5
    assert network.size().most_betas == 2
    # Numbers are not assumed exclusive; the one boolean is.
    assert network.size().stack == 3


def test_one_of_branches_share_a_forward_node_that_carries_the_rest() -> None:
    network = AlphaNetwork()
    rule = _rule("OR-001", CompiledClause("workload.kind", Operator.one_of, ("a", "b", "c")),
                 _above("traffic.peak_rps", 1))
    network.add_rule(rule_definition(rule))
    size = network.size()
    # root, type, three branches, one forward node, the threshold below it.
    assert size.nodes == 7
    # Only one string branch can match, it pushes the forward node, which pushes one test.
    assert size.stack == 1
    assert size.widest_disjunctive == 1


def test_limits_other_than_the_stack_are_reported() -> None:
    network = AlphaNetwork()
    for index in range(300):
        network.add_rule({"all": [{"m": {"$and": [{"t": FACT_TYPE},
                                                  {"x": f"value-{index}"}]}}]})
    problems = network.size().problems()
    assert problems == ["300 tests under one alpha node (limit 256)"]
