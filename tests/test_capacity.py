"""Capacity figures against hand calculations, and the formula language's guard rails.

Every expected number below was worked out by hand from the documented unit sizes (shown in
the comment beside it), not produced by the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from advisor.catalog import CatalogError, load_catalog
from advisor.formulas import FormulaError, evaluate, parse_formula
from advisor.inputs import parse_requirements
from advisor.models.report import CapacityOut, Report
from advisor.pipeline import Advisor
from advisor.render import render_markdown
from support import merged, minimal_rules

DYNAMODB = {"model": "key_value", "access_patterns_known": True}
LAMBDA_API = {"workload": {"kind": "api"}, "operations": {"prefer_serverless": True}}
STREAM = {"analytics": {"ingest": "streaming", "timing": "after_landing"}}
QUEUE = {"workload": {"kind": "messaging"},
         "messaging": {"async_processing": True, "consumers": "one", "ordering": False}}


def _figure(advisor: Advisor, document: dict[str, Any], rule_id: str) -> CapacityOut:
    report = advisor.recommend(parse_requirements(document))
    found = [item for item in report.capacity if item.rule_id == rule_id]
    assert found, f"{rule_id} did not fire; figures: {[i.rule_id for i in report.capacity]}"
    return found[0]


# A queue read by Lambda in front of a consumer with a rate ceiling (MSG-090 paces it).
PACED: dict[str, Any] = {"workload": {"kind": "messaging"},
                         "messaging": {"async_processing": True, "consumers": "one"},
                         "operations": {"prefer_serverless": True}}

# (rule, requirements, expected result, expected limit findings)
CASES: list[tuple[str, dict[str, Any], float, int]] = [
    # Strong reads: reads/s x ceil(KB / 4)
    ("CAP-001", {"data": {**DYNAMODB, "consistency": "strong", "reads_per_second": 1000,
                          "item_size_kb": 6}}, 2000, 0),        # 1000 x ceil(1.5)=2
    ("CAP-001", {"data": {**DYNAMODB, "consistency": "strong", "reads_per_second": 80,
                          "item_size_kb": 4}}, 80, 0),          # 80 x 1
    ("CAP-001", {"data": {**DYNAMODB, "consistency": "strong", "reads_per_second": 25000,
                          "item_size_kb": 9}}, 75000, 1),       # 25000 x 3; over 40,000
    # Eventual reads: ceil(reads/s x ceil(KB / 4) / 2)
    ("CAP-002", {"data": {**DYNAMODB, "consistency": "eventual", "reads_per_second": 1000,
                          "item_size_kb": 6}}, 1000, 0),        # 1000 x 2 / 2
    ("CAP-002", {"data": {**DYNAMODB, "consistency": "eventual", "reads_per_second": 75,
                          "item_size_kb": 1}}, 38, 0),          # 75 x 1 / 2 = 37.5 -> 38
    ("CAP-002", {"data": {**DYNAMODB, "consistency": "eventual", "reads_per_second": 10,
                          "item_size_kb": 13}}, 20, 0),         # 10 x ceil(3.25)=4 / 2
    # Transactional reads: reads/s x ceil(KB / 4) x 2
    ("CAP-003", {"data": {**DYNAMODB, "needs_transactions": True, "reads_per_second": 500,
                          "item_size_kb": 3}}, 1000, 0),        # 500 x 1 x 2
    ("CAP-003", {"data": {**DYNAMODB, "needs_transactions": True, "reads_per_second": 100,
                          "item_size_kb": 8}}, 400, 0),         # 100 x 2 x 2
    ("CAP-003", {"data": {**DYNAMODB, "needs_transactions": True, "reads_per_second": 30,
                          "item_size_kb": 8.1}}, 180, 0),       # 30 x ceil(2.025)=3 x 2
    # Standard writes: writes/s x ceil(KB / 1) -- 1 KB write units, not the seed's 4 KB
    ("CAP-004", {"data": {**DYNAMODB, "writes_per_second": 200, "item_size_kb": 2.5}},
     600, 0),                                                   # 200 x 3 (seed: 125)
    ("CAP-004", {"data": {**DYNAMODB, "writes_per_second": 10, "item_size_kb": 1}}, 10, 0),
    ("CAP-004", {"data": {**DYNAMODB, "writes_per_second": 50, "item_size_kb": 0.3}},
     50, 0),                                                    # 50 x ceil(0.3)=1
    # Transactional writes: writes/s x ceil(KB) x 2
    ("CAP-005", {"data": {**DYNAMODB, "needs_transactions": True, "writes_per_second": 100,
                          "item_size_kb": 1.5}}, 400, 0),       # 100 x 2 x 2
    ("CAP-005", {"data": {**DYNAMODB, "needs_transactions": True, "writes_per_second": 5,
                          "item_size_kb": 3}}, 30, 0),          # 5 x 3 x 2
    ("CAP-005", {"data": {**DYNAMODB, "needs_transactions": True, "writes_per_second": 20000,
                          "item_size_kb": 1.2}}, 80000, 1),     # 20000 x 2 x 2; over 40,000
    # Kinesis, shared consumers (one or two): max(ceil(MB/s), ceil(records/1000),
    # ceil(MB/s x consumers / 2))
    ("CAP-006", merged(STREAM, {"streaming": {"write_mb_per_second": 3,
                                              "records_per_second": 2500,
                                              "consumer_count": 2}}), 3, 0),   # max(3, 3, 3)
    ("CAP-006", merged(STREAM, {"streaming": {"write_mb_per_second": 0.5,
                                              "records_per_second": 4500,
                                              "consumer_count": 2}}), 5, 0),   # max(1, 5, 1)
    ("CAP-006", merged(STREAM, {"streaming": {"write_mb_per_second": 5.5,
                                              "records_per_second": 100,
                                              "consumer_count": 2}}), 6, 0),   # max(6, 1, 6)
    ("CAP-006", merged(STREAM, {"streaming": {"write_mb_per_second": 1500,
                                              "records_per_second": 1000,
                                              "consumer_count": 2}}), 1500, 1),  # over 1,000
    # Kinesis, enhanced fan-out (three or more consumers): max(ceil(MB/s), ceil(records/1000))
    ("CAP-007", merged(STREAM, {"streaming": {"write_mb_per_second": 4,
                                              "records_per_second": 2000,
                                              "consumer_count": 3}}), 4, 0),   # max(4, 2)
    ("CAP-007", merged(STREAM, {"streaming": {"write_mb_per_second": 0.2,
                                              "records_per_second": 3500,
                                              "consumer_count": 4}}), 4, 0),   # max(1, 4)
    ("CAP-007", merged(STREAM, {"streaming": {"write_mb_per_second": 2.5,
                                              "records_per_second": 100,
                                              "consumer_count": 3}}), 3, 0),   # max(3, 1)
    # Lambda concurrency: ceil(peak rps x average ms / 1000)
    ("CAP-010", merged(LAMBDA_API, {"traffic": {"peak_rps": 500},
                                    "compute": {"average_duration_ms": 120}}), 60, 0),
    ("CAP-010", merged(LAMBDA_API, {"traffic": {"peak_rps": 9000},
                                    "compute": {"average_duration_ms": 250}}), 2250, 1),
    ("CAP-010", merged(LAMBDA_API, {"traffic": {"peak_rps": 33},
                                    "compute": {"average_duration_ms": 1000}}), 33, 0),
    ("CAP-010", merged(LAMBDA_API, {"traffic": {"peak_rps": 7},
                                    "compute": {"average_duration_ms": 150}}), 2, 0),  # 1.05
    # Cache memory: ceil(items x KB / 1,048,576 x 100) / 100 GB
    ("CAP-011", {"data": {"model": "relational", "needs_joins": True},
                 "caching": {"hot_reads": True, "item_count": 1000000, "item_size_kb": 2}},
     1.91, 0),                                                  # 2,000,000 KB = 1.907 GB
    ("CAP-011", {"data": {"model": "relational", "needs_joins": True},
                 "caching": {"hot_reads": True, "item_count": 1048576, "item_size_kb": 1}},
     1, 0),                                                     # exactly 1 GB
    ("CAP-011", {"data": {"model": "relational", "needs_joins": True},
                 "caching": {"hot_reads": True, "item_count": 400000000, "item_size_kb": 1}},
     381.47, 1),                                                # 381.4697 GB; over 300
    # API Gateway throttle share: ceil(peak / 10,000 x 1000) / 10 %
    ("CAP-012", merged(LAMBDA_API, {"traffic": {"peak_rps": 9000}}), 90, 1),   # over 80
    ("CAP-012", merged(LAMBDA_API, {"traffic": {"peak_rps": 2500}}), 25, 0),
    ("CAP-012", merged(LAMBDA_API, {"traffic": {"peak_rps": 12345}}), 123.5, 2),  # 123.45
    # SQS message size share: ceil(KB / 1024 x 1000) / 10 %
    ("CAP-013", merged(QUEUE, {"messaging": {"max_message_size_kb": 300}}), 29.3, 0),
    ("CAP-013", merged(QUEUE, {"messaging": {"max_message_size_kb": 1024}}), 100, 0),
    ("CAP-013", merged(QUEUE, {"messaging": {"max_message_size_kb": 2048}}), 200, 1),
    # SQS retention: ceil(days x 86,400) seconds
    ("CAP-014", merged(QUEUE, {"messaging": {"retention_days": 7}}), 604800, 0),
    ("CAP-014", merged(QUEUE, {"messaging": {"retention_days": 14}}), 1209600, 0),
    # A new design asking 30 days gets a stream instead (MSG-079); a queue already in place
    # keeps its 14-day ceiling, which the finding reports.
    ("CAP-014", merged(QUEUE, {"messaging": {"retention_days": 30},
                               "existing": {"messaging": "sqs"}}), 2592000, 1),
    ("CAP-014", merged(QUEUE, {"messaging": {"retention_days": 0.5}}), 43200, 0),
    # Load on the one sequence that keeps a global order: peak/s x seconds per message, as a %
    # of one consumer (rounded up to 0.1 %)
    ("CAP-120", {"workload": {"kind": "messaging"}, "traffic": {"peak_rps": 40},
                 "messaging": {"ordering": True, "ordering_scope": "global", "consumers": "one",
                               "processing_seconds": 0.05}}, 200, 1),  # 40 x 0.05 = 2 -> 200 %
    ("CAP-120", {"workload": {"kind": "messaging"}, "traffic": {"peak_rps": 10},
                 "messaging": {"ordering": True, "ordering_scope": "global", "consumers": "one",
                               "processing_seconds": 0.05}}, 50, 0),   # 10 x 0.05 = 0.5 -> 50 %
    ("CAP-120", {"workload": {"kind": "messaging"}, "traffic": {"peak_rps": 3},
                 "messaging": {"ordering": True, "ordering_scope": "global", "consumers": "one",
                               "processing_seconds": 0.333}}, 99.9, 0),  # 3 x 0.333 = 0.999
    # Peak write MB/s an on-demand stream must absorb (4 MB/s default, 200 MB/s ceiling)
    ("CAP-121", merged(STREAM, {"traffic": {"pattern": "spiky"},
                                "streaming": {"write_mb_per_second": 12}}), 12, 1),  # > 4
    ("CAP-121", merged(STREAM, {"traffic": {"pattern": "spiky"},
                                "streaming": {"write_mb_per_second": 3}}), 3, 0),
    ("CAP-121", merged(STREAM, {"traffic": {"pattern": "spiky"},
                                "streaming": {"write_mb_per_second": 500}}), 500, 2),  # > 4, > 200
    # Standard-IA days billed but unused: max(0, 30 - (archive - max(infrequent, 30)))
    ("CAP-160", {"storage": {"kind": "object", "infrequent_after_days": 30,
                             "archive_after_days": 90}}, 0, 0),      # 30 - 60 < 0
    ("CAP-160", {"storage": {"kind": "object", "infrequent_after_days": 30,
                             "archive_after_days": 45}}, 15, 1),     # 30 - 15
    ("CAP-160", {"storage": {"kind": "object", "infrequent_after_days": 7,
                             "archive_after_days": 40}}, 20, 1),     # moved at 30: 30 - 10
    # Glacier Instant / Flexible Retrieval days billed but unused: max(0, 90 - (delete - archive))
    ("CAP-161", {"storage": {"kind": "object", "archive_after_days": 90,
                             "archive_retrieval": "hours", "delete_after_days": 365}}, 0, 0),
    ("CAP-161", {"storage": {"kind": "object", "archive_after_days": 90,
                             "archive_retrieval": "hours", "delete_after_days": 120}}, 60, 1),
    ("CAP-161", {"storage": {"kind": "object", "archive_after_days": 30,
                             "archive_retrieval": "milliseconds", "delete_after_days": 100}},
     20, 1),                                                         # 90 - 70
    # Deep Archive days billed but unused: max(0, 180 - (delete - archive))
    ("CAP-162", {"storage": {"kind": "object", "archive_after_days": 90,
                             "archive_retrieval": "days", "delete_after_days": 2555}}, 0, 0),
    ("CAP-162", {"storage": {"kind": "object", "archive_after_days": 90,
                             "archive_retrieval": "days", "delete_after_days": 180}}, 90, 1),
    ("CAP-162", {"storage": {"kind": "object", "archive_after_days": 0,
                             "archive_retrieval": "days", "delete_after_days": 100}}, 80, 1),
    # Default instance warmup: the start-up time itself, at most 3,600 s
    ("CAP-166", {"existing": {"compute": "ec2_auto_scaling"},
                 "compute": {"startup_seconds": 180}}, 180, 0),
    ("CAP-166", {"existing": {"compute": "ec2_auto_scaling"},
                 "compute": {"startup_seconds": 3600}}, 3600, 0),
    ("CAP-166", {"existing": {"compute": "ec2_auto_scaling"},
                 "compute": {"startup_seconds": 5400}}, 5400, 1),
    # SQS event source maximum concurrency: floor(rate x duration s), at most 1,000
    ("CAP-175", {**PACED, "messaging": {**PACED["messaging"], "consumer_max_rps": 20},
                 "compute": {"average_duration_ms": 400}}, 8, 0),     # 20 x 0.4
    ("CAP-175", {**PACED, "messaging": {**PACED["messaging"], "consumer_max_rps": 10},
                 "compute": {"average_duration_ms": 250}}, 2, 0),     # floor(2.5)
    ("CAP-175", {**PACED, "messaging": {**PACED["messaging"], "consumer_max_rps": 3000},
                 "compute": {"average_duration_ms": 500}}, 1500, 1),  # 3000 x 0.5
]


@pytest.mark.parametrize(("rule_id", "document", "expected", "findings"), CASES,
                         ids=[f"{case[0]}-{index}" for index, case in enumerate(CASES)])
def test_capacity_figure_matches_hand_calculation(
    durable: Advisor, rule_id: str, document: dict[str, Any], expected: float, findings: int
) -> None:
    figure = _figure(durable, document, rule_id)
    assert figure.result == pytest.approx(expected)
    assert len(figure.findings) == findings


def test_every_capacity_rule_has_three_hand_calculations(durable: Advisor) -> None:
    capacity_rules = [rule.id for rule in durable.catalog.rules if rule.purpose == "capacity"]
    counted = {rule_id: sum(1 for case in CASES if case[0] == rule_id) for rule_id in
               capacity_rules}
    # The messaging-stream shard rules share their formula with the analytics ones.
    shared = {"CAP-008": "CAP-006", "CAP-009": "CAP-007"}
    short = {rule: n for rule, n in counted.items() if n < 3 and rule not in shared}
    assert not short, f"capacity rules with fewer than three worked examples: {short}"
    for copy, original in shared.items():
        assert durable.catalog.rule(copy).capacity.formula == (  # type: ignore[union-attr]
            durable.catalog.rule(original).capacity.formula)  # type: ignore[union-attr]


def test_report_shows_formula_inputs_and_result(durable: Advisor) -> None:
    document = {"data": {**DYNAMODB, "consistency": "strong", "reads_per_second": 1000,
                         "item_size_kb": 6}}
    report = durable.recommend(parse_requirements(document))
    markdown = render_markdown(report)
    assert "## Capacity" in markdown
    assert "**2,000** RCU" in markdown
    assert "`reads_per_second * ceil(item_size_kb / 4)`" in markdown
    assert "| `item_size_kb` | `data.item_size_kb` | 6 |" in markdown
    figure = next(item for item in report.capacity if item.rule_id == "CAP-001")
    assert {item.source for item in figure.citations} >= {"seed-002",
                                                          "aws-dynamodb-capacity-units"}


def test_capacity_is_silent_without_its_inputs(durable: Advisor) -> None:
    report = durable.recommend(parse_requirements({"data": {**DYNAMODB,
                                                            "consistency": "strong"}}))
    assert not [item for item in report.capacity if item.rule_id.startswith("CAP-00")]
    assert "data.reads_per_second" in {item.fact for item in report.assumptions}


def test_limit_finding_is_counted_in_the_summary(durable: Advisor) -> None:
    document = merged(LAMBDA_API, {"traffic": {"peak_rps": 9000},
                                   "compute": {"average_duration_ms": 250}})
    markdown = render_markdown(durable.recommend(parse_requirements(document)))
    assert "capacity figure(s) pass a documented limit" in markdown
    assert "**Over 900 concurrent executions:**" in markdown


def test_json_report_carries_capacity(durable: Advisor) -> None:
    report = durable.recommend(parse_requirements(
        {"data": {**DYNAMODB, "writes_per_second": 200, "item_size_kb": 2.5}}))
    data = Report.model_validate_json(report.model_dump_json())
    figure = next(item for item in data.capacity if item.rule_id == "CAP-004")
    assert figure.result == 600
    assert [(i.name, i.value) for i in figure.inputs] == [("writes_per_second", 200),
                                                          ("item_size_kb", 2.5)]


@pytest.mark.parametrize("text", [
    "__import__('os')", "a ** 2", "a if b else c", "open('x')", "a.b", "'text'", "a < b",
    "ceil(x=1)", "[a]", "lambda: 1",
    # calls the evaluator could not make: wrong arity, a function used as a value
    "min(a)", "max()", "ceil(a, b)", "round(a, b)", "round(a, 1, 2)", "ceil + a", "ceil(a) + ceil",
])
def test_formula_language_refuses_anything_but_arithmetic(text: str) -> None:
    with pytest.raises(FormulaError):
        parse_formula(text)


def test_formula_rounding_ignores_binary_noise() -> None:
    # 0.1 x 30 is 3.0000000000000004 in binary floating point; the unit count is still 3.
    assert evaluate(parse_formula("ceil(a * 30)"), {"a": 0.1}) == 3
    with pytest.raises(FormulaError, match="division by zero"):
        evaluate(parse_formula("a / b"), {"a": 1, "b": 0})


CAPACITY_RULE = """\
id: DATA-901
title: Test capacity rule sizing something
area: data
strength: moderate
priority: 50
when:
  - {{fact: data.reads_per_second, {gate}}}
