"""The plain-Python backend: the reference oracle every other backend is compared with.

Per round, rules are indexed by (fact, value) of one equality clause, so a profile only visits
rules that can possibly match; rules without an equality clause are always visited. Clause
semantics are the engine contract: a clause on an absent (unknown) fact never holds, except
``exists: false``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from advisor.conditions import holds
from advisor.engine.base import (
    Chooser,
    CompiledClause,
    CompiledRule,
    CompiledRules,
    Firing,
    MatchedValue,
    Recorded,
    RuleIndex,
    Trace,
    matched_values,
    record_chain,
    rerun_chain,
    run_chain,
)
from advisor.facts import Facts, FactValue
from advisor.models.rule import Operator

_Key = tuple[str, bool | int | float | str]


def clause_holds(clause: CompiledClause, facts: Facts) -> bool:
    """Whether one compiled clause holds for these facts."""
    return holds(clause.fact, clause.operator, clause.operand, facts)


def _lookup(facts: Facts) -> Callable[[str], MatchedValue]:
    def read(name: str) -> MatchedValue:
        value = facts.get(name)
        return tuple(str(item) for item in value) if isinstance(value, tuple) else value

    return read


class ReferenceEngine:
    """Forward chaining in plain Python over compiled rules."""

    name = "python"

    def __init__(self, rules: CompiledRules, firing_budget: int | None = None) -> None:
        self._rules = rules
        self._budget = firing_budget if firing_budget is not None else rules.count + 1
        self._indexed: list[dict[_Key, list[CompiledRule]]] = []
        self._unindexed: list[list[CompiledRule]] = []
        self._by_id: list[dict[str, CompiledRule]] = [
            {rule.id: rule for rule in group} for group in rules.rounds]
        self._index = RuleIndex(rules)
        for group in rules.rounds:
            index: dict[_Key, list[CompiledRule]] = defaultdict(list)
            rest: list[CompiledRule] = []
            for rule in group:
                key = next(
                    (
                        (clause.fact, clause.operand)
                        for clause in rule.clauses
                        if clause.operator is Operator.equals
                        and not isinstance(clause.operand, tuple)
                    ),
                    None,
                )
                if key is None:
                    rest.append(rule)
                else:
                    index[key].append(rule)
            self._indexed.append(dict(index))
            self._unindexed.append(rest)

    def _candidates(self, round_index: int, facts: dict[str, FactValue]) -> list[CompiledRule]:
        index = self._indexed[round_index]
        found: list[CompiledRule] = list(self._unindexed[round_index])
        for name, value in facts.items():
            if isinstance(value, tuple):
                continue
            found.extend(index.get((name, value), ()))
        return found

    def match_round(self, round_index: int, facts: dict[str, FactValue]) -> list[Firing]:
        """The firings of one round, each rule at most once (refraction)."""
        return self._matching(round_index, facts, self._candidates(round_index, facts))

    def match_rules(self, round_index: int, facts: dict[str, FactValue],
                    rule_ids: frozenset[str]) -> list[Firing]:
        """The firings ``match_round`` reports for just the named rules of one round."""
        by_id = self._by_id[round_index]
        return self._matching(round_index, facts, [by_id[rule_id] for rule_id in rule_ids])

    @staticmethod
    def _matching(round_index: int, facts: dict[str, FactValue],
                  rules: list[CompiledRule]) -> list[Firing]:
        fired: dict[str, Firing] = {}
        for rule in rules:
            if rule.id in fired:
                continue
            if all(clause_holds(clause, facts) for clause in rule.clauses):
                fired[rule.id] = Firing(
                    rule_id=rule.id,
                    round=round_index,
                    priority=rule.priority,
                    matched=matched_values(rule, _lookup(facts)),
                    slot=rule.slot,
                    component=rule.component,
                )
        return list(fired.values())

    def evaluate(self, facts: Facts, choose: Chooser, rounds: int | None = None) -> Trace:
        """Evaluate every round (or the first ``rounds``) over ``facts``."""
        return run_chain(self.name, self._rules, facts, choose, self.match_round, self._budget,
                         rounds)

    def record(self, facts: Facts, choose: Chooser) -> Recorded:
        """Evaluate every round over ``facts``, keeping what each matched."""
        return record_chain(self.name, self._rules, facts, choose, self.match_round,
                            self._budget)

    def reevaluate(self, base: Recorded, facts: Facts, choose: Chooser,
                   rounds: int | None = None, slots: Iterable[str] | None = None) -> Trace:
        """``evaluate(facts, choose, rounds)``, matching again only the rules that read a fact
        that differs from ``base``'s."""
        return rerun_chain(self.name, self._rules, self._index, base, facts, choose,
                           self.match_rules, self._budget, rounds, slots)
