"""Designs an architect reviewed as a whole and rejected, each pinned as it is now answered on
both engines: one stream per flow, a private-only service with no public entry, an edge and a
static origin for global users whatever the compute, connectors drawn for auth and for API
Gateway in front of containers."""

from __future__ import annotations

from typing import Any

import pytest

from advisor.inputs import parse_requirements
from advisor.models.report import Report
from advisor.pipeline import Advisor
from advisor.render import render_markdown

PUBLIC = {"internet_clients", "cloudfront", "global_accelerator", "s3_static_website",
          "s3_transfer_acceleration", "alb", "api_gateway_http", "api_gateway_websocket"}


@pytest.fixture(params=["python", "durable"])
def advisor(request: pytest.FixtureRequest, advisors: dict[str, Advisor]) -> Advisor:
    return advisors[request.param]


def _report(advisor: Advisor, document: dict[str, Any]) -> Report:
    return advisor.recommend(parse_requirements(document))


def _chosen(report: Report) -> dict[str, str]:
    return {decision.slot: decision.component for decision in report.decisions}


def _edges(report: Report) -> set[tuple[str, str]]:
    return {(edge.source, edge.target) for edge in report.graph.edges}


def _section(markdown: str, title: str) -> str:
    return markdown.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


def test_an_iot_pipeline_has_one_stream_read_by_its_consumers(advisor: Advisor) -> None:
    report = _report(advisor, {
        "workload": {"kind": "event_processing"},
        "streaming": {"records_per_second": 50000, "write_mb_per_second": 50,
                      "consumer_count": 3, "retention_hours": 24},
        "analytics": {"ingest": "streaming", "timing": "in_stream"},
        "messaging": {"async_processing": True, "replay": True, "ordering": True}})
    streams = [d.slot for d in report.decisions if d.component == "kinesis_data_streams"]
    assert streams == ["message_channel"]
    # Both readers hang off the one stream, and its shards are counted once.
    assert {("message_channel", "app_compute"),
            ("message_channel", "stream_processing")} <= _edges(report)
    capacity = _section(render_markdown(report), "Capacity")
    assert capacity.count("| **50** shards |") == 1
    assert report.inconsistencies == ()


VPN_ONLY_APP = {"workload": {"kind": "web_app"}, "api": {"private_only": True},
                "traffic": {"global_users": True}, "compute": {"containerized": True},
                "security": {"private_content": True}, "storage": {"kind": "object"}}


def test_a_vpn_only_app_has_no_public_entry_point(advisor: Advisor) -> None:
    report = _report(advisor, VPN_ONLY_APP)
    chosen = _chosen(report)
    assert not PUBLIC & set(chosen.values()), sorted(PUBLIC & set(chosen.values()))
    assert (chosen["clients"], chosen["front_door"], chosen["cdn"]) == (
        "private_network_clients", "alb_internal", "private_network_path")
    # Signed CloudFront access and a public static origin are set aside by their own exceptions.
    assert {"CDN-014", "WEB-090"} <= {item.rule_id for item in report.excepted}
    assert report.inconsistencies == ()
    assert report.conflicts == ()


def test_a_vpn_only_app_keeping_its_cdn_is_a_conflict_naming_both_sides(
        advisor: Advisor) -> None:
    report = _report(advisor, {**VPN_ONLY_APP, "existing": {"cdn": "cloudfront"}})
    (conflict,) = [item for item in report.conflicts if item.rule_id == "CONF-180"]
    assert [[item.fact for item in side.requirements] for side in conflict.sides] == [
        ["api.private_only"], ["existing.cdn"]]
    assert "EXIST-054" in {ref.rule_id for ref in conflict.involves}
    # The public parts stay (the distribution is kept) and are accounted for by the conflict.
    assert _chosen(report)["cdn"] == "cloudfront"
    assert report.inconsistencies == ()


@pytest.mark.parametrize("compute", [{"compute": {"containerized": True}},
                                     {"operations": {"needs_os_access": True}}],
                         ids=["containers", "servers"])
