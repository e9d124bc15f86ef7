"""The component graph's structural checks, on small graphs of real rules from the bundled catalog.

Rules are picked by what the test needs (slot, resilience, edges), not by id, so a rule being
renumbered does not break a test; a catalog with no such rule left fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from advisor.catalog import Catalog
from advisor.graph import build_graph, check_graph
from advisor.inputs import parse_requirements
from advisor.models.report import Decision, GraphChecks, OmittedEdge
from advisor.models.rule import Resilience
from advisor.pipeline import Advisor
from advisor.render import render_markdown

Pair = tuple[str, str]


def _rule_for(
    catalog: Catalog, slot: str, resilience: Resilience,
    connects: Iterable[Pair] = (), reroutes: Iterable[Pair] = (),
) -> str:
    """The first rule filling ``slot`` with a ``resilience`` component and exactly these edges."""
    for rule in catalog.rules_for_slot(slot):
        assert rule.recommend is not None
        component = catalog.components[rule.recommend.component]
        if (component.resilience is resilience
                and {(edge.from_, edge.to) for edge in rule.connects} == set(connects)
                and {(pair.from_, pair.to) for pair in rule.reroutes} == set(reroutes)):
            return rule.id
    pytest.fail(f"no bundled rule fills '{slot}' with a {resilience.value} component and "
                f"exactly connects={sorted(connects)} reroutes={sorted(reroutes)}")


def _decision(catalog: Catalog, rule_id: str) -> Decision:
    """The decision the rule makes, with no evidence or alternatives (the graph reads none)."""
    rule = catalog.rule(rule_id)
    assert rule.recommend is not None
    component = catalog.components[rule.recommend.component]
    slot = rule.recommend.slot
    return Decision(
        id=f"{rule.id}@{slot}", slot=slot, slot_title=catalog.slots[slot].title,
        component=component.id, label=component.label, service=component.service,
        rule_id=rule.id, rule_title=rule.title, strength=rule.strength.value,
        priority=rule.priority, round=0, rationale=rule.rationale, not_when=rule.not_when,
        settings=(), evidence=(), alternatives=(), contenders=(), citations=())


def _checks(catalog: Catalog, rule_ids: Iterable[str], multi_az_required: bool) -> GraphChecks:
    graph = build_graph(catalog, [_decision(catalog, rule_id) for rule_id in rule_ids])
    return check_graph(catalog, graph, multi_az_required)


def _compute(catalog: Catalog) -> str:
    return _rule_for(catalog, "app_compute", Resilience.regional)


def _memcached(catalog: Catalog) -> str:
    return _rule_for(catalog, "cache", Resilience.single_az, connects=[("app_compute", "self")])


def _relational(catalog: Catalog) -> str:
    return _rule_for(catalog, "primary_datastore", Resilience.configurable,
                     connects=[("app_compute", "self")])


@pytest.mark.parametrize("multi_az_required", [True, False])
def test_single_az_and_configurable_components_are_flagged_only_when_multi_az_is_required(
    catalog: Catalog, multi_az_required: bool,
) -> None:
    checks = _checks(catalog, [_compute(catalog), _memcached(catalog), _relational(catalog)],
                     multi_az_required)
    assert checks.multi_az_required is multi_az_required
    if multi_az_required:
        # the regional compute is in neither list; each of the others is in its own one
        assert checks.single_points_of_failure == ("cache",)
        assert checks.needs_multi_az_configuration == ("primary_datastore",)
    else:
        assert checks.single_points_of_failure == ()
        assert checks.needs_multi_az_configuration == ()


def test_a_node_connected_to_no_entry_slot_is_unreachable(catalog: Catalog) -> None:
    schedule = _rule_for(catalog, "clients", Resilience.regional,
                         connects=[("self", "app_compute")])
    lone_front_door = _rule_for(catalog, "front_door", Resilience.regional)
    assert catalog.slots["clients"].entry and not catalog.slots["front_door"].entry
    placed = [_compute(catalog), _memcached(catalog), lone_front_door]
    # The cache hangs off the compute, which the entry reaches; nothing reaches the front door.
    assert _checks(catalog, [schedule, *placed], True).unreachable == ("front_door",)
    # Without an entry nothing is reachable.
    assert _checks(catalog, placed, True).unreachable == ("app_compute", "cache", "front_door")


def test_an_edge_to_an_undecided_slot_is_omitted_naming_that_slot(catalog: Catalog) -> None:
    memcached = _memcached(catalog)
    (edge,) = catalog.rule(memcached).connects
    graph = build_graph(catalog, [_decision(catalog, memcached)])
    assert list(graph.nodes) == ["cache"] and list(graph.edges) == []
    assert check_graph(catalog, graph, False).omitted_edges == (
        OmittedEdge(source="app_compute", target="cache", label=edge.label, rule_id=memcached,
                    missing=("app_compute",)),
    )
    decided = build_graph(catalog, [_decision(catalog, _compute(catalog)),
                                    _decision(catalog, memcached)])
    assert list(decided.edges) == [("app_compute", "cache")]
    assert check_graph(catalog, decided, False).omitted_edges == ()


def test_a_component_rerouting_a_pair_stops_their_direct_edge(catalog: Catalog) -> None:
    proxy = _rule_for(catalog, "connection_pool", Resilience.regional,
                      connects=[("app_compute", "self"), ("self", "primary_datastore")],
                      reroutes=[("app_compute", "primary_datastore")])
    direct = [_decision(catalog, _compute(catalog)), _decision(catalog, _relational(catalog))]
    assert set(build_graph(catalog, direct).edges) == {("app_compute", "primary_datastore")}
    rerouted = build_graph(catalog, [*direct, _decision(catalog, proxy)])
    assert set(rerouted.edges) == {("app_compute", "connection_pool"),
                                   ("connection_pool", "primary_datastore")}


PLAIN_CACHE = {"data": {"model": "relational", "needs_joins": True},
               "caching": {"hot_reads": True, "multithreaded_simple_cache": True}}


@pytest.mark.parametrize("multi_az", [True, False])
def test_a_multi_az_profile_lists_its_single_az_cache_as_a_single_point_of_failure(
    reference: Advisor, catalog: Catalog, multi_az: bool,
) -> None:
    report = reference.recommend(
        parse_requirements({**PLAIN_CACHE, "availability": {"multi_az": multi_az}}))
    (cache,) = [decision for decision in report.decisions if decision.slot == "cache"]
    assert catalog.components[cache.component].resilience is Resilience.single_az
    checks = report.graph.checks
    assert checks.multi_az_required is multi_az
    assert checks.single_points_of_failure == (("cache",) if multi_az else ())
    listed = "- Single points of failure (cannot span AZs): `cache`."
    assert (listed in render_markdown(report)) is multi_az
