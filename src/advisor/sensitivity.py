"""What would change each decision: the smallest requirement changes that give its slot another
component, derived from the clauses of the rules that can fill the slot and each confirmed by
evaluating the changed profile.

Candidates come from clause analysis alone, for each slot:

- make a rule that proposes another component hold (change the values its failing clauses
  test) and, when rules ranked above it still choose the current component, make each of those
  fail on one clause;
- make the winning rule fail on one clause (the next-ranked rule, or a rule the new value
  wakes, takes over).

A prediction over the slot's own rules, with the engine's clause semantics
(``conditions.holds``), drops the candidates that cannot change the winner. Every remaining
candidate is evaluated by the engine, and a flip is reported only if that evaluation decides the
slot differently. Changes touch at most ``MAX_CHANGES`` requirements.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from advisor.catalog import DECISION_PREFIX, Catalog
from advisor.conditions import holds, same_value
from advisor.engine.base import Trace
from advisor.facts import (
    DECIMALS,
    FactSpec,
    FactValue,
    derived_fact_inputs,
    derived_fact_specs,
    inputs_for_derived,
    is_fixed,
    requirement_facts,
    section_facts,
    with_derived_facts,
)
from advisor.memo import per_rule_set, remember
from advisor.models.report import Assumption, Change, Flip, Sensitivity
from advisor.models.requirements import Requirements, inconsistencies
from advisor.models.rule import Clause, Operator, Rule
from advisor.ranking import UNCONSTRAINED, Ranking, ranking_for
from advisor.resolve import describe_test

# The engine over facts already built, with a profile's ranking, for one slot.
Evaluate = Callable[[Mapping[str, FactValue], Ranking, str, int], Trace]
"""Runs the engine over a changed profile for one slot, up to the chaining round that decides
it (the pipeline supplies it): the trace must hold the slot's decision and firings as a full
evaluation has them, and may leave out what cannot decide the slot (rounds after round k,
rules the slot's decision does not depend on)."""

MAX_CHANGES = 3  # requirements one flip may change
_VALUES_PER_CLAUSE = 3  # values tried to make one clause hold or fail
_BLOCKERS = 2  # rules ranked above a target that a flip may make fail

@dataclass(frozen=True)
class _Test:
    """A rule clause as plain values (pydantic attribute access is slow in the search loops)."""

    fact: str
    operator: Operator
    operand: Any  # one_of operands as a tuple
    text: str  # as the report shows it, e.g. '> 10000'
    number: int  # the same clause (fact, operator, operand) has the same number in every rule


class _Tables:
    """What the search reads of a rule set, worked out once per rule set (``per_rule_set``)."""

    def __init__(self, catalog: Catalog) -> None:
        numbers: dict[tuple[str, Operator, Any], int] = {}
        # Each distinct clause once: rules share most (755 distinct among the 3,096 clauses and
        # exceptions of the 1,289-rule set), so a profile tests each once.
        self.clauses: list[tuple[str, Operator, Any]] = []

        def test(clause: Clause) -> _Test:
            operand = _operand(clause)
            key = (clause.fact, clause.operator, _hashable(operand))
            number = numbers.get(key)
            if number is None:
                number = numbers[key] = len(self.clauses)
                self.clauses.append((clause.fact, clause.operator, operand))
            return _Test(clause.fact, clause.operator, operand, describe_test(clause), number)

        self.tests = {rule.id: tuple(test(clause) for clause in rule.when)
                      for rule in catalog.rules}
        self.exception_tests = {rule.id: tuple(test(clause) for clause in rule.unless)
                                for rule in catalog.rules}
        # Each rule's facts (those its clauses and exceptions test), and among them those no
        # requirement change sets: decisions, and what already runs.
        self.facts = {rule.id: frozenset(clause.fact for clause in (*rule.when, *rule.unless))
                      for rule in catalog.rules}
        self.unchangeable = {rule_id: frozenset(fact for fact in facts
                                                if fact.startswith(DECISION_PREFIX)
                                                or is_fixed(fact))
                             for rule_id, facts in self.facts.items()}
        self.slot_of = {rule.id: rule.slot for rule in catalog.rules if rule.slot is not None}
        # Each requirement field some derived fact is computed from, with those derived facts.
        self.derived_from: dict[str, tuple[str, ...]] = {}
        for derived, inputs in derived_fact_inputs().items():
            for field in inputs:
                self.derived_from[field] = (*self.derived_from.get(field, ()), derived)
        # Each rule's facts that a ``contains`` clause or exception tests: the values that make
        # those hold or fail depend on the set as given.
        self.sets_read = {rule.id: tuple(sorted({clause.fact for clause in (*rule.when,
                                                                           *rule.unless)
                                                 if clause.operator is Operator.contains}))
                          for rule in catalog.rules}
        # The ways to make a rule hold, shared by profiles alike in what they depend on
        # (``_Search._satisfy``): a bounded cache (``memo.remember``). With the cache below,
        # the search takes 2.2 ms a profile against 3.2 on the examples searched again, and
        # 10.3-10.5 against 11.2-12.8 ms on 300 generated profiles searched once each
        # (docs/benchmarks.md). Pinned by test_sensitivity.py::
        # test_what_the_search_shares_between_profiles_changes_no_candidate.
        self.ways: dict[tuple[Any, ...], tuple[tuple[_Step, ...], ...]] = {}
        # The one-clause changes that make a rule fail, shared likewise (``_Search._fail``).
        self.failing_steps: dict[tuple[Any, ...], tuple[_Step, ...]] = {}
        # Each slot's rules in the order a profile without constraints ranks them.
        self.unconstrained = {
            slot: tuple(sorted(catalog.rules_for_slot(slot), key=lambda rule: UNCONSTRAINED.key(
                rule.id, _component(rule), rule.priority)))
            for slot in set(self.slot_of.values())}


class _Step(NamedTuple):
    """One fact value a candidate sets, and the clause that asked for it (a named tuple: the
    search makes thousands, and a frozen dataclass takes three times as long to make)."""

    fact: str
    value: FactValue
    effect: str  # "meets", "fails", "lifts" (an exception stops holding) or "excepts"
    rule_id: str
    test: str


class _Candidate(NamedTuple):
    """Requirement changes (field -> new value; None: not given) and why each was made."""

    changes: tuple[tuple[str, FactValue | None], ...]
    motives: tuple[tuple[str, _Step], ...]  # requirement field -> the step behind its change
    assumed: bool  # a change gives a value to a requirement that was not given
    key: tuple[tuple[str, Any], ...]  # the changes, each value with its type (true is not 1)


def analyse(
    catalog: Catalog,
    requirements: Requirements,
    decisions: Mapping[str, str],
    rounds: Mapping[str, int],
    assumptions: Sequence[Assumption],
    evaluate: Evaluate,
    exact: bool = True,
) -> dict[str, Sensitivity]:
    """For each decided slot, the confirmed flips: for each component the slot's rules could
    choose instead, the smallest requirement change after which the engine decides the slot
    with another component (a change that gives an unknown requirement a value first).

    A change that no rule of an earlier chaining round reads is decided by the slot's own rules
    without running the engine (``exact``), since nothing the slot's rules test can differ;
    ``exact=False`` confirms every candidate with the engine (the tests compare the two)."""
    given = requirement_facts(requirements)
    search = _Search(catalog, given, decisions, ranking_for(catalog, requirements))
    first_reader = per_rule_set(_first_deciding_round, catalog)
    valid: dict[tuple[tuple[str, Any], ...],
                tuple[Requirements, dict[str, FactValue]] | None] = {}
    outcomes: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[Trace, Ranking]] = {}
    out: dict[str, Sensitivity] = {}
    slot_of = per_rule_set(_Tables, catalog).slot_of
    # Each assumption with the slots whose rules consult it.
    consulting = [(item.fact, {slot_of.get(rule_id) for rule_id in item.consulted_by})
                  for item in assumptions]
    for slot, component in decisions.items():
        evaluated = 0
        flips: list[Flip] = []
        needed = rounds[slot] + 1  # the chaining round that decided the slot, counted from 0
        by_target: dict[str, list[tuple[_Candidate, str]]] = {}
        for candidate, target, rule_id in search.candidates(slot, component):
            by_target.setdefault(target, []).append((candidate, rule_id))
        for target in sorted(by_target):
            ordered = sorted(by_target[target],
                             key=lambda item: (len(item[0].changes), not item[0].assumed))
            for candidate, predicted in ordered:
                changes = candidate.key
                if changes not in valid:
                    valid[changes] = _changed(requirements, given, candidate.changes)
                found = valid[changes]
                if found is None:
                    continue
                evaluated += 1
                if exact and _unseen_before(search.changed_facts(candidate), rounds[slot],
                                            first_reader):
                    # No rule deciding an earlier round reads what changed, so every decision
                    # this slot's rules can test stays as it is, and the prediction over the
                    # slot's own rules is what the engine would decide: no need to run it.
                    flips.append(_flip(catalog, candidate, given, target, predicted))
                    break
                key = (slot, changes)
                if key not in outcomes:
                    changed, facts = found
                    ranking = ranking_for(catalog, changed)
                    outcomes[key] = (evaluate(facts, ranking, slot, needed), ranking)
                trace, ranking = outcomes[key]
                new = trace.decisions.get(slot)
                if new is None or new == component:
                    continue
                winner = min((firing for firing in trace.firings
                              if firing.slot == slot and firing.component == new),
                             key=ranking.order)
                flips.append(_flip(catalog, candidate, given, new, winner.rule_id))
                break
        out[slot] = Sensitivity(
            flips=_minimal(flips),
            unknown=[fact for fact, slots in consulting if slot in slots],
            evaluated=evaluated,
        )
    return out


