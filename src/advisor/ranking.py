"""Which firing wins a slot: the one place winners are ordered.

Without constraints the winner of a slot is the fired rule with the highest priority, then the
lowest id; engine firing order never matters. A profile's constraints come first:

1. a component the requirements forbid (``constraints.must_not_use``) never wins; the next
   alternative does, and the forbidden one is reported as rejected with the user's reason;
2. a rule that keeps an existing part listed under ``constraints.keep`` wins its slot;
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

from advisor.catalog import Catalog
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
    """Per rule set: the rules that keep each existing part in place."""

    def __init__(self, catalog: Catalog) -> None:
        self.by_part: dict[str, frozenset[str]] = {}
        for rule in catalog.rules:
            if rule.recommend is not None and rule.recommend.existing is not None:
                part = rule.recommend.existing.value
                self.by_part[part] = self.by_part.get(part, frozenset()) | {rule.id}


def ranking_for(catalog: Catalog, requirements: Requirements) -> Ranking:
    """The ranking the requirements' constraints ask for (``UNCONSTRAINED`` when none)."""
    constraints = requirements.constraints
    if not (constraints.keep or constraints.replaceable or constraints.must_use
            or constraints.must_not_use):
        return UNCONSTRAINED
    keeping = per_rule_set(_KeepingRules, catalog).by_part
    return Ranking(
        kept_rules=frozenset(rule_id for part in constraints.keep or []
                             for rule_id in keeping.get(part.value, ())),
        required=frozenset(choice.component for choice in constraints.must_use or []),
        forbidden=frozenset(choice.component for choice in constraints.must_not_use or []),
        replaceable_rules=frozenset(rule_id for part in constraints.replaceable or []
                                    for rule_id in keeping.get(part.value, ())),
    )


def choose_winners(firings: Sequence[Firing], decided: Mapping[str, str]) -> dict[str, str]:
    """The chaining callback for a profile without constraints."""
    return UNCONSTRAINED.choose(firings, decided)
