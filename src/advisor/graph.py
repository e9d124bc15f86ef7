"""Decisions -> component graph (networkx DiGraph) and its structural checks.

Nodes are filled slots (so two slots holding the same service stay two nodes, as in the seed
diagrams); edges come from the ``connects`` of each deciding rule. An edge whose endpoint slot
was not decided is never drawn: it is listed as omitted, naming the missing slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx

from advisor.catalog import Catalog
from advisor.memo import per_rule_set
from advisor.models.report import (
    Decision,
    GraphChecks,
    GraphEdge,
    GraphNode,
    GraphOut,
    OmittedEdge,
)
from advisor.models.rule import ComponentCategory, Resilience

# Mermaid arrow per edge kind.
ARROWS = {
    "sync_request": "-->",
    "async_message": "-.->",
    "event": "-.->",
    "replication": "==>",
    "read_write": "-->",
    "read": "-->",
    "write": "-->",
}


def build_graph(
    catalog: Catalog, decisions: Sequence[Decision], wiring: Sequence[str] = ()
) -> nx.DiGraph:
    """The chosen components as nodes; edges from the deciding rules, then wiring rules."""
    shared = per_rule_set(_Shared, catalog)
    graph = nx.DiGraph()
    omitted: list[OmittedEdge] = []
    graph.graph["omitted"] = omitted
    for decision in decisions:
        attributes = shared.node_attributes[decision.component]
        if attributes is not None:
            graph.add_node(decision.slot, **attributes, rule_id=decision.rule_id,
                           existing=decision.existing)
    # A component placed in the middle of a path (a connection pool, an inline cache) stops
    # the direct edge between its neighbours from being drawn.
    rerouted = {pair for decision in decisions for pair in shared.reroutes[decision.rule_id]}
    placing = [(decision.rule_id, decision.slot) for decision in decisions
               if decision.slot in graph]
    placing += [(rule_id, "") for rule_id in wiring]
    for rule_id, own_slot in placing:
        for start, end, kind, label in shared.connects[rule_id]:
            source = own_slot if start == "self" else start
            target = own_slot if end == "self" else end
            missing = tuple(slot for slot in (source, target) if slot not in graph)
            if missing:
                omitted.append(shared.omitted_edge(source, target, label, rule_id, missing))
                continue
            if graph.has_edge(source, target) or (source, target) in rerouted:
                continue  # first deciding rule in slot order keeps the edge
            graph.add_edge(source, target, kind=kind, label=label, rule_id=rule_id)
    return graph


def check_graph(
    catalog: Catalog, graph: nx.DiGraph, multi_az_required: bool
) -> GraphChecks:
    """Structural checks: omitted edges, components unreachable from an entry, SPOFs."""
    entries = [node for node in graph if catalog.slots[node].entry]
    undirected = graph.to_undirected(as_view=True)
    reachable: set[str] = set()
    for entry in entries:
        if entry not in reachable:  # an entry in a component already found adds nothing
            reachable |= nx.node_connected_component(undirected, entry)
    unreachable = sorted(node for node in graph if node not in reachable)
    single = sorted(
        node for node in graph if graph.nodes[node]["resilience"] == Resilience.single_az.value
    )
    configurable = sorted(
        node
        for node in graph
        if graph.nodes[node]["resilience"] == Resilience.configurable.value
    )
    return GraphChecks(
        omitted_edges=list(graph.graph["omitted"]),
        unreachable=unreachable,
        single_points_of_failure=single if multi_az_required else [],
        needs_multi_az_configuration=configurable if multi_az_required else [],
        multi_az_required=multi_az_required,
    )


def mermaid_quote(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "'")


def to_mermaid(catalog: Catalog, graph: nx.DiGraph) -> str:
    """A Mermaid flowchart of the graph, nodes in slot order, edges in (source, target) order."""
    lines = ["flowchart LR"]
    order = per_rule_set(_Shared, catalog).order
    nodes = sorted(graph, key=lambda item: order[item])
    for node in nodes:
        lines.append(f'  {node}["{mermaid_quote(graph.nodes[node]["label"])}"]')
    for source, target in sorted(graph.edges, key=lambda e: (order[e[0]], order[e[1]])):
        data = graph.edges[source, target]
        arrow = ARROWS[data["kind"]]
        lines.append(f'  {source} {arrow}|"{mermaid_quote(data["label"])}"| {target}')
    existing = [node for node in nodes if graph.nodes[node].get("existing")]
    if existing:
        # Components already in place are drawn with a dashed border.
        lines.append("  classDef existing stroke-dasharray: 5 5")
        lines.append(f"  class {','.join(existing)} existing")
    return "\n".join(lines)


def graph_out(catalog: Catalog, graph: nx.DiGraph, multi_az_required: bool) -> GraphOut:
    """The graph in node-link form, with checks and its Mermaid rendering."""
    shared = per_rule_set(_Shared, catalog)
    order = shared.order
    nodes = []
    for node, data in sorted(graph.nodes(data=True), key=lambda item: order[item[0]]):
        node_key = (node, data["component"], data["rule_id"], data["existing"])
        shared_node = shared.nodes.get(node_key)
        if shared_node is None:
            shared_node = shared.nodes[node_key] = GraphNode(
                id=node, component=data["component"], label=data["label"],
                service=data["service"], category=data["category"], rule_id=data["rule_id"],
                existing=data["existing"])
        nodes.append(shared_node)
    edges = []
    for source, target, data in sorted(graph.edges(data=True),
                                       key=lambda e: (order[e[0]], order[e[1]])):
        edge_key = (source, target, data["kind"], data["label"], data["rule_id"])
        shared_edge = shared.edges.get(edge_key)
        if shared_edge is None:
            shared_edge = shared.edges[edge_key] = GraphEdge(
                source=source, target=target, kind=data["kind"], label=data["label"],
                rule_id=data["rule_id"])
        edges.append(shared_edge)
    return GraphOut(directed=True, nodes=nodes, edges=edges,
                    checks=check_graph(catalog, graph, multi_az_required),
                    mermaid=to_mermaid(catalog, graph))


@dataclass
class _Shared:
    """A rule set's graph parts, read once: slot order, each component's node attributes
    (None for a practice, which is not drawn), each rule's edges and reroutes; and the
    node-link objects graphs have used. Those are frozen and fixed by slot, component, rule
    and edge, so every report showing one shares it; the catalog bounds how many there are."""

    catalog: Catalog
    order: dict[str, int] = field(init=False)
    node_attributes: dict[str, dict[str, str] | None] = field(init=False)
    connects: dict[str, tuple[tuple[str, str, str, str], ...]] = field(init=False)
    reroutes: dict[str, tuple[tuple[str, str], ...]] = field(init=False)
    nodes: dict[tuple[str | bool, ...], GraphNode] = field(default_factory=dict)
    edges: dict[tuple[str, ...], GraphEdge] = field(default_factory=dict)
    omitted: dict[tuple[str | tuple[str, ...], ...], OmittedEdge] = field(default_factory=dict)

    def __post_init__(self) -> None:
        catalog = self.catalog
        self.order = {slot: index for index, slot in enumerate(catalog.slots)}
        self.node_attributes = {
            component.id: None if component.category is ComponentCategory.practice else {
                "component": component.id, "label": component.label,
                "service": component.service, "category": component.category.value,
                "resilience": component.resilience.value,
            }
            for component in catalog.components.values()
        }
        self.connects = {
            rule.id: tuple((edge.from_, edge.to, edge.kind.value, edge.label)
                           for edge in rule.connects)
            for rule in catalog.rules
        }
        self.reroutes = {rule.id: tuple((item.from_, item.to) for item in rule.reroutes)
                         for rule in catalog.rules}

    def omitted_edge(self, source: str, target: str, label: str, rule_id: str,
                     missing: tuple[str, ...]) -> OmittedEdge:
        key = (source, target, label, rule_id, missing)
        made = self.omitted.get(key)
        if made is None:
            made = self.omitted[key] = OmittedEdge(
                source=source, target=target, label=label, rule_id=rule_id,
                missing=list(missing))
        return made