# Requirement facts whose change also changes the ranking (which rules win what), not only
# which rules hold: the prediction over one slot's rules assumes the profile's ranking.
_RANKING_FACTS = frozenset({"constraints.keep", "constraints.replaceable"})


def _first_deciding_round(catalog: Catalog) -> dict[str, int]:
    """Per fact, the earliest chaining round (from 0) in which a rule that decides a slot tests
    it; a fact no such rule tests is absent."""
    first: dict[str, int] = {}
    for index, stratum in enumerate(catalog.strata):
        for rule_id in stratum:
            rule = catalog.rule(rule_id)
            if rule.slot is None:
                continue
            for clause in rule.when:
                first.setdefault(clause.fact, index)
    return first


def _unseen_before(changed: frozenset[str], round_: int, first_reader: Mapping[str, int]) -> bool:
    """Whether no rule deciding a slot before ``round_`` tests any of the ``changed`` facts, and
    the change leaves the ranking alone."""
    return changed.isdisjoint(_RANKING_FACTS) and all(
        first_reader.get(fact, round_) >= round_ for fact in changed)


class _After:
    """A candidate's effect on the facts: which facts it changes (its requirement fields and
    the facts derived from them), their values after it (an absent key: unknown), and which of
    the rules asked about so far hold then."""

    __slots__ = ("changed", "held", "values")

    def __init__(self, changed: frozenset[str], values: dict[str, FactValue]) -> None:
        self.changed = changed
        self.values = values
        self.held: dict[str, bool] = {}


