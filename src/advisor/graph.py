"""Decisions -> component graph (networkx DiGraph) and its structural checks.

Nodes are filled slots (so two slots holding the same service stay two nodes, as in the seed
diagrams); edges come from the ``connects`` of each deciding rule. An edge whose endpoint slot
was not decided is never drawn: it is listed as omitted, naming the missing slot.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from advisor.catalog import Catalog
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
    graph = nx.DiGraph()
    graph.graph["omitted"] = []
    for decision in decisions:
        component = catalog.components[decision.component]
        if component.category is ComponentCategory.practice:
            continue
        graph.add_node(
            decision.slot,
            component=component.id,
            label=component.label,
            service=component.service,
            category=component.category.value,
            resilience=component.resilience.value,
            rule_id=decision.rule_id,
        )
    # A component placed in the middle of a path (a connection pool, an inline cache) stops
    # the direct edge between its neighbours from being drawn.
    rerouted = {
        (reroute.from_, reroute.to)
        for decision in decisions
        for reroute in catalog.rule(decision.rule_id).reroutes
    }
    placing = [(catalog.rule(decision.rule_id), decision.slot) for decision in decisions
               if decision.slot in graph]
    placing += [(catalog.rule(rule_id), "") for rule_id in wiring]
    for rule, own_slot in placing:
        for edge in rule.connects:
            source = own_slot if edge.from_ == "self" else edge.from_
            target = own_slot if edge.to == "self" else edge.to
            missing = [end for end in (source, target) if end not in graph]
            if missing:
                graph.graph["omitted"].append(
                    OmittedEdge(source=source, target=target, label=edge.label,
                                rule_id=rule.id, missing=missing)
                )
                continue
            if graph.has_edge(source, target) or (source, target) in rerouted:
                continue  # first deciding rule in slot order keeps the edge
            graph.add_edge(source, target, kind=edge.kind.value, label=edge.label,
                           rule_id=rule.id)
    return graph


def check_graph(
    catalog: Catalog, graph: nx.DiGraph, multi_az_required: bool
) -> GraphChecks:
    """Structural checks: omitted edges, components unreachable from an entry, SPOFs."""
    entries = [node for node in graph if catalog.slots[node].entry]
    undirected = graph.to_undirected(as_view=True)
    reachable: set[str] = set()
    for entry in entries:
        reachable |= set(nx.node_connected_component(undirected, entry))
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
    order = {slot: index for index, slot in enumerate(catalog.slots)}
    for node in sorted(graph, key=lambda item: order[item]):
        lines.append(f'  {node}["{mermaid_quote(graph.nodes[node]["label"])}"]')
    for source, target in sorted(graph.edges, key=lambda e: (order[e[0]], order[e[1]])):
        data = graph.edges[source, target]
        arrow = ARROWS[data["kind"]]
        lines.append(f'  {source} {arrow}|"{mermaid_quote(data["label"])}"| {target}')
    return "\n".join(lines)


def graph_out(catalog: Catalog, graph: nx.DiGraph, multi_az_required: bool) -> GraphOut:
    """The graph in node-link form, with checks and its Mermaid rendering."""
    order = {slot: index for index, slot in enumerate(catalog.slots)}
    nodes = [
        GraphNode(id=node, component=data["component"], label=data["label"],
                  service=data["service"], category=data["category"], rule_id=data["rule_id"])
        for node, data in sorted(graph.nodes(data=True), key=lambda item: order[item[0]])
    ]
    edges = [
        GraphEdge(source=source, target=target, kind=data["kind"], label=data["label"],
                  rule_id=data["rule_id"])
        for source, target, data in sorted(
            graph.edges(data=True), key=lambda e: (order[e[0]], order[e[1]])
        )
    ]
    return GraphOut(directed=True, nodes=nodes, edges=edges,
                    checks=check_graph(catalog, graph, multi_az_required),
                    mermaid=to_mermaid(catalog, graph))
