"""Which firing wins a slot: the one place winners are ordered.

Without constraints the winner of a slot is the fired rule with the highest priority, then the
lowest id; engine firing order never matters. A profile's constraints come first:

1. a component the requirements forbid (``constraints.must_not_use``) never wins; the next
   alternative does, and the forbidden one is reported as rejected with the user's reason;
2. a rule that keeps an existing part listed under ``constraints.keep`` wins its slot, and so
   does a rule that moves the part to another role: one that reasons about that existing part
   (tests ``existing.<part>``) and proposes the component another rule keeps the part behind
   (that keeping rule, in another slot, tests ``decision.<slot>`` for it), e.g. an API in front
   of a kept internal load balancer; the report says so when the part ends up nowhere;
3. a component the requirements demand (``constraints.must_use``) wins any slot a rule proposed
   it for;
4. a rule that keeps an existing part listed under ``constraints.replaceable`` loses to every
   other rule for its slot (what runs stays only when nothing else is proposed);
5. then priority, then rule id. An existing part that is neither kept nor replaceable is kept
   by its rule's own priority: rules with a documented reason and a higher priority replace it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from advisor.catalog import DECISION_PREFIX, Catalog
from advisor.engine.base import Firing
from advisor.memo import per_rule_set
from advisor.models.requirements import Requirements


@dataclass(frozen=True)
class Ranking:
    """What one profile's constraints keep, demand and forbid, by rule and component id."""

    kept_rules: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    forbidden: frozenset[str] = frozenset()
    replaceable_rules: frozenset[str] = frozenset()
    # Rules among ``kept_rules`` that move a kept part into another role: (rule id, part).
    moved: tuple[tuple[str, str], ...] = ()

    def order(self, firing: Firing) -> tuple[bool, bool, bool, bool, int, str]:
        """Sort key that puts the winning firing of a slot first."""
        return self.key(firing.rule_id, firing.component, firing.priority)

    def key(self, rule_id: str, component: str | None,
            priority: int) -> tuple[bool, bool, bool, bool, int, str]:
        """The sort key of a rule proposing ``component`` with ``priority``, fired or not."""
        return (component in self.forbidden, rule_id not in self.kept_rules,
                component not in self.required, rule_id in self.replaceable_rules, -priority,
                rule_id)

    def may_win(self, firing: Firing) -> bool:
        """Whether the firing can decide its slot at all (its component is not forbidden)."""
        return firing.component is not None and firing.component not in self.forbidden

    def choose(self, firings: Sequence[Firing], decided: Mapping[str, str]) -> dict[str, str]:
        """The chaining callback: for each slot fired this round, the winning component."""
        best: dict[str, Firing] = {}
        for firing in firings:
            if firing.slot is None or firing.slot in decided or not self.may_win(firing):
                continue
            current = best.get(firing.slot)
            if current is None or self.order(firing) < self.order(current):
                best[firing.slot] = firing
        return {slot: firing.component for slot, firing in sorted(best.items())
                if firing.component}


UNCONSTRAINED = Ranking()


class _KeepingRules:
    """Per rule set: the rules that keep each existing part in place, and those that move it."""

    def __init__(self, catalog: Catalog) -> None:
        self.by_part: dict[str, frozenset[str]] = {}
        # (part, slot, component): a rule keeps the part elsewhere once the slot has the component.
        behind: set[tuple[str, str, str]] = set()
        for rule in catalog.rules:
            if rule.recommend is not None and rule.recommend.existing is not None:
                part = rule.recommend.existing.value
                self.by_part[part] = self.by_part.get(part, frozenset()) | {rule.id}
                for clause in rule.when:
                    slot = clause.fact.removeprefix(DECISION_PREFIX)
                    if slot == clause.fact or slot == rule.recommend.slot:
                        continue
                    values = (clause.one_of if clause.one_of is not None
                              else [clause.equals] if clause.equals is not None else [])
                    behind.update((part, slot, str(value)) for value in values)
        self.moving: dict[str, frozenset[str]] = {}
        for rule in catalog.rules:
            recommend = rule.recommend
            if recommend is None or recommend.existing is not None:
                continue
            tested = {clause.fact for clause in rule.when}
            for part, slot, component in behind:
                if (recommend.slot, recommend.component) == (slot, component) and (
                        f"existing.{part}" in tested):
                    self.moving[part] = self.moving.get(part, frozenset()) | {rule.id}


def ranking_for(catalog: Catalog, requirements: Requirements) -> Ranking:
    """The ranking the requirements' constraints ask for (``UNCONSTRAINED`` when none)."""
    constraints = requirements.constraints
    if not (constraints.keep or constraints.replaceable or constraints.must_use
            or constraints.must_not_use):
        return UNCONSTRAINED
    keeping = per_rule_set(_KeepingRules, catalog)
    return Ranking(
        kept_rules=frozenset(rule_id for part in constraints.keep or []
                             for rules in (keeping.by_part, keeping.moving)
                             for rule_id in rules.get(part.value, ())),
        required=frozenset(choice.component for choice in constraints.must_use or []),
        forbidden=frozenset(choice.component for choice in constraints.must_not_use or []),
        replaceable_rules=frozenset(rule_id for part in constraints.replaceable or []
                                    for rule_id in keeping.by_part.get(part.value, ())),
        moved=tuple((rule_id, part.value) for part in constraints.keep or []
                    for rule_id in sorted(keeping.moving.get(part.value, ()))),
    )


def choose_winners(firings: Sequence[Firing], decided: Mapping[str, str]) -> dict[str, str]:
    """The chaining callback for a profile without constraints."""
    return UNCONSTRAINED.choose(firings, decided)