class _Search:
    """Candidate changes for each slot, from the clauses of the slot's rules."""

    def __init__(self, catalog: Catalog, given: dict[str, FactValue],
                 decisions: Mapping[str, str], ranking: Ranking) -> None:
        self.catalog = catalog
        self.ranking = ranking
        self.given = given
        self.decided: dict[str, FactValue] = {
            f"{DECISION_PREFIX}{slot}": component for slot, component in decisions.items()}
        self.known = {**with_derived_facts(given), **self.decided}
        self.derived = derived_fact_specs()
        self.derived_inputs = derived_fact_inputs()
        self._tested_values: dict[tuple[str, str], list[FactValue]] = {}
        # Per target rule: the ways to make it hold, each with the candidate it makes.
        self._satisfying: dict[str, list[tuple[tuple[_Step, ...], _Candidate | None]]] = {}
        self._failing_steps: dict[str, tuple[_Step, ...]] = {}
        self._ranks: dict[str, tuple[Rule, ...]] = {}
        self._failing_of: dict[str, frozenset[str]] = {}
        self._after: dict[tuple[tuple[str, Any], ...], _After] = {}
        # Per slot: each ranked rule, the facts it tests and whether it holds as given.
        self._entries: dict[str, tuple[tuple[Rule, frozenset[str], frozenset[str]], ...]] = {}
        self.derived_input_fields = frozenset(
            field for inputs in self.derived_inputs.values() for field in inputs)
        self.tables = per_rule_set(_Tables, catalog)
        self.tests = self.tables.tests
        self.exception_tests = self.tables.exception_tests
        self._clause_held: list[bool | None] = [None] * len(self.tables.clauses)

    def candidates(self, slot: str, component: str) -> Iterator[tuple[_Candidate, str, str]]:
        """Distinct candidates the prediction says change the slot's winner, each with the
        component and the winning rule the prediction expects."""
        ranked = self._ranked(slot)
        if all(_component(rule) == component for rule in ranked):
            # No rule of the slot proposes another component: no change can give it one.
            return
        self._entries_of(slot)  # every rule of the slot tested as given first (``_holds``)
        seen: set[tuple[tuple[str, Any], ...]] = set()
        for candidate in itertools.chain(self._to_targets(slot, ranked, component),
                                         self._against_winner(slot, component)):
            if candidate.key in seen:
                continue
            seen.add(candidate.key)
            winner = self._winner(slot, self._after_of(candidate))
            if winner is not None and _component(winner) != component:
                yield candidate, _component(winner), winner.id

    def _ranked(self, slot: str) -> tuple[Rule, ...]:
        ranked = self._ranks.get(slot)
        if ranked is None:
            ranking = self.ranking
            if ranking == UNCONSTRAINED:
                ranked = self.tables.unconstrained[slot]
            else:
                ranked = tuple(sorted(
                    (rule for rule in self.catalog.rules_for_slot(slot)
                     if _component(rule) not in ranking.forbidden),
                    key=lambda rule: ranking.key(rule.id, _component(rule), rule.priority)))
            self._ranks[slot] = ranked
        return ranked

    def _winner(self, slot: str, after: _After | None) -> Rule | None:
        """The highest-ranked rule of the slot that holds after a change (``None``: as given);
        a rule that tests none of the changed facts keeps the outcome it has as given."""
        entries = self._entries_of(slot)
        if after is None:
            return next((rule for rule, _, failing in entries if not failing), None)
        changed = after.changed
        for rule, facts, failing in entries:
            if changed.isdisjoint(facts):
                if not failing:
                    return rule
            # A rule failing on a fact the change leaves alone still fails (``_holds``).
            elif failing <= changed and self._holds(rule, after):
                return rule
        return None

    def _entries_of(self, slot: str) -> tuple[tuple[Rule, frozenset[str], frozenset[str]], ...]:
        """Each ranked rule of the slot, the facts it tests and those it fails on as given."""
        entries = self._entries.get(slot)
        if entries is None:
            entries = self._entries[slot] = tuple(
                (rule, self.tables.facts[rule.id], self._failing_facts(rule))
                for rule in self._ranked(slot))
        return entries

    def changed_facts(self, candidate: _Candidate) -> frozenset[str]:
        """The facts a candidate changes: its requirement fields and the facts derived from
        them."""
        return self._after_of(candidate).changed

    def _changed_facts(self, candidate: _Candidate) -> frozenset[str]:
        changed = {field for field, _ in candidate.changes}
        for field, _ in candidate.changes:
            changed.update(self.tables.derived_from.get(field, ()))
        return frozenset(changed)

    def _holds(self, rule: Rule, after: _After | None) -> bool:
        """Whether every clause of ``rule`` holds and none of its exceptions does, after a
        change (``None``: as given)."""
        failing = self._failing_of.get(rule.id)
        if failing is None:
            failing = self._failing_facts(rule)
        if after is None:
            return not failing
        # A clause on a fact the candidate leaves alone holds as it does as given: the rule
        # fails at once if one of those fails (or one of those exceptions holds), and only
        # clauses on changed facts need a look.
        changed = after.changed
        if not failing <= changed:
            return False
        held = after.held.get(rule.id)
        if held is None:
            values = after.values
            held = after.held[rule.id] = all(
                holds(fact, operator, operand, values)
                for fact, operator, operand in self.catalog.clauses(rule.id)
                if fact in changed) and not any(
                holds(fact, operator, operand, values)
                for fact, operator, operand in self.catalog.exceptions(rule.id)
                if fact in changed)
        return held

    def _failing_facts(self, rule: Rule) -> frozenset[str]:
        """The facts of the rule's clauses that fail as given, and of its exceptions that
        hold: empty exactly when the rule holds as given."""
        found = self._failing_of.get(rule.id)
        if found is None:
            found = self._failing_of[rule.id] = frozenset(
                [test.fact for test in self.tests[rule.id] if not self._holds_as_given(test)]
                + [test.fact for test in self.exception_tests[rule.id]
                   if self._holds_as_given(test)])
        return found

    def _holds_as_given(self, test: _Test) -> bool:
        """Whether a clause holds as given; each distinct clause is tested once."""
        held = self._clause_held[test.number]
        if held is None:
            held = self._clause_held[test.number] = holds(test.fact, test.operator, test.operand,
                                                          self.known)
        return held

    def _to_targets(self, slot: str, ranked: Sequence[Rule],
                    component: str) -> Iterator[_Candidate]:
        """Make each rule that proposes another component win."""
        same: list[Rule] = []  # the rules ranked above the target that propose ``component``
        # Positions in ``same`` of the rules that hold as given, and by fact of those testing
        # it: a rule failing as given can only hold after a change to a fact it tests.
        holding: list[int] = []
        testing: dict[str, list[int]] = {}
        for target in ranked:
            if _component(target) == component:
                if not self._failing_facts(target):
                    holding.append(len(same))
                for fact in self.tables.facts[target.id]:
                    testing.setdefault(fact, []).append(len(same))
                same.append(target)
                continue
            for meets, candidate in self._satisfy(slot, target):
                if candidate is None:
                    after = None
                    above = [same[position] for position in holding]
                else:
                    after = self._after_of(candidate)
                    positions = set(holding)
                    for fact in after.changed:
                        positions.update(testing.get(fact, ()))
                    above = [same[position] for position in sorted(positions)
                             if self._holds(same[position], after)]
                if not above:
                    if candidate is not None:
                        yield candidate
                    continue
                if len(above) > _BLOCKERS:
                    continue
                touched = {step.fact for step in meets}
                options = [self._fail(slot, rule, touched, target) for rule in above]
                for combination in itertools.product(*options):
                    found = self._candidate(meets + combination)
                    if found is not None:
                        yield found

    def _against_winner(self, slot: str, component: str) -> Iterator[_Candidate]:
        """Make the winning rule fail on one clause."""
        winner = self._winner(slot, None)
        if winner is None:
            return
        for step in self._fail(slot, winner, set(), None):
            candidate = self._candidate((step,))
            if candidate is not None:
                yield candidate

    def _satisfy(self, slot: str,
                 rule: Rule) -> list[tuple[tuple[_Step, ...], _Candidate | None]]:
        """Ways to make every clause of ``rule`` hold, changing at most MAX_CHANGES facts, each
        with the candidate it makes; none when a failing clause tests a decision (no
        requirement sets it directly)."""
        ways = self._satisfying.get(rule.id)
        if ways is None:
            if not self._failing_facts(rule).isdisjoint(self.tables.unchangeable[rule.id]) or len(
                    {test.fact for test in self.tests[rule.id]
                     if not self._holds_as_given(test)}) > MAX_CHANGES:
                # A failing clause (or a holding exception) on a decision or on what already
                # runs, which no requirement change reaches, or failing clauses on too many
                # facts: ``_ways_to_satisfy`` would come to the same end one fact at a time.
                found: tuple[tuple[_Step, ...], ...] = ()
            else:
                # The ways depend on the profile only through which clauses and exceptions
                # hold and the sets a ``contains`` clause tests, so profiles alike in those
                # share them (``_Tables.ways``).
                key = (rule.id,
                       tuple(self._holds_as_given(test) for test in self.tests[rule.id]),
                       tuple(self._holds_as_given(test)
                             for test in self.exception_tests[rule.id]),
                       tuple(self.known.get(fact) for fact in self.tables.sets_read[rule.id]))
                cached = self.tables.ways.get(key)
                if cached is None:
                    cached = remember(self.tables.ways, key,
                                      tuple(self._ways_to_satisfy(slot, rule)))
                found = cached
            ways = self._satisfying[rule.id] = [(steps, self._candidate(steps))
                                                for steps in found]
        return ways

    def _ways_to_satisfy(self, slot: str, rule: Rule) -> list[tuple[_Step, ...]]:
        by_fact: dict[str, list[_Test]] = {}
        for clause in self.tests[rule.id]:
            by_fact.setdefault(clause.fact, []).append(clause)
        per_fact: list[list[_Step]] = []
        for fact, clauses in by_fact.items():
            if all(self._holds_as_given(clause) for clause in clauses):
                continue
            if fact.startswith(DECISION_PREFIX) or is_fixed(fact):
                return []
            failing = [c for c in clauses if not self._holds_as_given(c)]
            values = [value for clause in failing for value in self._meeting(slot, clause)]
            fitting = _unique(value for value in values
                              if all(_test(c, value) for c in clauses))
            if not fitting:
                return []
            clause = failing[0]
            per_fact.append([_Step(fact, value, "meets", rule.id, clause.text)
                             for value in fitting[:_VALUES_PER_CLAUSE]])
        for exception in self.exception_tests[rule.id]:
            if not self._holds_as_given(exception):
                continue
            if exception.fact.startswith(DECISION_PREFIX) or is_fixed(exception.fact):
                return []
            kept = by_fact.get(exception.fact, [])
            lifting = _unique(value for value in self._failing(slot, exception)
                              if all(_test(c, value) for c in kept))
            if not lifting or exception.fact in by_fact:
                # A fact both tested and excepted is left to the clause search above.
                if not lifting:
                    return []
                continue
            per_fact.append([_Step(exception.fact, value, "lifts", rule.id, exception.text)
                             for value in lifting[:_VALUES_PER_CLAUSE]])
        if len(per_fact) > MAX_CHANGES:
            return []
        return [tuple(choice) for choice in itertools.product(*per_fact)][:_VALUES_PER_CLAUSE]

    def _fail(self, slot: str, rule: Rule, touched: set[str],
              keep: Rule | None) -> list[_Step]:
        """One-clause changes that make ``rule`` stop holding, leaving facts in ``touched``
        alone and never breaking ``keep`` (the rule the change is for)."""
        every = self._failing_steps.get(rule.id)
        if every is None:
            # The steps depend on the profile only through which tested facts are given and
            # the sets a ``contains`` clause tests, so profiles alike in those share them.
            known = self.known
            key = (rule.id, tuple(test.fact in known for test in self.tests[rule.id]),
                   tuple(known.get(fact) for fact in self.tables.sets_read[rule.id]))
            every = self.tables.failing_steps.get(key)
            if every is None:
                every = remember(self.tables.failing_steps, key, tuple([
                    _Step(clause.fact, value, "fails", rule.id, clause.text)
                    for clause in self.tests[rule.id]
                    if not clause.fact.startswith(DECISION_PREFIX) and not is_fixed(clause.fact)
                    for value in self._failing(slot, clause)[:_VALUES_PER_CLAUSE]
                ] + [
                    _Step(exception.fact, value, "excepts", rule.id, exception.text)
                    for exception in self.exception_tests[rule.id]
                    if not exception.fact.startswith(DECISION_PREFIX)
                    and not is_fixed(exception.fact)
                    for value in self._meeting(slot, exception)[:_VALUES_PER_CLAUSE]
                ]))
            self._failing_steps[rule.id] = every
        kept = self.tests[keep.id] if keep is not None else ()
        return [step for step in every
                if step.fact not in touched
                and all(_test(other, step.value) for other in kept if other.fact == step.fact)]

    # -- values --------------------------------------------------------------------------

    def _meeting(self, slot: str, clause: _Test) -> list[FactValue]:
        """Values of the clause's fact that make it hold, nearest the threshold first."""
        spec = self.catalog.facts[clause.fact]
        operator, operand = clause.operator, clause.operand
        current = self.known.get(clause.fact)
        if operator is Operator.equals:
            return [operand]
        if operator is Operator.one_of:
            return list(operand)
        if operator is Operator.not_equals:
            return [value for value in self._tested(slot, spec) if not same_value(value, operand)]
        if operator is Operator.contains:
            return [_with(current, operand)]
        if operator is Operator.exists:
            return self._tested(slot, spec) if operand else []
        return _numbers_meeting(spec, operator, float(operand))

    def _failing(self, slot: str, clause: _Test) -> list[FactValue]:
        """Values of the clause's fact that make it stop holding, nearest first. A requirement
        is never made unknown: that is not a change a user makes to their needs."""
        spec = self.catalog.facts[clause.fact]
        operator, operand = clause.operator, clause.operand
        current = self.known.get(clause.fact)
        if operator is Operator.exists:
            return [] if operand else self._tested(slot, spec)
        if current is None:
            return []
        if operator is Operator.not_equals:
            return [operand]
        if operator in (Operator.equals, Operator.one_of):
            excluded = operand if operator is Operator.one_of else [operand]
            if spec.type == "number":
                return _numbers_meeting(spec, Operator.gt, float(max(excluded)))
            return [value for value in self._tested(slot, spec)
                    if not any(same_value(value, item) for item in excluded)]
        if operator is Operator.contains:
            assert isinstance(current, tuple)
            return [tuple(item for item in current if item != operand)]
        opposite = {Operator.gt: Operator.lte, Operator.gte: Operator.lt,
                    Operator.lt: Operator.gte, Operator.lte: Operator.gt}[operator]
        return _numbers_meeting(spec, opposite, float(operand))

    def _tested(self, slot: str, spec: FactSpec) -> list[FactValue]:
        """Values worth trying for a fact: those the slot's rules test first, then the rest."""
        values = self._tested_values.get((slot, spec.name))
        if values is None:
            values = self._tested_values[(slot, spec.name)] = self._values_tested(slot, spec)
        return values

    def _values_tested(self, slot: str, spec: FactSpec) -> list[FactValue]:
        if spec.type == "bool":
            return [True, False]
        tested: list[FactValue] = []
        for rule in self.catalog.rules_for_slot(slot):
            for clause in self.tests[rule.id]:
                if clause.fact != spec.name:
                    continue
                operand = clause.operand
                items = operand if isinstance(operand, tuple) else [operand]
                if clause.operator in (Operator.equals, Operator.not_equals, Operator.one_of,
                                       Operator.contains):
                    tested.extend(items)
                elif spec.type == "number" and clause.operator is not Operator.exists:
                    tested.extend(_numbers_meeting(spec, clause.operator, float(operand))[:1])
        if spec.type == "set":
            return _unique((item,) for item in tested)
        if spec.type == "enum":
            tested.extend(spec.values)
        return _unique(tested)

    # -- candidates ----------------------------------------------------------------------

    def _candidate(self, steps: Sequence[_Step]) -> _Candidate | None:
        """The requirement changes behind fact steps (derived facts through their inputs)."""
        given = self.given
        if len(steps) == 1 and steps[0].fact not in self.derived:
            # Most candidates change one requirement: the general case below, made short.
            step = steps[0]
            if same_value(given.get(step.fact), step.value):
                return None
            return _Candidate(((step.fact, step.value),), ((step.fact, step),),
                              step.fact not in given,
                              ((step.fact, (step.value.__class__.__name__, step.value)),))
        changes: dict[str, FactValue | None] = {}
        motives: dict[str, _Step] = {}
        for step in steps:
            if step.fact in self.derived:
                current = {**given, **changes}
                inputs = inputs_for_derived(step.fact, step.value, {
                    field: value for field, value in current.items() if value is not None})
                if inputs is None:
                    return None
                updates: Iterable[tuple[str, FactValue | None]] = inputs.items()
            else:
                updates = ((step.fact, step.value),)
            for field, value in updates:
                if field in changes and not same_value(changes[field], value):
                    return None
                if same_value(given.get(field), value):
                    continue
                changes[field] = value
                if field not in motives:
                    motives[field] = step
        if not changes or len(changes) > MAX_CHANGES:
            return None
        ordered = tuple(sorted(changes.items()))
        return _Candidate(ordered, tuple((field, motives[field]) for field, _ in ordered),
                          any(field not in given for field in changes),
                          tuple((field, (value.__class__.__name__, value))
                                for field, value in ordered))

    def _after_of(self, candidate: _Candidate) -> _After:
        """What the candidate changes, worked out once per distinct change."""
        found = self._after.get(candidate.changes)
        if found is not None:
            return found
        changed = self._changed_facts(candidate)
        values = {field: value for field, value in candidate.changes if value is not None}
        if not changed.isdisjoint(self.derived):
            # Derived facts read only derived inputs: compute them from those alone.
            inputs = _applied({field: value for field, value in self.given.items()
                               if field in self.derived_input_fields}, candidate.changes)
            now = with_derived_facts(inputs)
            values.update((fact, now[fact]) for fact in changed.intersection(self.derived)
                          if fact in now)
        found = self._after[candidate.changes] = _After(changed, values)
        return found


