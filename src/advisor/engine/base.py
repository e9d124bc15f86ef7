"""The RuleEngine protocol and the engine-neutral compiled rules both backends run.

A backend only *matches*: given the facts of one round it reports which rules of that round
fire. ``run_chain`` drives the rounds: after each one, the caller's ``choose`` callback (the
resolver, in plain Python) turns that round's firings into decisions, which become
``decision.<slot>`` facts for the next round. Winners are therefore never decided by engine
firing order, and both backends share the exact same chaining semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict

from advisor.catalog import DECISION_PREFIX, Catalog
from advisor.facts import Facts, FactValue
from advisor.models.frozen import freeze
from advisor.models.rule import Clause, Operator

MatchedValue = bool | int | float | str | tuple[str, ...] | None
# What a firing matched, read-only: firings are shared between the reports that match alike.
FrozenMatched = Annotated[dict[str, MatchedValue], AfterValidator(freeze)]


class EngineError(Exception):
    """An evaluation failed inside a backend; the message says which rule or limit."""


class CompileError(Exception):
    """Rules cannot be compiled for a backend; the message names the offending rules."""


class Firing(BaseModel):
    """One rule that fired: what it matched and what it derived."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    round: int
    priority: int
    matched: FrozenMatched
    slot: str | None
    component: str | None


class Trace(BaseModel):
    """Every firing of one evaluation, in round order, then priority (high first), then id."""

    model_config = ConfigDict(frozen=True)

    engine: str
    rounds: int
    firings: tuple[Firing, ...]
    decisions: dict[str, str]
    # Rules whose conditions held but one of whose ``unless`` exceptions held too: they did not
    # fire. ``matched`` also holds the values of the exception facts.
    excepted: tuple[Firing, ...] = ()


Chooser = Callable[[Sequence[Firing], Mapping[str, str]], Mapping[str, str]]
"""Given one round's firings and the decisions so far, return the new slot -> component."""


@dataclass(frozen=True)
class CompiledClause:
    fact: str
    operator: Operator
    operand: bool | int | float | str | tuple[bool | int | float | str, ...]


@dataclass(frozen=True)
class CompiledRule:
    id: str
    area: str
    priority: int
    round: int
    slot: str | None
    component: str | None
    clauses: tuple[CompiledClause, ...]


# A guard is one ``unless`` clause of a rule, compiled as a rule of its own with the id
# "<rule id>~unless-<n>" in the same round; when it fires, that rule's firing is withheld
# (``run_chain``). Backends need no notion of negation, and each evaluates the exceptions itself.
GUARD_MARK = "~unless-"


@dataclass(frozen=True)
class CompiledRules:
    """Engine-neutral form of a catalog: rules grouped into chaining rounds."""

    rounds: tuple[tuple[CompiledRule, ...], ...]
    digest: str

    @property
    def count(self) -> int:
        """Number of rules (guards included)."""
        return sum(len(group) for group in self.rounds)


def _compiled(clause: Clause) -> CompiledClause:
    operand = clause.operand
    return CompiledClause(clause.fact, clause.operator,
                          tuple(operand) if isinstance(operand, list) else operand)


def compile_rules(catalog: Catalog) -> CompiledRules:
    """Turn a validated catalog into rounds of compiled rules (pure; fresh objects each call)."""
    rounds = []
    for index, stratum in enumerate(catalog.strata):
        group = []
        for rule_id in stratum:
            rule = catalog.rule(rule_id)
            group.append(
                CompiledRule(
                    id=rule.id,
                    area=rule.area,
                    priority=rule.priority,
                    round=index,
                    slot=rule.slot,
                    component=rule.recommend.component if rule.recommend else None,
                    clauses=tuple(_compiled(clause) for clause in rule.when),
                )
            )
            group.extend(
                CompiledRule(id=f"{rule.id}{GUARD_MARK}{position}", area=rule.area,
                             priority=rule.priority, round=index, slot=None, component=None,
                             clauses=(_compiled(clause),))
                for position, clause in enumerate(rule.unless)
            )
        rounds.append(tuple(group))
    return CompiledRules(tuple(rounds), catalog.digest)


def matched_values(
    rule: CompiledRule, lookup: Callable[[str], MatchedValue]
) -> dict[str, MatchedValue]:
    """The value of each fact a rule tested, read through ``lookup`` (None when absent).

    A ``contains`` clause reports the member it required, which both backends know exactly."""
    matched: dict[str, MatchedValue] = {}
    for clause in rule.clauses:
        if clause.operator is Operator.contains:
            matched[clause.fact] = (str(clause.operand),)
        else:
            matched[clause.fact] = lookup(clause.fact)
    return matched


def firing_order(firing: Firing) -> tuple[int, int, str]:
    """Canonical trace order: round, then priority (high first), then rule id."""
    return (firing.round, -firing.priority, firing.rule_id)


@dataclass(frozen=True)
class Recorded:
    """A full evaluation kept so that changed profiles can be evaluated again from it
    (``RuleEngine.reevaluate``): its facts, what each round matched (guards included, before
    exceptions are applied) and the decisions each round made."""

    facts: Facts
    matches: tuple[tuple[Firing, ...], ...]
    decided: tuple[tuple[tuple[str, str], ...], ...]
    trace: Trace


