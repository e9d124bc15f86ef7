"""Catalogue checks beyond loading: every rule's examples behave as declared, the rule set
compiles within durable-rules' limits, and no two rules of one priority can tie for a slot."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.catalog import Catalog
from advisor.engine.base import CompileError, compile_rules
from advisor.engine.durable import pack_rulesets
from advisor.inputs import parse_requirements
from advisor.overlap import silent_ties
from advisor.pipeline import Advisor


@dataclass(frozen=True)
class ExampleOutcome:
    """Whether one declared example behaved as declared."""

    rule_id: str
    example: str
    expected: str
    fired: bool

    @property
    def ok(self) -> bool:
        """True when a 'fires' example fired and a 'silent' one did not."""
        return self.fired == (self.expected == "fires")


def example_outcomes(catalog: Catalog, engine: str = "python") -> list[ExampleOutcome]:
    """Run every rule's examples through the full pipeline and record whether the rule fired."""
    advisor = Advisor(engine=engine, catalog=catalog)
    outcomes = []
    for rule in catalog.rules:
        for expected in ("fires", "silent"):
            for example in getattr(rule.examples, expected):
                requirements = parse_requirements(example.requirements, f"{rule.id}:{example.name}")
                report = advisor.recommend(requirements)
                fired = any(firing.rule_id == rule.id for firing in report.trace)
                outcomes.append(ExampleOutcome(rule.id, example.name, expected, fired))
    return outcomes


def lint_catalog(catalog: Catalog) -> list[str]:
    """Problems found, one line each, in '<file>: <rule id>: <field>: <problem>' form."""
    problems = []
    try:
        pack_rulesets(compile_rules(catalog))
    except CompileError as error:
        problems.append(f"rules: -: (durable-rules): {error}")
    for outcome in example_outcomes(catalog):
        if not outcome.ok:
            verb = "did not fire" if outcome.expected == "fires" else "fired"
            problems.append(
                f"{catalog.rule_files[outcome.rule_id]}: {outcome.rule_id}: "
                f"examples.{outcome.expected}.{outcome.example}: the rule {verb} "
                f"(declared: {outcome.expected})"
            )
    for tie in silent_ties(catalog):
        problems.append(
            f"{catalog.rule_files[tie.second]}: {tie.second}: priority: ties with {tie.first} "
            f"({catalog.rule_files[tie.first]}) at priority {tie.priority} in slot "
            f"'{tie.slot}', proposing {tie.second_component} against {tie.first_component}, and "
            "nothing in their conditions keeps them from firing together (give the rule whose "
            "reason prevails a higher priority, or add the clause that excludes the other)"
        )
    return problems