def _applied(facts: Mapping[str, FactValue],
             changes: Sequence[tuple[str, FactValue | None]]) -> dict[str, FactValue]:
    """A copy of ``facts`` with each change made (None: the fact becomes unknown)."""
    out = dict(facts)
    for field, value in changes:
        if value is None:
            out.pop(field, None)
        else:
            out[field] = value
    return out


def _component(rule: Rule) -> str:
    assert rule.recommend is not None
    return rule.recommend.component


def _operand(clause: Clause) -> Any:
    operand = clause.operand
    return tuple(operand) if isinstance(operand, list) else operand


def _test(clause: _Test, value: FactValue | None) -> bool:
    """Whether the clause holds when its fact has ``value`` (None: not given)."""
    facts = {} if value is None else {clause.fact: value}
    return holds(clause.fact, clause.operator, clause.operand, facts)


def _numbers_meeting(spec: FactSpec, operator: Operator, threshold: float) -> list[FactValue]:
    """The number nearest ``threshold`` that meets ``operator threshold`` within the field's
    range: the threshold itself for >= and <=, one step beyond it for > and <."""
    step = _step(spec, threshold)
    if operator is Operator.gte:
        value = math.ceil(threshold) if spec.integer else threshold
    elif operator is Operator.lte:
        value = math.floor(threshold) if spec.integer else threshold
    elif operator is Operator.gt:
        value = math.floor(threshold) + 1 if spec.integer else threshold + step
    elif operator is Operator.lt:
        value = math.ceil(threshold) - 1 if spec.integer else threshold - step
    else:
        return []
    value = round(value, DECIMALS)
    if spec.minimum is not None and (value < spec.minimum
                                     or (spec.minimum_exclusive and value <= spec.minimum)):
        return []
    if spec.maximum is not None and value > spec.maximum:
        return []
    return [int(value) if float(value).is_integer() else value]


