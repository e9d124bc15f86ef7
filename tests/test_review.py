"""The Well-Architected review: every pillar, in the workload's priority order, with findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.catalog import CatalogError, load_catalog
from advisor.inputs import InputError, parse_requirements
from advisor.paths import rules_dir
from advisor.pipeline import Advisor
from advisor.render import render_markdown
from support import minimal_rules

PILLARS = ["operational_excellence", "security", "reliability", "performance_efficiency",
           "cost_optimization", "sustainability"]


def test_review_lists_all_six_pillars_in_framework_order(durable: Advisor) -> None:
    report = durable.recommend(parse_requirements({"workload": {"kind": "api"}}))
    assert [pillar.pillar for pillar in report.review] == PILLARS
    assert all(pillar.principles and pillar.citations for pillar in report.review)
    assert "## Well-Architected review" in render_markdown(report)


def test_review_follows_stated_pillar_priorities(durable: Advisor) -> None:
    stated = ["reliability", "cost_optimization"]
    report = durable.recommend(parse_requirements(
        {"workload": {"kind": "api", "pillar_priorities": stated}}))
    order = [pillar.pillar for pillar in report.review]
    assert order[:2] == stated
    assert order[2:] == [pillar for pillar in PILLARS if pillar not in stated]
    assert [pillar.rank for pillar in report.review[:3]] == [1, 2, None]
    assert "### Reliability (priority 1)" in render_markdown(report)


def test_repeated_pillar_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"workload\.pillar_priorities: .*each pillar may appear"):
        parse_requirements({"workload": {"pillar_priorities": ["security", "security"]}})


def test_review_rule_with_unknown_pillar_is_a_load_error(tmp_path: Path) -> None:
    text = """\
id: DATA-903
title: Test review finding on data
area: data
strength: moderate
priority: 50
when:
  - {fact: data.model, equals: key_value}
review: {pillar: resilience, kind: strength, finding: A finding long enough to pass.}
rationale: Testing the pillar reference check.
citations:
  - {source: seed-000, quote: "Key-value and document database"}
examples:
  fires: [{name: kv, requirements: {data: {model: key_value}}}]
  silent: [{name: rel, requirements: {data: {model: relational}}}]
"""
    root = minimal_rules(tmp_path, {"data/DATA-903-test.yaml": text})
    with pytest.raises(CatalogError, match=r"review\.pillar: unknown pillar 'resilience'"):
        load_catalog(root, use_cache=False)


def test_unknown_source_in_a_pillar_names_its_line(tmp_path: Path) -> None:
    root = minimal_rules(tmp_path, {})
    text = (rules_dir() / "_pillars.yaml").read_text(encoding="utf-8")
    broken = text.replace('{source: aws-well-architected, note: "Reliability',
                          '{source: aws-well-architectd, note: "Reliability')
    (root / "_pillars.yaml").write_text(broken, encoding="utf-8")
    line = 1 + broken.splitlines().index(
        next(row for row in broken.splitlines() if "aws-well-architectd" in row))
    with pytest.raises(CatalogError) as raised:
        load_catalog(root, use_cache=False)
    assert (f"rules/_pillars.yaml:{line}: reliability: citations[1].source: unknown source "
            "'aws-well-architectd' (did you mean 'aws-well-architected'?)") in str(raised.value)
