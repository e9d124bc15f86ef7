"""The architecture diagram as SVG: every node and edge drawn, left to right, escaped, stable."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from advisor.diagram import architecture_svg
from advisor.inputs import read_requirements
from advisor.models.report import GraphChecks, GraphEdge, GraphNode, GraphOut
from advisor.pipeline import Advisor
from support import example_files

SVG = "{http://www.w3.org/2000/svg}"


def _graph(nodes: list[str], edges: list[tuple[str, str, str]],
           labels: dict[str, str] | None = None, kind: str = "sync_request") -> GraphOut:
    labels = labels or {}
    return GraphOut(
        directed=True,
        nodes=[GraphNode(id=node, component=node, label=labels.get(node, f"Service {node}"),
                         service=node, category="compute", rule_id="TEST-001")
               for node in nodes],
        edges=[GraphEdge(source=source, target=target, kind=kind, label=label,
                         rule_id="TEST-001") for source, target, label in edges],
        checks=GraphChecks(omitted_edges=[], unreachable=[], single_points_of_failure=[],
                           needs_multi_az_configuration=[], multi_az_required=False),
        mermaid="",
    )


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def _groups(root: ElementTree.Element, kind: str) -> list[ElementTree.Element]:
    return [group for group in root.iter(f"{SVG}g") if group.get("class") == kind]


def _box_x(root: ElementTree.Element) -> dict[str, float]:
    out = {}
    for group in _groups(root, "node"):
        rect = group.find(f"{SVG}rect")
        assert rect is not None
        out[str(group.get("data-id"))] = float(rect.get("x", "nan"))
    return out


def _shown_text(group: ElementTree.Element) -> str:
    text = group.find(f"{SVG}text")
    assert text is not None
    return " ".join(span.text or "" for span in text.iter(f"{SVG}tspan"))


@pytest.mark.parametrize("path", example_files()[:6], ids=lambda path: Path(path).stem)
def test_every_node_and_edge_of_a_report_is_drawn_once(durable: Advisor, path: Path) -> None:
    graph = durable.recommend(read_requirements(str(path))).graph
    root = _parse(architecture_svg(graph))
    nodes = {str(group.get("data-id")): group for group in _groups(root, "node")}
    assert sorted(nodes) == sorted(node.id for node in graph.nodes)
    for node in graph.nodes:
        # Wrapping may split a label anywhere, so compare it without the spaces.
        assert _shown_text(nodes[node.id]).replace(" ", "") == node.label.replace(" ", "")
    drawn = sorted((str(group.get("data-source")), str(group.get("data-target")),
                    _shown_text(group).replace(" ", "")) for group in _groups(root, "edge"))
    assert drawn == sorted((edge.source, edge.target, edge.label.replace(" ", ""))
                           for edge in graph.edges)
    for group in _groups(root, "edge"):
        path_element = group.find(f"{SVG}path")
        assert path_element is not None and path_element.get("marker-end") == "url(#arrow)"


def test_same_graph_gives_the_same_bytes(durable: Advisor) -> None:
    graph = durable.recommend(read_requirements("examples/three-tier-web-app.yaml")).graph
    first = architecture_svg(graph)
    again = architecture_svg(GraphOut.model_validate(graph.model_dump()))
    assert first == again


def test_arrows_point_right_from_the_entry_nodes() -> None:
    graph = _graph(["database", "clients", "app", "front"],
                   [("clients", "front", "HTTPS"), ("front", "app", "HTTP"),
                    ("app", "database", "SQL"), ("clients", "app", "direct")])
    x = _box_x(_parse(architecture_svg(graph)))
    assert x["clients"] < x["front"] < x["app"] < x["database"]


def test_a_cycle_shares_a_column_and_is_still_drawn() -> None:
    graph = _graph(["clients", "a", "b"],
                   [("clients", "a", "calls"), ("a", "b", "writes"), ("b", "a", "replicates")])
    root = _parse(architecture_svg(graph))
    x = _box_x(root)
    assert x["clients"] < x["a"] == x["b"]
    assert len(_groups(root, "edge")) == 3


def test_labels_are_escaped() -> None:
    label = '<script>alert("x")</script> & more'
    graph = _graph(["a", "b"], [("a", "b", "<b>bold</b> & 'quoted'")], labels={"a": label})
    svg = architecture_svg(graph, title="A & <B>")
    assert "<script>" not in svg and "<b>" not in svg
    root = _parse(svg)  # well-formed XML despite the markup in the labels
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "A & <B>"
    node = next(group for group in _groups(root, "node") if group.get("data-id") == "a")
    assert _shown_text(node).replace(" ", "") == label.replace(" ", "")
    edge = _groups(root, "edge")[0]
    assert _shown_text(edge) == "<b>bold</b> & 'quoted'"


def test_edge_kinds_are_drawn_apart() -> None:
    def stroke(kind: str) -> dict[str, str]:
        root = _parse(architecture_svg(_graph(["a", "b"], [("a", "b", "x")], kind=kind)))
        path = _groups(root, "edge")[0].find(f"{SVG}path")
        assert path is not None
        return dict(path.attrib)

    assert "stroke-dasharray" in stroke("async_message")
    assert stroke("replication").get("stroke-width") == "3"
    assert "stroke-dasharray" not in stroke("sync_request")
    assert "stroke-width" not in stroke("sync_request")


def test_an_empty_graph_is_an_empty_drawing() -> None:
    root = _parse(architecture_svg(_graph([], [])))
    assert not _groups(root, "node") and not _groups(root, "edge")