class RuleEngine(Protocol):
    """Compile once, evaluate many profiles. Implementations must be safe to share."""

    name: str

    def evaluate(self, facts: Facts, choose: Chooser, rounds: int | None = None) -> Trace:
        """Run every round over ``facts`` (only the first ``rounds`` when given: a slot decided
        in an early round needs no later one); raise EngineError when the backend fails."""
        ...

    def record(self, facts: Facts, choose: Chooser) -> Recorded:
        """``evaluate(facts, choose)``, kept with what each round matched for ``reevaluate``."""
        ...

    def reevaluate(self, base: Recorded, facts: Facts, choose: Chooser,
                   rounds: int | None = None, slots: Iterable[str] | None = None) -> Trace:
        """``evaluate(facts, choose, rounds)`` computed from ``base``: only the rules that read
        a fact (requirement, derived or decision) whose value differs from ``base``'s are
        matched again; every other rule's match is ``base``'s, since nothing it reads changed.
        With ``slots``, only the rules that can decide those slots are evaluated
        (``RuleIndex.deciding``): the trace then holds exactly their firings and the decisions
        they make, as a full evaluation has them."""
        ...


RoundMatcher = Callable[[int, dict[str, FactValue]], list[Firing]]
# The matches one round's ``match_round`` would report for just the named rules of that round.
RulesMatcher = Callable[[int, dict[str, FactValue], frozenset[str]], list[Firing]]
# The matches of one round, given the profile's facts and the decisions made before it.
_Matcher = Callable[[int, Facts, Mapping[str, str]], list[Firing]]


def run_chain(
    name: str,
    rules: CompiledRules,
    facts: Facts,
    choose: Chooser,
    match_round: RoundMatcher,
    firing_budget: int,
    rounds: int | None = None,
) -> Trace:
    """Drive the rounds to a fixpoint: match, let ``choose`` decide, add decisions, repeat.
    With ``rounds``, stop after that many."""

    def match(index: int, facts: Facts, decisions: Mapping[str, str]) -> list[Firing]:
        return match_round(index, round_facts(facts, decisions))

    return _chain(name, rules, facts, choose, match, firing_budget, rounds, None)


def record_chain(
    name: str,
    rules: CompiledRules,
    facts: Facts,
    choose: Chooser,
    match_round: RoundMatcher,
    firing_budget: int,
) -> Recorded:
    """``run_chain`` over every round, keeping each round's matches and decisions."""
    matches: list[tuple[Firing, ...]] = []
    decided: list[tuple[tuple[str, str], ...]] = []

    def match(index: int, facts: Facts, decisions: Mapping[str, str]) -> list[Firing]:
        matched = match_round(index, round_facts(facts, decisions))
        matches.append(tuple(matched))
        return matched

    trace = _chain(name, rules, facts, choose, match, firing_budget, None, decided)
    return Recorded(facts, tuple(matches), tuple(decided), trace)


def rerun_chain(
    name: str,
    rules: CompiledRules,
    index: RuleIndex,
    base: Recorded,
    facts: Facts,
    choose: Chooser,
    match_rules: RulesMatcher,
    firing_budget: int,
    rounds: int | None = None,
    slots: Iterable[str] | None = None,
) -> Trace:
    """``run_chain`` over ``facts``, where each round matches again only the rules that read a
    fact whose value differs from that round's facts in ``base`` and keeps ``base``'s matches
    of every other rule: a rule's match depends on the facts it reads and nothing else. With
    ``slots``, rules that cannot decide them are left out altogether."""
    changed = differing_facts(base.facts, facts)
    wanted = None if slots is None else index.deciding(slots)
    before: dict[str, str] = {}  # the decisions base had made before the current round

    def match(round_index: int, facts: Facts, decisions: Mapping[str, str]) -> list[Firing]:
        differing = set(changed)
        for slot in before.keys() | decisions.keys():
            if before.get(slot) != decisions.get(slot):
                differing.add(f"{DECISION_PREFIX}{slot}")
        before.update(base.decided[round_index])
        again = index.reading(round_index, differing)
        kept: Iterable[Firing] = base.matches[round_index]
        if wanted is not None:
            again &= wanted
            kept = [firing for firing in kept if firing.rule_id in wanted]
        if not again:
            return list(kept)
        return [firing for firing in kept if firing.rule_id not in again] + match_rules(
            round_index, round_facts(facts, decisions), again)

    return _chain(name, rules, facts, choose, match, firing_budget, rounds, None)


def round_facts(facts: Facts, decisions: Mapping[str, str]) -> dict[str, FactValue]:
    """What one round sees: the profile's facts and a ``decision.<slot>`` fact per decision
    made before it."""
    seen: dict[str, FactValue] = dict(facts)
    for slot, component in decisions.items():
        seen[f"{DECISION_PREFIX}{slot}"] = component
    return seen