def _step(spec: FactSpec, threshold: float) -> float:
    """The smallest readable move past a threshold: one unit for whole numbers of 10 or more,
    else one more decimal place than the threshold has (3 -> 3.1, 99.9 -> 99.91)."""
    if threshold.is_integer() and abs(threshold) >= 10:
        return 1.0
    places = 0
    while places < DECIMALS - 1 and not round(threshold * 10 ** places, 9).is_integer():
        places += 1
    return 10.0 ** -(places + 1)


def _with(current: FactValue | None, item: Any) -> tuple[str, ...]:
    members = set(current) if isinstance(current, tuple) else set()
    return tuple(sorted(members | {str(item)}))


def _unique(values: Iterator[Any] | Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not any(same_value(value, seen) and type(value) is type(seen) for seen in out):
            out.append(value)
    return out


def _hashable(value: FactValue | None) -> Any:
    return (type(value).__name__, value)


def _changed(requirements: Requirements, given: Mapping[str, FactValue],
             changes: Sequence[tuple[str, FactValue | None]]
             ) -> tuple[Requirements, dict[str, FactValue]] | None:
    """The requirements with ``changes`` applied and their facts (``build_facts`` of them), or
    None when the model refuses them.

    Only the changed sections are validated again, and their facts rebuilt; the cross-field
    checks run on the whole. This is what each re-evaluation costs, so it matters."""
    by_section: dict[str, dict[str, FactValue | None]] = {}
    for field, value in changes:
        section, name = field.split(".", 1)
        by_section.setdefault(section, {})[name] = value
    updates: dict[str, BaseModel] = {}
    for section, fields in by_section.items():
        current = getattr(requirements, section)
        document = current.model_dump(mode="json", exclude_none=True)
        for name, value in fields.items():
            if value is None:
                document.pop(name, None)
            else:
                document[name] = list(value) if isinstance(value, tuple) else value
        try:
            updates[section] = type(current).model_validate_json(json.dumps(document))
        except ValidationError:
            return None
    changed = requirements.model_copy(update=updates)
    if inconsistencies(changed):
        return None
    facts = {name: value for name, value in given.items()
             if name.split(".", 1)[0] not in updates}
    for section, model in updates.items():
        facts.update(section_facts(section, model))
    return changed, with_derived_facts(facts)


def _shown(value: FactValue | None) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _flip(catalog: Catalog, candidate: _Candidate, given: Mapping[str, FactValue],
          component: str, rule_id: str) -> Flip:
    motives = dict(candidate.motives)
    changes = [
        Change(fact=field, before=_shown(given.get(field)), after=_shown(value),
               effect=motives[field].effect, rule_id=motives[field].rule_id,
               tested_fact=motives[field].fact, test=motives[field].test)
        for field, value in candidate.changes
    ]
    rule = catalog.rule(rule_id)
    return Flip(changes=changes, component=component,
                label=catalog.components[component].label, rule_id=rule_id,
                rule_title=rule.title, assumed=candidate.assumed)


def _minimal(flips: Sequence[Flip]) -> list[Flip]:
    """Flips whose changed fields are not a superset of another flip's to the same component,
    assumptions first, then the fewest changes."""
    fields = [frozenset(change.fact for change in flip.changes) for flip in flips]
    kept = [
        flip for index, flip in enumerate(flips)
        if not any(other < fields[index] and flips[position].component == flip.component
                   for position, other in enumerate(fields))
    ]
    return sorted(kept, key=lambda flip: (
        not flip.assumed, len(flip.changes), flip.label,
        [(change.fact, repr(change.after)) for change in flip.changes]))
