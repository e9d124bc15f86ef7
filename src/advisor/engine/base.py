"""The RuleEngine protocol and the engine-neutral compiled rules both backends run.

A backend only *matches*: given the facts of one round it reports which rules of that round
fire. ``run_chain`` drives the rounds: after each one, the caller's ``choose`` callback (the
resolver, in plain Python) turns that round's firings into decisions, which become
``decision.<slot>`` facts for the next round. Winners are therefore never decided by engine
firing order, and both backends share the exact same chaining semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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


class RuleEngine(Protocol):
    """Compile once, evaluate many profiles. Implementations must be safe to share."""

    name: str

    def evaluate(self, facts: Facts, choose: Chooser, rounds: int | None = None) -> Trace:
        """Run every round over ``facts`` (only the first ``rounds`` when given: a slot decided
        in an early round needs no later one); raise EngineError when the backend fails."""
        ...


RoundMatcher = Callable[[int, dict[str, FactValue]], list[Firing]]


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
    decisions: dict[str, str] = {}
    firings: list[Firing] = []
    excepted: list[Firing] = []
    last = len(rules.rounds) if rounds is None else min(rounds, len(rules.rounds))
    for index in range(last):
        round_facts: dict[str, FactValue] = dict(facts)
        for slot, component in decisions.items():
            round_facts[f"{DECISION_PREFIX}{slot}"] = component
        fired, withheld = apply_exceptions(match_round(index, round_facts))
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
    return Trace(
        engine=name,
        rounds=last,
        firings=tuple(firings),
        decisions=dict(sorted(decisions.items())),
        excepted=tuple(excepted),
    )


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