def _chain(
    name: str,
    rules: CompiledRules,
    facts: Facts,
    choose: Chooser,
    match: _Matcher,
    firing_budget: int,
    rounds: int | None,
    decided: list[tuple[tuple[str, str], ...]] | None,
) -> Trace:
    decisions: dict[str, str] = {}
    firings: list[Firing] = []
    excepted: list[Firing] = []
    last = len(rules.rounds) if rounds is None else min(rounds, len(rules.rounds))
    for index in range(last):
        fired, withheld = apply_exceptions(match(index, facts, decisions))
        firings.extend(fired)
        excepted.extend(withheld)
        if len(firings) > firing_budget:
            raise EngineError(
                f"firing budget of {firing_budget} exceeded in round {index + 1}: the rule set "
                "derives without end"
            )
        new = choose(fired, dict(decisions))
        for slot, component in new.items():
            if slot in decisions:
                raise EngineError(
                    f"slot '{slot}' was decided twice (round {index + 1}); rounds must decide "
                    "each slot once"
                )
            decisions[slot] = component
        if decided is not None:
            decided.append(tuple(new.items()))
    return Trace(
        engine=name,
        rounds=last,
        firings=tuple(firings),
        decisions=dict(sorted(decisions.items())),
        excepted=tuple(excepted),
    )


_ABSENT = object()


def differing_facts(before: Facts, after: Facts) -> frozenset[str]:
    """The facts present in only one of ``before`` and ``after``, or with another value there
    (true and 1, 1 and 1.0 differ: both backends report the value they matched)."""
    differing = {name for name, value in after.items()
                 if (old := before.get(name, _ABSENT)) is not value
                 and (old.__class__ is not value.__class__ or old != value)}
    differing.update(before.keys() - after.keys())
    return frozenset(differing)


class RuleIndex:
    """What compiled rules read and decide: per round, the rules (guards included) that read
    each fact; per slot, the rules that can change its decision."""

    def __init__(self, rules: CompiledRules) -> None:
        self._readers: list[dict[str, frozenset[str]]] = []
        self._of_slot: dict[str, set[str]] = {}  # a slot's rules and their guards
        self._reads: dict[str, set[str]] = {}  # the slots whose decisions those rules read
        slot_of: dict[str, str] = {}
        for group in rules.rounds:
            for rule in group:
                if rule.slot is not None:
                    slot_of[rule.id] = rule.slot
        for group in rules.rounds:
            by_fact: dict[str, set[str]] = {}
            for rule in group:
                slot = slot_of.get(rule.id.partition(GUARD_MARK)[0])
                if slot is not None:
                    self._of_slot.setdefault(slot, set()).add(rule.id)
                for clause in rule.clauses:
                    by_fact.setdefault(clause.fact, set()).add(rule.id)
                    if slot is not None and clause.fact.startswith(DECISION_PREFIX):
                        self._reads.setdefault(slot, set()).add(
                            clause.fact.removeprefix(DECISION_PREFIX))
            self._readers.append({fact: frozenset(ids) for fact, ids in by_fact.items()})
        self._deciding: dict[str, frozenset[str]] = {}

    def reading(self, round_index: int, facts: Iterable[str]) -> frozenset[str]:
        """The ids of the rules of one round that read any of ``facts``."""
        readers = self._readers[round_index]
        found: set[str] = set()
        for fact in facts:
            ids = readers.get(fact)
            if ids:
                found.update(ids)
        return frozenset(found)

    def deciding(self, slots: Iterable[str]) -> frozenset[str]:
        """The rules (guards included) whose matches can change the decision of any of
        ``slots``: the slots' own rules, and those of every slot whose decision one of them
        reads, and so on. ``choose`` decides a slot from that slot's firings alone, so no other
        rule can."""
        found: set[str] = set()
        for slot in slots:
            rules = self._deciding.get(slot)
            if rules is None:
                rules = self._deciding[slot] = self._closure(slot)
            found.update(rules)
        return frozenset(found)

    def _closure(self, slot: str) -> frozenset[str]:
        seen = {slot}
        waiting = [slot]
        rules: set[str] = set()
        while waiting:
            current = waiting.pop()
            rules.update(self._of_slot.get(current, ()))
            for read in self._reads.get(current, ()):
                if read not in seen:
                    seen.add(read)
                    waiting.append(read)
        return frozenset(rules)


def apply_exceptions(matched: Sequence[Firing]) -> tuple[list[Firing], list[Firing]]:
    """Split one round's matches into the firings that stand, in trace order, and those an
    ``unless`` guard withholds (their ``matched`` joined by the guard's); guards themselves
    are not firings."""
    guarded: dict[str, dict[str, MatchedValue]] = {}
    for firing in matched:
        target, mark, _ = firing.rule_id.partition(GUARD_MARK)
        if mark:
            guarded.setdefault(target, {}).update(firing.matched)
    fired: list[Firing] = []
    withheld: list[Firing] = []
    for firing in sorted(matched, key=firing_order):
        if GUARD_MARK in firing.rule_id:
            continue
        exception = guarded.get(firing.rule_id)
        if exception is None:
            fired.append(firing)
        else:
            withheld.append(firing.model_copy(
                update={"matched": freeze({**firing.matched, **exception})}))
    return fired, withheld
