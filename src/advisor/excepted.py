"""Rules held back by their own exceptions: each rule whose conditions held while one of its
``unless`` clauses held too, with the exception's values, for the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from advisor.catalog import DECISION_PREFIX, Catalog
from advisor.conditions import holds
from advisor.engine.base import Firing
from advisor.facts import Facts
from advisor.models.report import Evidence, ExceptedRule
from advisor.resolve import describe_test


def excepted_rules(catalog: Catalog, withheld: Sequence[Firing], facts: Facts,
                   decisions: Mapping[str, str]) -> list[ExceptedRule]:
    """The withheld firings of one evaluation as report entries, in rule-id order; only the
    exceptions that held are listed. An exception may test a decision: a slot is decided
    once, before any rule that reads it, so the final decisions are what it saw."""
    facts = {**facts, **{f"{DECISION_PREFIX}{slot}": component
                         for slot, component in decisions.items()}}
    found = []
    for firing in sorted(withheld, key=lambda item: item.rule_id):
        rule = catalog.rule(firing.rule_id)
        component = rule.recommend.component if rule.recommend else None
        found.append(ExceptedRule(
            rule_id=rule.id,
            title=rule.title,
            slot=rule.slot,
            component=component,
            label=catalog.components[component].label if component else None,
            not_when=" ".join((rule.not_when or "").split()),
            exceptions=[
                Evidence(fact=clause.fact, value=firing.matched.get(clause.fact),
                         test=describe_test(clause),
                         description=catalog.facts[clause.fact].description)
                for clause in rule.unless
                if holds(clause.fact, clause.operator, clause.operand, facts)
            ],
        ))
    return found
