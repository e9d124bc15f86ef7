"""Engine behaviour pinned: empty results, determinism, isolation, surfaced errors, limits."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence

import durable_rules_engine as core
import pytest

from advisor.catalog import Catalog
from advisor.engine.base import (
    CompiledClause,
    CompiledRule,
    CompiledRules,
    CompileError,
    EngineError,
    Firing,
    compile_rules,
)
from advisor.engine.durable import DurableEngine, pack_rulesets
from advisor.engine.reference import ReferenceEngine
from advisor.inputs import parse_requirements
from advisor.models.rule import Operator
from advisor.pipeline import Advisor
from advisor.ranking import choose_winners

ENGINES = ("python", "durable")


def _synthetic(count: int, round_count: int = 1) -> CompiledRules:
    """``count`` one-clause rules that all match ``{"traffic.peak_rps": 5}``, each with its own
    threshold (so none shares an alpha node)."""
    rounds = []
    for round_index in range(round_count):
        rounds.append(tuple(
            CompiledRule(id=f"SYN-{round_index}{index:03d}", area="data", priority=index % 7,
                         round=round_index, slot=None, component=None,
                         clauses=(CompiledClause("traffic.peak_rps", Operator.gt,
                                                 index / 1000),))
            for index in range(count)
        ))
    return CompiledRules(tuple(rounds), "synthetic")


def _no_decisions(firings: Sequence[Firing], decided: Mapping[str, str]) -> dict[str, str]:
    return {}


@pytest.mark.parametrize("engine", ENGINES)
def test_no_matching_rule_gives_an_empty_result(advisors: dict[str, Advisor], engine: str) -> None:
    report = advisors[engine].recommend(parse_requirements({}))
    assert report.trace == ()
    assert report.decisions == ()
    assert report.graph.nodes == ()


@pytest.mark.parametrize("engine", ENGINES)
def test_same_input_twice_gives_identical_results(advisors: dict[str, Advisor], engine: str) -> None:
    requirements = parse_requirements({"workload": {"kind": "web_app"},
                                       "data": {"model": "relational", "needs_joins": True},
                                       "operations": {"prefer_serverless": True}})
    first = advisors[engine].recommend(requirements)
    second = advisors[engine].recommend(requirements)
    assert first.model_dump_json() == second.model_dump_json()


def test_durable_handles_more_rules_than_one_ruleset_may_hold() -> None:
    # 200 matching one-test rules would overflow one ruleset's 64-entry stack (error 303, then
    # a crash); packed, they run in several rulesets and every one fires.
    rules = _synthetic(200)
    packed = pack_rulesets(rules)
    assert len(packed[0]) > 1
    firings = DurableEngine(rules).evaluate({"traffic.peak_rps": 5}, _no_decisions).firings
    reference = ReferenceEngine(rules).evaluate({"traffic.peak_rps": 5}, _no_decisions).firings
    assert len(firings) == 200
    assert firings == reference


def test_a_rule_too_big_for_any_ruleset_is_a_compile_error_naming_it() -> None:
    # 70 'one of' branches on numbers under one node: the model counts every numeric branch as
    # a possible match (1, 1.0 and true are not assumed distinct), so one rule is over the limit.
    clauses = (CompiledClause("traffic.peak_rps", Operator.one_of,
                              tuple(float(i) for i in range(70))),)
    rules = CompiledRules(((CompiledRule(id="BIG-001", area="data", priority=1, round=0,
                                         slot=None, component=None, clauses=clauses),),), "x")
    with pytest.raises(CompileError, match=r"BIG-001 \(one fact can leave 70 alpha tests "
                                           r"pending \(limit 64\)\)"):
        DurableEngine(rules)


@pytest.mark.parametrize("engine_class", [ReferenceEngine, DurableEngine])
def test_firing_budget_is_enforced(engine_class: type) -> None:
    engine = engine_class(_synthetic(10), firing_budget=5)
    with pytest.raises(EngineError, match="firing budget of 5"):
        engine.evaluate({"traffic.peak_rps": 5}, _no_decisions)


class _FailingAction(DurableEngine):
    """An engine whose actions raise, as a broken action wrapper would."""

    def _action(self, rule: CompiledRule):  # type: ignore[no-untyped-def]
        def fail(matched: object) -> None:
            raise ValueError(f"boom in {rule.id}")

        return fail


def test_durable_surfaces_an_error_raised_inside_an_action() -> None:
    # durable-rules' own host stores an action's exception in state["exception"] and returns
    # normally; the backend must turn a failing action into a failed evaluation, not an empty
    # result.
    engine = _FailingAction(_synthetic(3))
    with pytest.raises(EngineError, match="boom in SYN-0"):
        engine.evaluate({"traffic.peak_rps": 5}, _no_decisions)


def test_durable_evaluations_in_concurrent_threads_do_not_see_each_other(
    durable: Advisor, reference: Advisor
) -> None:
    profiles = [
        {"workload": {"kind": "web_app"}, "data": {"model": "relational", "needs_joins": True}},
        {"workload": {"kind": "messaging"}, "operations": {"prefer_serverless": True}},
        {"workload": {"kind": "api"}, "operations": {"needs_os_access": True}},
        {"operations": {"kubernetes_experience": True}},
    ]
    expected = [reference.recommend(parse_requirements(p)).trace for p in profiles]
    failures: list[str] = []

    def work(index: int) -> None:
        for _ in range(40):
            trace = durable.recommend(parse_requirements(profiles[index])).trace
            if [f.model_dump() for f in trace] != [f.model_dump() for f in expected[index]]:
                failures.append(f"profile {index}")
                return

    threads = [threading.Thread(target=work, args=(i % len(profiles),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_two_durable_engines_in_one_process_stay_independent(catalog: Catalog) -> None:
    compiled = compile_rules(catalog)
    first, second = DurableEngine(compiled), DurableEngine(compiled)
    facts = {"workload.kind": "web_app", "operations.prefer_serverless": True}
    assert first.evaluate(facts, choose_winners) == second.evaluate(facts, choose_winners)


def test_durable_never_deletes_a_state_that_holds_no_fact(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deleting the state of a sid whose only assertion no rule handled is undefined behaviour
    # in the C core: it segfaulted on CPython 3.11 here and survived on 3.10. The sentinel rule
    # means every assertion stores its fact, so every deleted state holds one.
    # Without the prefilter every ruleset of every round is asserted, sentinel included.
    original = core.delete_state
    for prefilter in (False, True):
        engine = DurableEngine(compile_rules(catalog), prefilter=prefilter)
        checked: list[int] = []

        def delete_state(handle: int, sid: str, *, _checked: list[int] = checked) -> None:
            facts = json.loads(core.get_facts(handle, sid))
            assert facts, f"ruleset {handle}: deleting a state with no stored fact"
            _checked.append(handle)
            original(handle, sid)

        monkeypatch.setattr(core, "delete_state", delete_state)
        for facts in ({}, {"traffic.peak_rps": 1}, {"workload.kind": "web_app"}):
            engine.evaluate(facts, choose_winners)
        monkeypatch.setattr(core, "delete_state", original)
        if not prefilter:
            assert len(checked) >= 3 * len(catalog.strata)
        else:
            assert checked  # the web_app profile reaches some rulesets
