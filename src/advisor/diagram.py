"""The component graph as an SVG diagram: layered left to right, drawn without JavaScript.

Layers are the topological generations of the graph with each cycle collapsed to one node, so
every arrow between layers points right; arrows within a layer or pointing back curve below
their boxes. Same graph, same bytes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import networkx as nx

from advisor.models.report import GraphEdge, GraphNode, GraphOut

BOX_WIDTH = 160
LINE_HEIGHT = 15
BOX_PADDING = 10
COLUMN_GAP = 130  # room for an edge label between two columns
ROW_GAP = 36
MARGIN = 24
LABEL_CHARS = 21  # characters per line in a box (12 px text in a 160 px box)
EDGE_LABEL_CHARS = 20
EDGE_LINE_HEIGHT = 12

# How an edge kind is drawn, as the Mermaid diagram in the Markdown report draws it:
# solid for requests and reads/writes, dashed for messages and events, thick for replication.
_STROKES = {
    "async_message": ' stroke-dasharray="6 4"',
    "event": ' stroke-dasharray="6 4"',
    "replication": ' stroke-width="3"',
}


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    height: float
    lines: tuple[str, ...]

    @property
    def middle(self) -> float:
        return self.y + self.height / 2


def _lines(text: str, width: int) -> tuple[str, ...]:
    return tuple(textwrap.wrap(text, width, break_long_words=True)) or ("",)


def _layers(graph: GraphOut) -> list[list[str]]:
    """Node ids per column; within a column, ordered near the nodes that point at them."""
    directed = nx.DiGraph()
    directed.add_nodes_from(node.id for node in graph.nodes)
    directed.add_edges_from((edge.source, edge.target) for edge in graph.edges)
    condensed = nx.condensation(directed)
    column: dict[str, int] = {}
    for depth, generation in enumerate(nx.topological_generations(condensed)):
        for component in generation:
            for member in condensed.nodes[component]["members"]:
                column[member] = depth
    order = {node.id: index for index, node in enumerate(graph.nodes)}
    layers: list[list[str]] = [[] for _ in range(max(column.values(), default=-1) + 1)]
    placed: dict[str, int] = {}
    for depth, layer in enumerate(layers):
        members = [node for node in order if column[node] == depth]

        def rank(node: str) -> tuple[float, int]:
            parents = [placed[source] for source in directed.predecessors(node)
                       if source in placed]
            # Node order breaks ties, so the layout depends on the graph alone.
            return (sum(parents) / len(parents) if parents else -1.0, order[node])

        layer.extend(sorted(members, key=rank))
        placed.update((node, position) for position, node in enumerate(layer))
    return layers


def _boxes(graph: GraphOut, layers: Sequence[Sequence[str]]) -> tuple[dict[str, _Box], float]:
    labels = {node.id: node.label for node in graph.nodes}
    heights = {ident: len(_lines(label, LABEL_CHARS)) * LINE_HEIGHT + 2 * BOX_PADDING
               for ident, label in labels.items()}
    column_heights = [sum(heights[ident] for ident in layer) + ROW_GAP * (len(layer) - 1)
                      for layer in layers]
    tallest = max(column_heights, default=0)
    boxes: dict[str, _Box] = {}
    for depth, layer in enumerate(layers):
        x = MARGIN + depth * (BOX_WIDTH + COLUMN_GAP)
        y = MARGIN + (tallest - column_heights[depth]) / 2
        for ident in layer:
            boxes[ident] = _Box(x, y, heights[ident], _lines(labels[ident], LABEL_CHARS))
            y += heights[ident] + ROW_GAP
    return boxes, tallest


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _node(node: GraphNode, box: _Box) -> str:
    first = box.y + BOX_PADDING + LINE_HEIGHT - 3
    lines = "".join(
        f'<tspan x="{_number(box.x + BOX_WIDTH / 2)}" y="{_number(first + index * LINE_HEIGHT)}">'
        f"{escape(line)}</tspan>" for index, line in enumerate(box.lines))
    # A component already in place has a dashed border, as in the Mermaid diagram.
    existing = ' stroke-dasharray="5 4" data-existing="true"' if node.existing else ""
    return (f'<g class="node" data-id="{escape(node.id)}" data-category="{escape(node.category)}">'
            f"<title>{escape(node.label)} ({escape(node.id)}, {escape(node.rule_id)})</title>"
            f'<rect x="{_number(box.x)}" y="{_number(box.y)}" width="{BOX_WIDTH}" '
            f'height="{_number(box.height)}" rx="6" fill="#f4f7fb" stroke="#3b5b7e"{existing}/>'
            f'<text text-anchor="middle" font-size="12" fill="#102030">{lines}</text></g>')


def _edge(edge: GraphEdge, source: _Box, target: _Box, low: float) -> str:
    if target.x > source.x:
        start = (source.x + BOX_WIDTH, source.middle)
        end = (target.x, target.middle)
        bend = (end[0] - start[0]) / 2
        controls = ((start[0] + bend, start[1]), (end[0] - bend, end[1]))
    else:
        # Same column or pointing back: leave and enter from below, under the boxes in between.
        start = (source.x + BOX_WIDTH / 2, source.y + source.height)
        end = (target.x + BOX_WIDTH / 2 + 12, target.y + target.height)
        controls = ((start[0], low), (end[0], low))
    path = (f"M{_number(start[0])},{_number(start[1])} C{_number(controls[0][0])},"
            f"{_number(controls[0][1])} {_number(controls[1][0])},{_number(controls[1][1])} "
            f"{_number(end[0])},{_number(end[1])}")
    # The curve's midpoint (t = 1/2) carries the label.
    mid_x = (start[0] + 3 * controls[0][0] + 3 * controls[1][0] + end[0]) / 8
    mid_y = (start[1] + 3 * controls[0][1] + 3 * controls[1][1] + end[1]) / 8
    lines = _lines(edge.label, EDGE_LABEL_CHARS)
    top = mid_y - (len(lines) - 1) * EDGE_LINE_HEIGHT / 2 + 3
    text = "".join(
        f'<tspan x="{_number(mid_x)}" y="{_number(top + index * EDGE_LINE_HEIGHT)}">'
        f"{escape(line)}</tspan>" for index, line in enumerate(lines))
    return (f'<g class="edge" data-source="{escape(edge.source)}" '
            f'data-target="{escape(edge.target)}" data-kind="{escape(edge.kind)}">'
            f"<title>{escape(edge.source)} to {escape(edge.target)}: {escape(edge.label)} "
            f"({escape(edge.rule_id)})</title>"
            f'<path d="{path}" fill="none" stroke="#52667a"{_STROKES.get(edge.kind, "")} '
            f'marker-end="url(#arrow)"/>'
            f'<text text-anchor="middle" font-size="10" fill="#203040" stroke="#ffffff" '
            f'stroke-width="3" paint-order="stroke">{text}</text></g>')


def architecture_svg(graph: GraphOut, title: str = "Architecture") -> str:
    """The graph as a standalone inline ``<svg>`` element: every node a labelled box, every
    edge an arrow with its label; the same graph always gives the same text."""
    layers = _layers(graph)
    boxes, tallest = _boxes(graph, layers)
    columns = len(layers)
    backward = any(boxes[edge.target].x <= boxes[edge.source].x for edge in graph.edges)
    below = 60 if backward else 0
    width = 2 * MARGIN + columns * BOX_WIDTH + max(columns - 1, 0) * COLUMN_GAP
    height = 2 * MARGIN + tallest + below
    low = MARGIN + tallest + below - 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="architecture" role="img" '
        f'width="{_number(width)}" height="{_number(height)}" '
        f'viewBox="0 0 {_number(width)} {_number(height)}" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#52667a"/></marker></defs>',
    ]
    parts.extend(_edge(edge, boxes[edge.source], boxes[edge.target], low)
                 for edge in graph.edges)
    parts.extend(_node(node, boxes[node.id]) for node in graph.nodes)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
