"""A rule never fires against its own stated exception: an upload pipeline whose transcodes
run 40 minutes does not get Lambda as its object processor, and the report says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.explain import explanation, render_explanation
from advisor.inputs import parse_requirements
from advisor.pipeline import Advisor
from advisor.render import render_markdown
from support import VALID_RULE, minimal_rules

UPLOADS = {"workload": {"kind": "api"}, "data": {"model": "blob", "process_on_upload": True}}


def _uploads(**compute: float) -> dict[str, object]:
    return {**UPLOADS, "compute": compute} if compute else UPLOADS


@pytest.mark.parametrize("engine", ["python", "durable"])
def test_long_transcodes_do_not_get_lambda_and_the_report_says_why(
    advisors: dict[str, Advisor], engine: str,
) -> None:
    report = advisors[engine].recommend(parse_requirements(_uploads(max_duration_seconds=2400)))
    chosen = {decision.slot: decision.component for decision in report.decisions}
    assert chosen["object_processing"] == "fargate_object_processor"
    assert "lambda_object_processor" not in chosen.values()
    assert "STOR-002" not in {firing.rule_id for firing in report.trace}
    (excepted,) = [item for item in report.excepted if item.rule_id == "STOR-002"]
    assert [(e.fact, e.value, e.test) for e in excepted.exceptions] == [
        ("compute.max_duration_seconds", 2400, "> 900")]
    markdown = render_markdown(report)
    assert "## Rules set aside by their own exceptions" in markdown
    assert "`STOR-002`" in markdown.split("## Rules set aside by their own exceptions")[1]


@pytest.mark.parametrize(("compute", "fires"), [
    ({}, True),  # unknown duration and memory: the exceptions do not hold
    ({"max_duration_seconds": 900}, True),
    ({"max_duration_seconds": 900.01}, False),
    ({"memory_gb": 10}, True),
    ({"memory_gb": 10.01}, False),
])
def test_an_exception_applies_only_when_the_requirements_say_so(
    reference: Advisor, compute: dict[str, float], fires: bool,
) -> None:
    report = reference.recommend(parse_requirements(_uploads(**compute)))
    assert ("STOR-002" in {firing.rule_id for firing in report.trace}) is fires
    assert ("STOR-002" in {item.rule_id for item in report.excepted}) is not fires
    if fires:
        assert "Rules set aside by their own exceptions" not in render_markdown(report)


def test_what_would_change_the_decision_names_the_exception(reference: Advisor) -> None:
    requirements = parse_requirements(_uploads(max_duration_seconds=2400))
    report = reference.recommend(requirements, sensitivity=True)
    text = render_explanation(explanation(report, "object_processing"), "md")
    assert "**900**" in text
    assert "`STOR-002` is set aside while `compute.max_duration_seconds` > 900" in text


# DATA-901 keeps an index beside any key-value store, except beside DynamoDB (a decision made
# in an earlier round): the exception reads the decision, and the report shows its value.
INDEX_RULE = (
    VALID_RULE.replace("DATA-900", "DATA-901")
    .replace("recommends DynamoDB for key-value data", "keeps a metadata index in DynamoDB")
    .replace("  slot: primary_datastore\n", "  slot: metadata_index\n")
    .replace("rationale:", "not_when: The primary store is DynamoDB itself.\nunless:\n"
             "  - {fact: decision.primary_datastore, equals: dynamodb}\nrationale:"))


@pytest.mark.parametrize("engine", ["python", "durable"])
def test_an_exception_on_a_decision_sets_the_rule_aside(tmp_path: Path, engine: str) -> None:
    rules = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE,
                                     "data/DATA-901-index.yaml": INDEX_RULE})
    advisor = Advisor(rules=rules, engine=engine)
    report = advisor.recommend(parse_requirements({"data": {"model": "key_value"}}))
    assert {decision.slot for decision in report.decisions} == {"primary_datastore"}
    (excepted,) = report.excepted
    assert excepted.rule_id == "DATA-901"
    assert [(e.fact, e.value, e.test) for e in excepted.exceptions] == [
        ("decision.primary_datastore", "dynamodb", "= dynamodb")]
