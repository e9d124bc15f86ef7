"""The bundled examples give the graphs their seed scenarios describe, and their reports match
the reviewed golden files byte for byte (refresh with --update-golden, then review the diff)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml

from advisor.inputs import read_requirements
from advisor.models.report import Report
from advisor.pipeline import Advisor
from advisor.render import render
from support import example_files

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden"
SCENARIOS: dict[str, Any] = yaml.safe_load((TESTS / "scenarios.yaml").read_text())


def test_every_example_has_a_scenario_expectation() -> None:
    assert sorted(path.stem for path in example_files()) == sorted(SCENARIOS)
    assert len(SCENARIOS) >= 6


def _report_rule_ids(report: Report) -> set[str]:
    """Every rule the report shows: deciders, contenders, warnings, conflicts, figures, review."""
    ids = {decision.rule_id for decision in report.decisions}
    ids |= {c.rule_id for decision in report.decisions for c in decision.contenders}
    ids |= {item.rule_id for item in report.warnings}
    ids |= {item.rule_id for item in report.conflicts}
    ids |= {item.rule_id for item in report.capacity}
    ids |= {f.rule_id for pillar in report.review for f in pillar.findings}
    return ids


@pytest.mark.parametrize(
    "name", sorted(name for name in SCENARIOS if SCENARIOS[name].get("differs"))
)
def test_where_the_tool_differs_from_the_seed_the_report_says_why(
    durable: Advisor, name: str
) -> None:
    report = durable.recommend(read_requirements(str(Path("examples") / f"{name}.yaml")))
    shown = _report_rule_ids(report)
    for difference in SCENARIOS[name]["differs"]:
        assert difference["rule"] in shown, (
            f"{difference['rule']} should explain: {difference['seed']} -> {difference['tool']}"
        )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_example_graph_contains_the_seed_scenario(durable: Advisor, name: str) -> None:
    report = durable.recommend(read_requirements(str(Path("examples") / f"{name}.yaml")))
    chosen = {node.id: node.component for node in report.graph.nodes}
    # Practices are decisions but not nodes; every decision is pinned, drawn or not.
    decided = {decision.slot: decision.component for decision in report.decisions}
    unpinned = sorted(set(decided) - set(SCENARIOS[name]["components"]))
    assert unpinned == [], f"decisions not reviewed in tests/scenarios.yaml: {unpinned}"
    chosen.update(decided)
    for slot, expected in SCENARIOS[name]["components"].items():
        allowed = expected if isinstance(expected, list) else [expected]
        assert chosen.get(slot) in allowed, f"{slot}: got {chosen.get(slot)}, want {allowed}"
    edges = {(edge.source, edge.target) for edge in report.graph.edges}
    for source, target in SCENARIOS[name]["edges"]:
        assert (source, target) in edges, f"missing edge {source} -> {target}"
    graph = nx.DiGraph(list(edges))
    for source, target in SCENARIOS[name].get("paths", []):
        assert graph.has_node(source) and nx.has_path(graph, source, target), (
            f"no path {source} -> {target}"
        )
    assert report.graph.checks.unreachable == ()
    warned = {item.rule_id for item in report.warnings}
    warned |= {item.rule_id for item in report.capacity if item.findings}
    for rule_id in SCENARIOS[name].get("warnings", []):
        assert rule_id in warned, f"the report should warn with {rule_id}"
    assert "```mermaid" in render(report, "md")
    for decision in report.decisions:
        assert decision.citations and decision.rationale and decision.evidence


# The tool version, the rule-set hash and the rule count change with every release or rule
# added; goldens hold placeholders for them, so they change only where a report does, and the
# rule set is pinned once, in RULESET (test_the_rule_set_is_the_reviewed_one).
_VOLATILE = (
    (re.compile(r"advisor \S+ \(engine: "), "advisor <version> (engine: "),
    (re.compile(r"`sha256:[0-9a-f]{64}` \(\d+ rules\)"), "`sha256:<rule set>` (<count> rules)"),
    (re.compile(r'"version": "[^"]*"'), '"version": "<version>"'),
    (re.compile(r'"ruleset_hash": "[0-9a-f]{64}"'), '"ruleset_hash": "<rule set>"'),
    (re.compile(r'"rule_count": \d+'), '"rule_count": "<count>"'),
)
RULESET = GOLDEN / "ruleset.txt"


def _normalised(text: str) -> str:
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text, count=1)
    return text


@pytest.mark.parametrize("path", example_files(), ids=lambda path: path.stem)
@pytest.mark.parametrize("output_format", ["md", "json"])
def test_report_matches_golden(
    durable: Advisor, path: Path, output_format: str, request: pytest.FixtureRequest
) -> None:
    text = _normalised(render(durable.recommend(read_requirements(str(path)), sensitivity=True),
                              output_format))
    golden = GOLDEN / f"{path.stem}.{output_format}"
    if request.config.getoption("--update-golden"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden}; run pytest --update-golden and review it"
    assert text == golden.read_text(encoding="utf-8")


def test_the_rule_set_is_the_reviewed_one(durable: Advisor, request: pytest.FixtureRequest) -> None:
    # Fails on any change to the knowledge files: review the golden diffs (decisions, evidence,
    # assumptions), then record the new rule set with --update-golden.
    pinned = f"{durable.catalog.digest} {len(durable.catalog.rules)} rules\n"
    if request.config.getoption("--update-golden"):
        RULESET.write_text(pinned, encoding="utf-8")
    assert RULESET.read_text(encoding="utf-8") == pinned


@pytest.mark.parametrize("path", example_files(), ids=lambda path: path.stem)
def test_json_report_carries_the_same_decisions_as_markdown(durable: Advisor, path: Path) -> None:
    report = durable.recommend(read_requirements(str(path)))
    markdown = render(report, "md")
    for decision in report.decisions:
        assert f"`{decision.id}`" in markdown
        assert decision.label in markdown