def test_a_fleet_serving_global_users_gets_an_edge_and_a_static_origin(
        advisor: Advisor, compute: dict[str, Any]) -> None:
    report = _report(advisor, {"workload": {"kind": "web_app"},
                               "traffic": {"global_users": True}, **compute})
    chosen = _chosen(report)
    assert (chosen["cdn"], chosen["static_content"]) == ("cloudfront", "s3_static_website")
    assert {("clients", "cdn"), ("cdn", "front_door"), ("cdn", "static_content")} <= \
        _edges(report)


def test_a_regional_fleet_gets_no_static_origin_it_did_not_ask_for(advisor: Advisor) -> None:
    report = _report(advisor, {"workload": {"kind": "web_app"},
                               "traffic": {"global_users": False},
                               "compute": {"containerized": True}})
    assert "static_content" not in _chosen(report)


def test_a_global_game_on_servers_gets_an_edge_and_draws_its_identity_provider(
        advisor: Advisor) -> None:
    report = _report(advisor, {"workload": {"kind": "api"}, "traffic": {"global_users": True},
                               "api": {"websockets": True, "auth": "cognito"},
                               "operations": {"needs_os_access": True}})
    chosen = _chosen(report)
    assert chosen["front_door"] == "alb"
    assert chosen.get("cdn") == "cloudfront" or chosen.get("static_ip_front") == \
        "global_accelerator"
    assert chosen["api_authorization"] == "cognito_user_pool"
    assert ("front_door", "api_authorization") in _edges(report)
    assert "api_authorization" in {node.id for node in report.graph.nodes}


def test_api_gateway_reaches_private_containers_through_a_vpc_link(advisor: Advisor) -> None:
    report = _report(advisor, {"workload": {"kind": "api"},
                               "api": {"rate_limiting": True, "tiered_clients": True},
                               "compute": {"containerized": True},
                               "operations": {"prefer_managed": True}})
    chosen = _chosen(report)
    assert (chosen["front_door"], chosen["app_compute"]) == ("api_gateway_rest", "ecs_fargate")
    edges = _edges(report)
    assert {("front_door", "api_vpc_link"), ("api_vpc_link", "internal_load_balancer"),
            ("internal_load_balancer", "app_compute")} <= edges
    assert ("front_door", "app_compute") not in edges


MQTT_TELEMETRY = {"workload": {"kind": "analytics"}, "api": {"protocol": "mqtt"},
                  "analytics": {"ingest": "streaming", "timing": "after_landing"}}


def test_an_mqtt_fleet_reaches_its_one_stream_through_iot_core(advisor: Advisor) -> None:
    report = _report(advisor, MQTT_TELEMETRY)
    chosen = _chosen(report)
    assert (chosen["clients"], chosen["device_gateway"], chosen["stream_ingest"]) == (
        "iot_devices", "iot_core", "kinesis_data_streams")
    assert [d.slot for d in report.decisions if d.component == "kinesis_data_streams"] == [
        "stream_ingest"]
    edges = _edges(report)
    # The devices publish to the broker; an IoT rule, not the devices, writes the stream.
    assert {("clients", "device_gateway"), ("device_gateway", "stream_ingest")} <= edges
    assert ("clients", "stream_ingest") not in edges
    assert report.graph.checks.unreachable == ()
    assert report.inconsistencies == ()


def test_a_kept_mqtt_broker_is_a_conflict_not_a_replacement(advisor: Advisor) -> None:
    report = _report(advisor, {**MQTT_TELEMETRY,
                               "existing": {"messaging": "self_managed_mqtt_broker"},
                               "constraints": {"keep": ["messaging"]}})
    kept = next(d for d in report.decisions if d.slot == "device_gateway")
    assert (kept.component, kept.existing) == ("self_managed_mqtt_broker", True)
    (conflict,) = [item for item in report.constraint_conflicts
                   if item.slot == "device_gateway"]
    assert (conflict.kind, conflict.subject, conflict.kept_by) == (
        "keep", "messaging", "EXIST-111")
    replaceable = _report(advisor, {**MQTT_TELEMETRY,
                                    "existing": {"messaging": "self_managed_mqtt_broker"},
                                    "constraints": {"replaceable": ["messaging"]}})
    assert _chosen(replaceable)["device_gateway"] == "iot_core"
