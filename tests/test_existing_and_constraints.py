"""Brownfield input: what already runs, what must stay, what may change, and the components an
organisation requires or forbids."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from advisor.catalog import Catalog
from advisor.design_doc import design_doc
from advisor.diagram import architecture_svg
from advisor.inputs import InputError, parse_requirements
from advisor.models.report import Decision, Report
from advisor.models.requirements import Existing
from advisor.models.rule import ComponentCategory
from advisor.pipeline import Advisor
from advisor.render import render_json, render_markdown
from support import VALID_RULE, merged, minimal_rules

JOINS = {"data": {"model": "relational", "needs_joins": True, "needs_transactions": True}}


def _report(advisor: Advisor, document: dict[str, Any]) -> Report:
    return advisor.recommend(parse_requirements(document))


def _decision(report: Report, slot: str) -> Decision:
    return next(decision for decision in report.decisions if decision.slot == slot)


def test_every_existing_value_has_a_rule_that_keeps_it(catalog: Catalog) -> None:
    kept: dict[str, set[str]] = {}
    for rule in catalog.rules:
        if rule.recommend and rule.recommend.existing:
            part = rule.recommend.existing.value
            for clause in rule.when:
                if clause.fact == f"existing.{part}" and clause.equals is not None:
                    kept.setdefault(part, set()).add(str(clause.equals))
    for part, field in Existing.model_fields.items():
        if part == "datastore_engine":
            continue
        values = {str(item.value) for item in field.annotation.__args__[0]}  # type: ignore[union-attr]
        assert kept.get(part, set()) == values, part


def test_an_existing_part_is_drawn_as_already_in_place(durable: Advisor) -> None:
    report = _report(durable, {"workload": {"kind": "api"},
                               "existing": {"datastore": "dynamodb"}})
    decision = _decision(report, "primary_datastore")
    assert (decision.component, decision.existing) == ("dynamodb", True)
    node = next(node for node in report.graph.nodes if node.id == "primary_datastore")
    assert node.existing
    assert "class primary_datastore existing" in report.graph.mermaid
    assert "classDef existing stroke-dasharray" in report.graph.mermaid
    assert 'data-existing="true"' in architecture_svg(report.graph)
    markdown = render_markdown(report)
    assert "| Amazon DynamoDB (already in place) |" in markdown
    assert "Dashed boxes are components already in place." in markdown
    assert json.loads(render_json(report))["graph"]["nodes"][-1].keys() >= {"existing"}


def test_nothing_existing_draws_nothing_dashed(durable: Advisor) -> None:
    report = _report(durable, JOINS)
    assert not any(node.existing for node in report.graph.nodes)
    assert "classDef existing" not in report.graph.mermaid
    assert "Dashed boxes" not in render_markdown(report)
    assert report.constraints == () and report.constraint_conflicts == ()


def test_a_kept_part_stays_and_the_rule_against_it_is_a_conflict(durable: Advisor) -> None:
    report = _report(durable, merged(JOINS, {"existing": {"datastore": "dynamodb"},
                                            "constraints": {"keep": ["datastore"]}}))
    decision = _decision(report, "primary_datastore")
    assert (decision.component, decision.constrained_by) == ("dynamodb", "keep")
    (conflict,) = report.constraint_conflicts
    assert (conflict.kind, conflict.subject, conflict.rule_id, conflict.wants) == (
        "keep", "datastore", "DATA-001", "aurora")
    assert [(item.fact, item.value) for item in conflict.constraint_evidence] == [
        ("existing.datastore", "dynamodb"), ("constraints.keep", ("datastore",))]
    assert {item.fact for item in conflict.evidence} >= {"data.needs_joins"}
    assert conflict.citations
    section = render_markdown(report).split("## Conflicts", 1)[1].split("\n## ", 1)[0]
    assert "### Keeping the existing Amazon DynamoDB goes against DATA-001" in section
    assert "| 1 | `existing.datastore` | dynamodb | Amazon DynamoDB |" in section
    assert "| 2 | `data.needs_joins` | true |" in section
    assert "**Way out:**" in section and "constraints.replaceable" in section


_OUTWEIGHED = re.compile(r"proposed \*\*[^*]+\*\* \(priority (\d+)(.*?)\): ")


def _outweighed(markdown: str) -> list[tuple[int, str]]:
    return [(int(number), rest) for number, rest in _OUTWEIGHED.findall(markdown)]


def test_an_outweighed_rule_says_truly_why_it_lost(durable: Advisor, tmp_path: Path) -> None:
    # A kept part wins against a rule of higher priority: the report must not claim the
    # winner had the higher priority.
    kept = render_markdown(_report(durable, {
        "workload": {"kind": "event_processing"},
        "existing": {"compute": "lambda", "workflow": "orchestrating_function"},
        "constraints": {"keep": ["workflow"]},
        "messaging": {"multi_step_workflow": True, "async_processing": True}}))
    assert (70, " > 20, outranked by the constraints") in _outweighed(kept)
    # Equal priorities are settled by rule id (ranking.py), which the report names. Lint
    # refuses such a tie in a rule set, so two tied rules of a rule set of the test's own show it.
    tied_rule = VALID_RULE.replace("DATA-900", "DATA-902").replace(
        "component: dynamodb", "component: documentdb").replace(
        "recommends DynamoDB", "recommends DocumentDB")
    rules = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE,
                                     "data/DATA-902-tied.yaml": tied_rule})
    tied = _report(Advisor(rules=rules, engine="durable"), {"data": {"model": "key_value"}})
    tie = render_markdown(tied)
    assert any(rest.startswith(", equal: the rule id first in order")
               for _, rest in _outweighed(tie)), tie
    # The design document words it the same way.
    assert ("outweighed (priority 50, equal: the rule id first in order, `DATA-900`, decides)"
            in design_doc(tied))
    for markdown in (kept, tie):
        for number, rest in _outweighed(markdown):
            if rest.startswith(" < "):
                assert number < int(rest[3:])


def test_without_keep_a_documented_reason_replaces_the_existing_part(durable: Advisor) -> None:
    report = _report(durable, merged(JOINS, {"existing": {"datastore": "dynamodb"}}))
    decision = _decision(report, "primary_datastore")
    assert (decision.component, decision.existing) == ("aurora", False)
    replaced = next(item for item in decision.alternatives if item.component == "dynamodb")
    assert replaced.constraint == "existing" and replaced.rule_id == "DATA-001"
    assert report.constraint_conflicts == ()
    (outcome,) = report.constraints
    assert (outcome.kind, outcome.status, outcome.chosen) == (
        "existing", "replaced", ("Amazon Aurora (MySQL/PostgreSQL-compatible)",))
    assert "- **Amazon DynamoDB** (already in place, not kept): DynamoDB is a key-value" in (
        render_markdown(report))


def test_an_existing_part_outranks_a_mere_default(durable: Advisor) -> None:
    # API-022 (an HTTP API by default for Lambda business logic) has no documented reason to
    # move clients off the load balancer they use.
    document = {"workload": {"kind": "api"}, "operations": {"prefer_serverless": True},
                "existing": {"front_door": "alb"}}
    assert _decision(_report(durable, document), "front_door").component == "alb"


def test_a_replaceable_part_gives_way_to_any_proposal(durable: Advisor) -> None:
    # Per-client quotas are a documented reason for a REST API (API-001); a default front door
    # alone would not move functions off a running load balancer (API-022's exception).
    document = {"workload": {"kind": "api"}, "operations": {"prefer_serverless": True},
                "api": {"rate_limiting": True},
                "existing": {"front_door": "alb"}, "constraints": {"replaceable": ["front_door"]}}
    report = _report(durable, document)
    assert _decision(report, "front_door").component == "api_gateway_rest"
    assert report.constraints[0].kind == "replaceable"
    assert report.constraints[0].status == "replaced"
    # Giving way is what replaceable asks for: nothing was demanded, so nothing conflicts.
    assert report.constraint_conflicts == ()
    assert "constraints.must_use" not in render_markdown(report)


def test_a_replaceable_part_stays_when_nothing_else_is_proposed(durable: Advisor) -> None:
    report = _report(durable, {"existing": {"cache": "elasticache_memcached"},
                               "constraints": {"replaceable": ["cache"]}})
    assert _decision(report, "cache").component == "elasticache_memcached"
    assert report.constraints[0].status == "kept"


def test_must_not_use_takes_the_next_alternative_and_says_why(durable: Advisor) -> None:
    base = {"workload": {"kind": "api"}, "api": {"rate_limiting": True},
            "operations": {"prefer_serverless": True}}
    assert _decision(_report(durable, base), "front_door").component == "api_gateway_rest"
    reason = "REST APIs are not approved by the platform team"
    report = _report(durable, merged(base, {"constraints": {"must_not_use": [
        {"component": "api_gateway_rest", "reason": reason}]}}))
    decision = _decision(report, "front_door")
    assert decision.component == "api_gateway_http"
    ruled_out = next(item for item in decision.alternatives
                     if item.component == "api_gateway_rest")
    assert (ruled_out.constraint, ruled_out.because) == ("must_not_use", reason)
    assert ruled_out.rule_id.startswith("API-")
    assert f"ruled out by your constraints (`constraints.must_not_use`): {reason}" in (
        render_markdown(report))
    outcome = next(item for item in report.constraints if item.kind == "must_not_use")
    assert (outcome.status, outcome.slots) == ("excluded", ("front_door",))
    assert all(decision.component != "api_gateway_rest" for decision in report.decisions)


def test_a_slot_whose_only_proposals_are_forbidden_is_undecided(durable: Advisor) -> None:
    document = {"workload": {"kind": "api"}, "operations": {"prefer_serverless": True},
                "constraints": {"must_not_use": [{"component": "lambda",
                                                  "reason": "No functions in production"}]}}
    report = _report(durable, document)
    assert all(decision.component != "lambda" for decision in report.decisions)
    undecided = next(item for item in report.undecided if item.slot == "app_compute")
    assert undecided.excluded == ("AWS Lambda functions",)
    assert "ruled out by `constraints.must_not_use`: AWS Lambda functions" in render_markdown(
        report)


def test_must_use_wins_a_slot_its_component_was_proposed_for(durable: Advisor) -> None:
    document = {"workload": {"kind": "api"}, "api": {"rate_limiting": True},
                "operations": {"prefer_serverless": True}}
    natural = _decision(_report(durable, document), "front_door")
    assert natural.component == "api_gateway_rest"
    fired = {item.component for item in natural.contenders}
    assert "api_gateway_http" in fired
    report = _report(durable, merged(document, {"constraints": {"must_use": [
        {"component": "api_gateway_http", "reason": "Platform standard"}]}}))
    decision = _decision(report, "front_door")
    assert (decision.component, decision.constrained_by) == ("api_gateway_http", "must_use")
    assert decision.constraint_reason == "Platform standard"
    conflict = next(item for item in report.constraint_conflicts if item.kind == "must_use")
    assert conflict.wants == "api_gateway_rest" and conflict.reason == "Platform standard"
    outcome = next(item for item in report.constraints if item.kind == "must_use")
    assert outcome.status == "used"


def test_must_use_that_no_rule_proposes_says_what_it_would_need(durable: Advisor) -> None:
    report = _report(durable, {"workload": {"kind": "api"}, "constraints": {"must_use": [
        {"component": "msk", "reason": "Kafka is the event backbone"}]}})
    outcome = next(item for item in report.constraints if item.kind == "must_use")
    assert outcome.status == "not_placed"
    assert outcome.candidate_rules and outcome.missing
    assert all(decision.component != "msk" for decision in report.decisions)


@pytest.mark.parametrize(("document", "field", "message"), [
    ({"constraints": {"keep": ["cache"]}}, "constraints.keep.0",
     "'cache' is not named in the existing section"),
    ({"existing": {"cache": "dax"}, "constraints": {"keep": ["cache"], "replaceable": ["cache"]}},
     "constraints.replaceable.0", "also in constraints.keep"),
    ({"constraints": {"must_use": [{"component": "sqs_queue", "reason": "standard"}],
                      "must_not_use": [{"component": "sqs_queue", "reason": "banned"}]}},
     "constraints.must_not_use.0.component", "also in constraints.must_use"),
    ({"recovery": {"rto_minutes": 5, "rto_as_low_as_possible": True}},
     "recovery.rto_as_low_as_possible", "not both"),
    ({"storage": {"archive_after_days": 90, "delete_after_days": 30}},
     "storage.delete_after_days", "must be more than storage.archive_after_days"),
])
def test_contradicting_inputs_are_refused_naming_the_field(
    document: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_requirements(document)
    (problem,) = caught.value.details
    assert ".".join(str(part) for part in problem.field or ()) == field
    assert message in problem.message


def test_the_cli_refuses_an_unknown_component_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "standards.yaml"
    path.write_text("workload: {kind: api}\nconstraints:\n  must_not_use:\n"
                    "    - {component: ekss, reason: No Kubernetes yet}\n", encoding="utf-8")
    out = tmp_path / "report.md"
    done = subprocess.run([sys.executable, "-m", "advisor", "recommend", str(path), "-o",
                           str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "constraints.must_not_use.0.component: unknown component 'ekss'" in done.stderr
    assert "did you mean: eks?" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
    inconsistent = tmp_path / "keep.yaml"
    inconsistent.write_text("existing: {datastore: rds}\nconstraints:\n  keep: [datastore, cache]\n",
                            encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "advisor", "recommend", str(inconsistent)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert f"{inconsistent}:3: constraints.keep.1: 'cache' is not named" in done.stderr


def test_both_engines_agree_under_constraints(advisors: dict[str, Advisor]) -> None:
    document = merged(JOINS, {
        "workload": {"kind": "web_app"}, "caching": {"hot_reads": True},
        "existing": {"datastore": "dynamodb", "compute": "ec2_auto_scaling", "front_door": "alb"},
        "constraints": {"keep": ["datastore"], "replaceable": ["compute"],
                        "must_not_use": [{"component": "dax", "reason": "VPC policy"}],
                        "must_use": [{"component": "elasticache_redis", "reason": "standard"}]},
    })
    requirements = parse_requirements(document)
    python, durable = (advisors[name].recommend(requirements) for name in ("python", "durable"))
    assert python.trace == durable.trace
    assert render_markdown(python).replace("engine: python", "engine: durable") == (
        render_markdown(durable))


def test_the_questionnaire_asks_for_components_with_a_reason() -> None:
    from advisor.ask import display, interpret
    from advisor.questions import check_answer, questions

    question = next(item for item in questions() if item.id == "constraints.must_not_use")
    assert question.kind == "components"
    value = interpret(question, "eks: no Kubernetes yet; oracle_db:licences")
    assert value == [{"component": "eks", "reason": "no Kubernetes yet"},
                     {"component": "oracle_db", "reason": "licences"}]
    assert display(value) == "eks: no Kubernetes yet; oracle_db: licences"
    assert interpret(question, "none") == []
    (problem,) = check_answer({}, question, interpret(question, "eks"))
    assert problem.field == ("constraints", "must_not_use", 0, "reason")


def test_a_kept_part_outranks_a_required_component(durable: Advisor) -> None:
    document = {"workload": {"kind": "api"}, "operations": {"prefer_serverless": True},
                "api": {"rate_limiting": True}, "existing": {"front_door": "alb"},
                "constraints": {"keep": ["front_door"], "must_use": [
                    {"component": "api_gateway_rest", "reason": "Platform standard"}]}}
    report = _report(durable, document)
    decision = _decision(report, "front_door")
    assert (decision.component, decision.existing) == ("alb", True)
    outcome = next(item for item in report.constraints if item.kind == "must_use")
    assert (outcome.status, outcome.slots) == ("outranked", ("front_door",))
    assert "which a part kept by `constraints.keep` holds" in render_markdown(report)


def _existing_rules() -> list[tuple[str, str, str]]:
    from advisor.catalog import load_catalog
    from advisor.paths import rules_dir

    catalog = load_catalog(rules_dir())
    out = []
    for rule in catalog.rules:
        if rule.recommend is None or rule.recommend.existing is None:
            continue
        part = rule.recommend.existing.value
        value = next(str(clause.equals) for clause in rule.when
                     if clause.fact == f"existing.{part}")
        out.append((rule.id, part, value))
    return out


@pytest.mark.parametrize(("rule_id", "part", "value"), _existing_rules(),
                         ids=lambda item: str(item))
def test_every_existing_part_is_drawn_connected_to_the_system(
    durable: Advisor, rule_id: str, part: str, value: str
) -> None:
    existing = {"compute": "ec2_auto_scaling", "front_door": "alb", part: value}
    report = _report(durable, {"workload": {"kind": "web_app"}, "existing": existing})
    slot = durable.catalog.rule(rule_id).slot
    # The part stays, or a rule replaces it (a self-run broker by Amazon MQ ...): either way
    # whatever holds the slot is drawn with its connections.
    decided = {decision.slot: decision.component for decision in report.decisions}
    assert slot in decided
    ends = {end for edge in report.graph.edges for end in (edge.source, edge.target)}
    if durable.catalog.components[decided[slot]].category is ComponentCategory.practice:
        # A practice (MSK Serverless capacity, a serverless cache's scaling) is never drawn;
        # the resource the same existing value keeps is, with its connections.
        resources = {durable.catalog.rule(other).slot for other, other_part, other_value
                     in _existing_rules()
                     if (other_part, other_value) == (part, value) and other != rule_id}
        assert resources & ends, (rule_id, resources, report.graph.mermaid)
    else:
        assert slot in ends, (slot, report.graph.mermaid)


@pytest.mark.parametrize(("latency", "band"), [
    ({"p99_ms": 10}, "lowest_possible"),        # up to 10 ms, as latency.band's description says
    ({"p99_ms": 10.5}, "real_time"),
    ({"p99_ms": 1000}, "real_time"),
    ({"p99_ms": 5000}, "seconds"),
    ({"p99_ms": 60000}, "near_real_time"),
    ({"p99_ms": 600000}, "minutes"),
    ({"p99_ms": 7200000}, "hours"),
    ({"target": "near_real_time"}, "near_real_time"),
    ({"target": "minutes", "p99_ms": 500}, "real_time"),   # the faster of the two
    ({"target": "lowest_possible", "p99_ms": 500}, "lowest_possible"),
])
def test_the_latency_band_follows_the_number_or_the_words(
    latency: dict[str, Any], band: str
) -> None:
    from advisor.facts import build_facts

    assert build_facts(parse_requirements({"latency": latency}))["latency.band"] == band


def test_recovery_as_low_as_possible_is_an_objective_of_zero() -> None:
    from advisor.facts import build_facts

    facts = build_facts(parse_requirements({"recovery": {
        "rto_as_low_as_possible": True, "rpo_minutes": 15}}))
    assert (facts["recovery.rto_target_minutes"], facts["recovery.rpo_target_minutes"]) == (0, 15)
    unstated = build_facts(parse_requirements({"recovery": {"rto_as_low_as_possible": False}}))
    assert "recovery.rto_target_minutes" not in unstated


def test_serial_work_is_the_item_count_times_the_longest_item() -> None:
    from advisor.facts import build_facts, inputs_for_derived

    facts = build_facts(parse_requirements({"jobs": {"item_count": 40000},
                                            "compute": {"max_duration_seconds": 90}}))
    assert facts["jobs.serial_work_seconds"] == 3_600_000
    assert "jobs.serial_work_seconds" not in build_facts(
        parse_requirements({"jobs": {"item_count": 40000}}))
    # The inverse names a whole number of items that reaches the value, or else the duration.
    assert inputs_for_derived("jobs.serial_work_seconds", 900.01,
                              {"compute.max_duration_seconds": 90}) == {"jobs.item_count": 11}
    assert inputs_for_derived("jobs.serial_work_seconds", 901,
                              {"jobs.item_count": 10}) == {"compute.max_duration_seconds": 90.1}
    assert inputs_for_derived("jobs.serial_work_seconds", 901, {}) is None


def test_a_test_against_zero_is_not_shown_as_false() -> None:
    from advisor.models.rule import Clause
    from advisor.resolve import describe_test

    # Cached by operand: false and 0 are equal keys unless the cache tells their types apart.
    assert describe_test(Clause.model_validate({"fact": "data.needs_joins", "equals": False})) == (
        "= false")
    assert describe_test(Clause.model_validate(
        {"fact": "recovery.rpo_target_minutes", "equals": 0})) == "= 0"


def test_an_internal_alb_kept_behind_a_new_api_is_drawn_between_them(durable: Advisor) -> None:
    # API-085 puts an HTTP API in front for internet callers; WEB-005 keeps the ALB behind it.
    report = _report(durable, {"workload": {"kind": "api"},
                               "existing": {"front_door": "alb_internal", "compute": "ecs_fargate"},
                               "api": {"private_only": False}})
    assert _decision(report, "front_door").component == "api_gateway_http"
    assert _decision(report, "internal_load_balancer").component == "alb_internal"
    edges = {(edge.source, edge.target) for edge in report.graph.edges}
    # The API reaches the tasks only through a VPC link to the load balancer.
    assert {("front_door", "api_vpc_link"), ("api_vpc_link", "internal_load_balancer"),
            ("internal_load_balancer", "app_compute")} <= edges
    assert ("front_door", "app_compute") not in edges
    assert ("front_door", "internal_load_balancer") not in edges
    assert report.graph.checks.unreachable == ()


def test_a_kept_internal_alb_moves_behind_a_new_api_without_a_conflict(
        durable: Advisor) -> None:
    # Keeping the internal ALB means it stays in the design, not that it must stay the entry
    # point: API-085 tests the existing ALB and WEB-005 keeps it behind the API.
    document = {"workload": {"kind": "api"},
                "existing": {"front_door": "alb_internal", "compute": "ecs_fargate"},
                "constraints": {"keep": ["front_door", "compute"]},
                "api": {"private_only": False}}
    report = _report(durable, document)
    assert _decision(report, "front_door").component == "api_gateway_http"
    behind = _decision(report, "internal_load_balancer")
    assert (behind.component, behind.existing) == ("alb_internal", True)
    assert report.constraint_conflicts == ()
    outcome = next(item for item in report.constraints if item.subject == "front_door")
    assert (outcome.kind, outcome.status) == ("keep", "kept")
    # Callers inside the VPC only: the kept ALB stays the front door.
    private = _report(durable, merged(document, {"api": {"private_only": True}}))
    assert _decision(private, "front_door").component == "alb_internal"


def test_a_rule_against_a_moved_kept_part_is_a_conflict_naming_both(durable: Advisor) -> None:
    # Static IPs need a load balancer entry (API-008); the kept internal ALB went behind an API.
    report = _report(durable, {
        "workload": {"kind": "api"},
        "existing": {"front_door": "alb_internal", "compute": "ecs_fargate"},
        "constraints": {"keep": ["front_door"]},
        "api": {"private_only": False, "static_ip": True}})
    (conflict,) = report.constraint_conflicts
    assert (conflict.subject, conflict.kept_by, conflict.rule_id, conflict.component,
            conflict.kept_label) == (
        "front_door", "API-085", "API-008", "api_gateway_http",
        "Application Load Balancer (internal)")
    section = render_markdown(report).split("## Conflicts", 1)[1].split("\n## ", 1)[0]
    assert ("### Keeping the existing Application Load Balancer (internal) behind Amazon API "
            "Gateway HTTP API goes against API-008") in section


def _consulting(report: Report, fact: str) -> list[str]:
    return next((item.consulted_by for item in report.assumptions if item.fact == fact), [])


def test_an_input_is_an_assumption_only_where_a_running_part_lets_its_rule_apply(
        durable: Advisor) -> None:
    # MSG-077 turns an SNS topic in place into a FIFO topic when order matters: asking about
    # ordering helps only when an SNS topic runs, since no answer makes a part run.
    events = {"workload": {"kind": "event_processing"}, "messaging": {"consumers": "many"}}
    greenfield = _report(durable, events)
    assert "MSG-077" not in _consulting(greenfield, "messaging.ordering")
    running = _report(durable, {**events, "existing": {"messaging": "sns"}})
    assert "MSG-077" in _consulting(running, "messaging.ordering")
    other = _report(durable, {**events, "existing": {"messaging": "sqs"}})
    assert "MSG-077" not in _consulting(other, "messaging.ordering")
