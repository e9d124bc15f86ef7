"""Conflicting requirements are reported with both sides, the rules involved and a way out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.catalog import CatalogError, load_catalog
from advisor.inputs import parse_requirements
from advisor.pipeline import Advisor
from advisor.render import render_json, render_markdown
from support import VALID_RULE, minimal_rules

STRONG_ACTIVE_ACTIVE = {
    "data": {"model": "key_value", "access_patterns_known": True, "consistency": "strong"},
    "availability": {"multi_region": True, "active_active": True},
}


def test_conflict_names_both_sides_rules_and_resolution(durable: Advisor) -> None:
    report = durable.recommend(parse_requirements(STRONG_ACTIVE_ACTIVE))
    conflict = next(item for item in report.conflicts if item.rule_id == "CONF-001")
    sides = [[(item.fact, item.value) for item in side.requirements] for side in conflict.sides]
    assert sides == [[("data.consistency", "strong")], [("availability.active_active", True)]]
    assert {ref.rule_id for ref in conflict.involves} == {"DATA-016", "DATA-021"}
    markdown = render_markdown(report)
    section = markdown.split("## Conflicts", 1)[1].split("\n## ", 1)[0]
    assert "| 1 | `data.consistency` | strong |" in section
    assert "| 2 | `availability.active_active` | true |" in section
    assert "**Way out:**" in section and "`DATA-016`" in section and "Related rules:" in section
    assert "1 conflict(s)" in markdown.split("## Architecture", 1)[0]


def test_json_report_carries_conflicts(durable: Advisor) -> None:
    data = json.loads(render_json(durable.recommend(parse_requirements(STRONG_ACTIVE_ACTIVE))))
    (conflict,) = [item for item in data["conflicts"] if item["rule_id"] == "CONF-001"]
    assert conflict["sides"][0]["requirements"][0]["fact"] == "data.consistency"
    assert conflict["resolution"]


@pytest.mark.parametrize(("document", "rule_id"), [
    ({"caching": {"hot_reads": True, "persistence": True, "multithreaded_simple_cache": True}},
     "CONF-002"),
    ({"operations": {"prefer_serverless": True}, "compute": {"max_duration_seconds": 3600}},
     "CONF-004"),
    ({"operations": {"prefer_serverless": True, "needs_os_access": True}}, "CONF-005"),
])
def test_each_documented_conflict_is_reported(
    durable: Advisor, document: dict[str, object], rule_id: str
) -> None:
    report = durable.recommend(parse_requirements(document))
    assert rule_id in {item.rule_id for item in report.conflicts}


def test_no_conflicts_section_when_requirements_agree(durable: Advisor) -> None:
    report = durable.recommend(parse_requirements(
        {"data": {"consistency": "eventual"}, "availability": {"active_active": True,
                                                              "multi_region": True}}))
    assert report.conflicts == ()
    assert "## Conflicts" not in render_markdown(report)


CONFLICT_RULE = """\
id: DATA-902
title: Test conflict between two answers
area: data
strength: moderate
priority: 50
when:
  - {{fact: data.consistency, equals: strong}}
conflict:
  sides:
    - {{facts: [data.consistency], wants: every read sees the latest write}}
    - {{facts: [{other}], wants: something the first side rules out}}
  explanation: Both cannot hold at once for the reasons given here.
  resolution: Relax one of the two.
  involves: [{involves}]
rationale: Testing how conflicts are checked.
citations:
  - {{source: seed-000, quote: "Key-value and document database"}}
examples:
  fires:
    - {{name: strong, requirements: {{data: {{consistency: strong}}}}}}
  silent:
    - {{name: eventual, requirements: {{data: {{consistency: eventual}}}}}}
"""


@pytest.mark.parametrize(("other", "involves", "message"), [
    ("availability.active_active", "DATA-900",
     "conflict.sides[1].facts: 'availability.active_active' is not tested by this rule's 'when'"),
    ("data.consistency", "DATA-999", "conflict.involves[0]: unknown rule 'DATA-999'"),
])
def test_conflict_rule_errors(tmp_path: Path, other: str, involves: str, message: str) -> None:
    root = minimal_rules(tmp_path, {
        "data/DATA-900-valid.yaml": VALID_RULE,
        "data/DATA-902-test.yaml": CONFLICT_RULE.format(other=other, involves=involves),
    })
    with pytest.raises(CatalogError, match="DATA-902") as raised:
        load_catalog(root, use_cache=False)
    assert message in str(raised.value)


def test_a_rule_has_one_purpose(tmp_path: Path) -> None:
    text = CONFLICT_RULE.format(other="data.consistency", involves="").replace(
        "rationale:", "warn: {message: A second purpose here., remedy: Remove one of them.}\n"
        "rationale:")
    root = minimal_rules(tmp_path, {"data/DATA-902-test.yaml": text})
    with pytest.raises(CatalogError, match="a rule has one purpose, found warn, conflict"):
        load_catalog(root, use_cache=False)
