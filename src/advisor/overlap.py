"""Whether two rules can fire for one profile, and the ties lint refuses because of it: two
rules of one priority that propose different components for one slot and can fire together
would be decided by rule id, which says nothing about the design."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

from advisor.catalog import Catalog
from advisor.conditions import needs_fact
from advisor.models.rule import Clause, Operator


@dataclass(frozen=True)
class Tie:
    """Two rules of one priority that may fire together and fill one slot differently."""

    slot: str
    priority: int
    first: str
    second: str
    first_component: str
    second_component: str


def exclusive(first: Sequence[Clause], second: Sequence[Clause]) -> bool:
    """True when no profile satisfies both clause lists, as shown by the clauses on some fact
    they share; False when they may hold together (or it cannot be shown from the clauses)."""
    by_fact: dict[str, list[Clause]] = {}
    for clause in [*first, *second]:
        by_fact.setdefault(clause.fact, []).append(clause)
    return any(_unsatisfiable(clauses) for clauses in by_fact.values() if len(clauses) > 1)


def _unsatisfiable(clauses: Iterable[Clause]) -> bool:
    """Whether the clauses, all on one fact, contradict each other."""
    present: bool | None = None
    allowed: set[object] | None = None
    excluded: set[object] = set()
    low, low_included = -math.inf, False
    high, high_included = math.inf, False
    for clause in clauses:
        operator, operand = clause.operator, clause.operand
        wants = operand if operator is Operator.exists else needs_fact(operator, operand)
        if present is not None and present != wants:
            return True
        present = bool(wants)
        if operator is Operator.equals:
            allowed = {operand} if allowed is None else allowed & {operand}
        elif operator is Operator.one_of:
            allowed = set(operand) if allowed is None else allowed & set(operand)
        elif operator is Operator.not_equals:
            excluded.add(operand)
        elif operator in (Operator.gt, Operator.gte) and (
                operand > low or (operand == low and operator is Operator.gt)):
            low, low_included = operand, operator is Operator.gte
        elif operator in (Operator.lt, Operator.lte) and (
                operand < high or (operand == high and operator is Operator.lt)):
            high, high_included = operand, operator is Operator.lte
    if present is False:
        return False
    if allowed is not None:
        return not any(value not in excluded and _within(value, low, low_included, high,
                                                         high_included)
                       for value in allowed)
    return low > high or (low == high and not (low_included and high_included))


def _within(value: object, low: float, low_included: bool, high: float,
            high_included: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True  # numeric bounds do not apply to other values
    above = value > low or (value == low and low_included)
    below = value < high or (value == high and high_included)
    return above and below


def silent_ties(catalog: Catalog) -> list[Tie]:
    """Every pair of rules of one slot and priority that propose different components and
    whose conditions do not exclude each other, in slot, priority and rule id order."""
    groups: dict[tuple[str, int], list[tuple[str, str, Sequence[Clause]]]] = {}
    for rule in catalog.rules:
        if rule.recommend is not None and rule.slot is not None:
            groups.setdefault((rule.slot, rule.priority), []).append(
                (rule.id, rule.recommend.component, rule.when))
    ties = []
    for (slot, priority), rules in sorted(groups.items()):
        for (first, first_component, first_when), (second, second_component, second_when) \
                in combinations(sorted(rules), 2):
            if first_component != second_component and not exclusive(first_when, second_when):
                ties.append(Tie(slot, priority, first, second, first_component,
                                second_component))
    return ties
