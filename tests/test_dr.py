"""Disaster recovery follows the stated RTO and RPO: each band gets its own strategy, argued and
cited, and a budget that cannot pay for the band is reported as a conflict."""

from __future__ import annotations

import pytest

from advisor.inputs import parse_requirements
from advisor.models.report import Decision, Report
from advisor.pipeline import Advisor
from advisor.render import render_markdown

BASE = {"workload": {"kind": "api"}, "operations": {"prefer_serverless": True},
        "data": {"model": "key_value", "access_patterns_known": True},
        "availability": {"multi_az": True, "multi_region": True}}


def _report(advisor: Advisor, rto: float, rpo: float, **recovery: str) -> Report:
    document = {**BASE, "recovery": {"rto_minutes": rto, "rpo_minutes": rpo, **recovery}}
    return advisor.recommend(parse_requirements(document))


def _dr(report: Report) -> Decision:
    (decision,) = [item for item in report.decisions if item.slot == "dr_strategy"]
    return decision


@pytest.mark.parametrize(("rto", "rpo", "strategy"), [
    (240, 60, "dr_backup_restore"),            # hours: restore from cross-Region backups
    (10, 1, "dr_warm_standby"),                # minutes: a scaled-down copy always running
    (0, 0, "dr_multi_site_active_active"),     # real time: full capacity in several Regions
    (60, 5, "dr_pilot_light"),                 # tens of minutes: data live, servers off
    (240, 15, "dr_pilot_light"),               # long RTO, but sub-hour RPO needs replication
])
def test_strategy_follows_the_objectives(
    advisors: dict[str, Advisor], rto: float, rpo: float, strategy: str
) -> None:
    for advisor in advisors.values():
        decision = _dr(_report(advisor, rto, rpo))
        assert decision.component == strategy
        tested = {item.fact: item.value for item in decision.evidence}
        assert set(tested) & {"recovery.rto_target_minutes", "recovery.rpo_target_minutes"}
        derived = {name for item in decision.evidence for name in item.derived_from}
        assert derived & {"recovery.rto_minutes", "recovery.rpo_minutes"}
        assert decision.rationale and decision.alternatives
        assert "aws-dr-options" in {citation.source for citation in decision.citations}


def test_the_three_headline_profiles_get_three_different_strategies(durable: Advisor) -> None:
    chosen = {(rto, rpo): _dr(_report(durable, rto, rpo)).component
              for rto, rpo in ((240, 60), (10, 1), (0, 0))}
    assert len(set(chosen.values())) == 3
    markdown = render_markdown(_report(durable, 240, 60))
    assert "Backup and restore" in markdown or "backup and restore" in markdown


def test_every_objective_pair_gets_exactly_one_strategy(reference: Advisor) -> None:
    values = [0, 0.5, 1, 4, 5, 14, 15, 29, 30, 59, 60, 119, 120, 240, 1440]
    for rto in values:
        for rpo in values:
            report = _report(reference, rto, rpo)
            assert [item.slot for item in report.decisions].count("dr_strategy") == 1, (rto, rpo)


def test_rejected_strategies_say_why(durable: Advisor) -> None:
    decision = _dr(_report(durable, 10, 1))
    rejected = {item.component for item in decision.alternatives}
    assert {"dr_backup_restore", "dr_pilot_light", "dr_multi_site_active_active"} <= rejected


def test_budget_below_the_objectives_is_a_conflict(durable: Advisor) -> None:
    report = _report(durable, 240, 0, budget_allows="backup_restore")
    conflicts = {item.rule_id: item for item in report.conflicts}
    assert "CONF-010" in conflicts
    facts = [item.fact for side in conflicts["CONF-010"].sides for item in side.requirements]
    assert facts == ["recovery.rpo_target_minutes", "recovery.budget_allows"]
    # The design still follows the objective; the conflict asks the business to choose.
    assert _dr(report).component == "dr_multi_site_active_active"
    affordable = _report(durable, 240, 60, budget_allows="backup_restore")
    assert affordable.conflicts == ()


def _slots(report: Report) -> dict[str, str]:
    return {decision.slot: decision.component for decision in report.decisions}


def test_seconds_of_rpo_without_active_active_is_a_standby_with_replicated_data(
    advisors: dict[str, Advisor]
) -> None:
    document = {**BASE, "data": {"model": "relational", "needs_joins": True},
                "availability": {"multi_az": True, "multi_region": True, "active_active": False},
                "recovery": {"rto_minutes": 15, "rpo_minutes": 0.1}}
    for advisor in advisors.values():
        chosen = _slots(advisor.recommend(parse_requirements(document)))
        assert chosen["dr_strategy"] in ("dr_warm_standby", "dr_pilot_light")
        assert chosen["cross_region_replication"] == "aurora_global_database"


def test_an_rto_under_five_minutes_is_multi_site_only_when_active_active_is_asked(
    durable: Advisor
) -> None:
    asked = {**BASE, "availability": {**BASE["availability"], "active_active": True},
             "recovery": {"rto_minutes": 2, "rpo_minutes": 1}}
    assert _slots(durable.recommend(parse_requirements(asked)))["dr_strategy"] == (
        "dr_multi_site_active_active")
    silent = {**BASE, "recovery": {"rto_minutes": 2, "rpo_minutes": 1}}
    chosen = _dr(durable.recommend(parse_requirements(silent)))
    assert chosen.component == "dr_warm_standby"
    assert "dr_multi_site_active_active" in {item.component for item in chosen.alternatives}


def test_backup_and_restore_replicates_no_database_across_regions(durable: Advisor) -> None:
    document = {**BASE, "data": {"model": "relational", "needs_joins": True},
                "recovery": {"rto_minutes": 240, "rpo_minutes": 1440}}
    chosen = _slots(durable.recommend(parse_requirements(document)))
    assert chosen["dr_strategy"] == "dr_backup_restore"
    assert "cross_region_replication" not in chosen
    assert "aurora_global_database" not in chosen.values()


def test_one_region_only_gets_no_cross_region_recovery(durable: Advisor) -> None:
    document = {**BASE, "availability": {"multi_az": True, "multi_region": False},
                "recovery": {"rto_minutes": 60, "rpo_minutes": 5}}
    report = durable.recommend(parse_requirements(document))
    chosen = _slots(report)
    assert chosen["dr_strategy"] not in ("dr_pilot_light", "dr_warm_standby",
                                         "dr_multi_site_active_active")
    assert "dns_failover" not in chosen and "cross_region_replication" not in chosen
    assert all(edge.target in {node.id for node in report.graph.nodes}
               for edge in report.graph.edges)


def test_as_low_as_possible_counts_as_zero(durable: Advisor) -> None:
    stated = {**BASE, "recovery": {"rto_as_low_as_possible": True, "rpo_as_low_as_possible": True}}
    zero = {**BASE, "recovery": {"rto_minutes": 0, "rpo_minutes": 0}}
    assert _dr(durable.recommend(parse_requirements(stated))).component == (
        _dr(durable.recommend(parse_requirements(zero))).component)
