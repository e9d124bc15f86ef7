"""requirements -> facts -> engine -> decisions -> graph -> report, in one object."""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import threading
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from advisor.catalog import Catalog, load_catalog
from advisor.coherence import check_design
from advisor.engine import make_engine
from advisor.engine.base import Trace, compile_rules
from advisor.excepted import excepted_rules
from advisor.facts import Facts, build_facts
from advisor.graph import build_graph, graph_out
from advisor.inputs import InputError, Problem
from advisor.models.report import Report
from advisor.models.requirements import Requirements
from advisor.paths import rules_dir
from advisor.ranking import Ranking, ranking_for
from advisor.resolve import resolve_decisions
from advisor.sensitivity import analyse

TOOL = "advisor"


@functools.lru_cache(maxsize=1)
def tool_version() -> str:
    """The installed package version."""
    try:
        return metadata.version(TOOL)
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def given_requirements(requirements: Requirements) -> dict[str, Any]:
    """The requirements the user gave: unknown fields and sections with nothing known left out,
    so adding a new optional field to the model does not change existing inputs' hashes."""
    dumped = requirements.model_dump(mode="json", exclude_none=True)
    return {section: fields for section, fields in dumped.items() if fields}


def input_hash(given: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the given (non-unknown) requirements
    (``given_requirements``)."""
    canonical = json.dumps(given, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_components(catalog: Catalog, requirements: Requirements,
                     origin: str = "<requirements>") -> None:
    """Raise ``InputError`` for a constraint naming a component the catalog does not know."""
    problems = []
    for name in ("must_use", "must_not_use"):
        for index, choice in enumerate(getattr(requirements.constraints, name) or []):
            if choice.component not in catalog.components:
                close = difflib.get_close_matches(choice.component, catalog.components, 3)
                hint = f"did you mean: {', '.join(close)}? " if close else ""
                problems.append(Problem(
                    origin, ("constraints", name, index, "component"),
                    f"unknown component '{choice.component}' ({hint}`advisor rules "
                    "components` lists every component id)"))
    if problems:
        raise InputError(problems)


class Advisor:
    """A loaded knowledge base and a compiled engine; build one per process and reuse it."""

    def __init__(
        self,
        rules: Path | None = None,
        engine: str = "durable",
        catalog: Catalog | None = None,
    ) -> None:
        self.catalog = catalog if catalog is not None else load_catalog(rules or rules_dir())
        self.compiled = compile_rules(self.catalog)
        self.engine = make_engine(engine, self.compiled)

    def evaluate(self, requirements: Requirements, rounds: int | None = None) -> Trace:
        """The engine's firings and decisions for one profile (over the first ``rounds``
        chaining rounds when given), without building a report."""
        ranking = ranking_for(self.catalog, requirements)
        return self.engine.evaluate(build_facts(requirements), ranking.choose, rounds)

    def recommend(self, requirements: Requirements, sensitivity: bool = False) -> Report:
        """The full recommendation for one requirements profile; with ``sensitivity``, each
        decision also says which requirement changes would change it (this re-evaluates
        changed profiles, so it costs a few evaluations more)."""
        check_components(self.catalog, requirements)
        facts = build_facts(requirements)
        ranking = ranking_for(self.catalog, requirements)
        recorded = self.engine.record(facts, ranking.choose) if sensitivity else None
        trace = recorded.trace if recorded else self.engine.evaluate(facts, ranking.choose)
        pillar_order = [pillar.value for pillar in requirements.workload.pillar_priorities or []]
        resolution = resolve_decisions(self.catalog, trace.firings, trace.decisions, facts,
                                       pillar_order, ranking, requirements.constraints,
                                       requirements.existing)
        decisions = resolution.decisions
        if recorded is not None:
            base = recorded

            def evaluate(changed: Facts, changed_ranking: Ranking, slot: str,
                         rounds: int) -> Trace:
                # Only the rules that can decide the slot and read what the change touched
                # are matched again.
                return self.engine.reevaluate(base, changed, changed_ranking.choose, rounds,
                                              (slot,))

            found = analyse(self.catalog, requirements, trace.decisions,
                            {decision.slot: decision.round for decision in decisions},
                            resolution.assumptions, evaluate)
            decisions = [decision.model_copy(update={"sensitivity": found[decision.slot]})
                         for decision in decisions]
        graph = build_graph(self.catalog, resolution.decisions, resolution.wiring)
        multi_az = requirements.availability.multi_az is True
        drawn = graph_out(self.catalog, graph, multi_az)
        given = given_requirements(requirements)
        return Report(
            tool=TOOL,
            version=tool_version(),
            engine=self.engine.name,
            input_hash=input_hash(given),
            ruleset_hash=self.catalog.digest,
            rule_count=len(self.catalog.rules),
            title=requirements.workload.name or "Recommended architecture",
            requirements=given,
            decisions=decisions,
            undecided=resolution.undecided,
            warnings=resolution.warnings,
            conflicts=resolution.conflicts,
            constraint_conflicts=resolution.constraint_conflicts,
            constraints=resolution.constraints,
            capacity=resolution.capacity,
            review=resolution.review,
            connections=resolution.connections,
            assumptions=resolution.assumptions,
            graph=drawn,
            references=resolution.references,
            trace=list(trace.firings),
            inconsistencies=check_design(self.catalog, facts, resolution.decisions, drawn,
                                         resolution.conflicts),
            excepted=excepted_rules(self.catalog, trace.excepted, facts, trace.decisions),
        )


class AdvisorPool:
    """One shared ``Advisor`` per engine over one catalog, each compiled on first use.

    Compiling costs far more than a recommendation and durable-rules never frees a compiled
    rule set, so a long-lived process (the HTTP API, the Python API) keeps one per engine."""

    def __init__(self, catalog: Catalog | None = None, advisors: Iterable[Advisor] = ()) -> None:
        self._catalog = catalog
        self._advisors = {advisor.engine.name: advisor for advisor in advisors}
        self._lock = threading.Lock()

    def get(self, engine: str) -> Advisor:
        """The shared Advisor for ``engine``; ``ValueError`` for an engine that does not exist."""
        with self._lock:
            if engine not in self._advisors:
                if self._catalog is None:
                    self._catalog = load_catalog(rules_dir())
                self._advisors[engine] = Advisor(engine=engine, catalog=self._catalog)
            return self._advisors[engine]