capacity:
  figure: Test figure
  unit: units
  formula: {formula}
  inputs: {{{inputs}}}
  explanation: A figure used only by the loader tests.
rationale: Sizing from the stated read rate.
citations:
  - {{source: seed-000, quote: "Key-value and document database"}}
examples:
  fires:
    - {{name: given, requirements: {{data: {{reads_per_second: 10}}}}}}
  silent:
    - {{name: missing, requirements: {{data: {{model: key_value}}}}}}
"""


@pytest.mark.parametrize(("gate", "formula", "inputs", "message"), [
    ("exists: true", "reads * 2 + other", "reads: data.reads_per_second",
     "'other' is not a declared input"),
    ("exists: true", "reads * 2", "reads: data.reads_per_second, extra: data.size_gb",
     "declared but not used"),
    ("exists: true", "reads * 2", "reads: data.read_rate", "unknown fact 'data.read_rate'"),
    ("exists: true", "reads * 2", "reads: data.consistency", "is not a number"),
    ("exists: true", "reads * 2 + size", "reads: data.reads_per_second, size: data.size_gb",
     "'data.size_gb' may be unknown when the rule fires"),
    ("exists: true", "reads ** 2", "reads: data.reads_per_second",
     "only + - * / are allowed"),
    ("exists: true", "Reads * 2", "Reads: data.reads_per_second",
     "capacity.inputs.Reads.[key]: string should match pattern '^[a-z][a-z0-9_]*$'"),
    ("exists: true", "min(reads)", "reads: data.reads_per_second",
     "min() takes 2 or more positional argument(s)"),
])
def test_capacity_rule_errors_name_file_line_and_field(
    tmp_path: Path, gate: str, formula: str, inputs: str, message: str
) -> None:
    text = CAPACITY_RULE.format(gate=gate, formula=formula, inputs=inputs)
    root = minimal_rules(tmp_path, {"data/DATA-901-test.yaml": text})
    with pytest.raises(CatalogError) as raised:
        load_catalog(root, use_cache=False)
    lines = str(raised.value).splitlines()
    assert any(message in line and line.startswith("rules/data/DATA-901-test.yaml:")
               and ": DATA-901: capacity." in line for line in lines), lines


def test_division_by_zero_is_reported_not_raised(tmp_path: Path) -> None:
    text = CAPACITY_RULE.format(gate="exists: true", formula="100 / reads",
                                inputs="reads: data.reads_per_second")
    root = minimal_rules(tmp_path, {"data/DATA-901-test.yaml": text})
    advisor = Advisor(engine="python", catalog=load_catalog(root, use_cache=False))
    report = advisor.recommend(parse_requirements({"data": {"reads_per_second": 0}}))
    (figure,) = report.capacity
    assert figure.result is None and figure.error == "division by zero"
    assert "not computable (division by zero)" in render_markdown(report)
