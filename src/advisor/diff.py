"""What differs between two reports: decisions per slot, the requirement values and rules behind
each change, and the component graph's nodes and edges, with a Mermaid flowchart of both.

Pure functions over ``Report`` objects; the words around the result live in
``templates/diff.md.j2``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from advisor.graph import ARROWS, mermaid_quote
from advisor.models.report import Decision, Evidence, GraphEdge, GraphNode, Out, Report
from advisor.render import environment, render_json, tidy_markdown


class FieldChange(Out):
    """A requirement field whose given value differs; ``None`` where it was not given."""

    field: str
    before: Any
    after: Any


class DecisionSide(Out):
    """One side of a changed decision: the component and the rule that chose it, and why."""

    component: str
    label: str
    rule_id: str
    rule_title: str
    evidence: list[Evidence]


class DecisionChange(Out):
    """A slot filled on one side only, or by different components on the two sides."""

    slot: str
    slot_title: str
    change: Literal["added", "removed", "changed"]
    before: DecisionSide | None
    after: DecisionSide | None
    fields: list[str]  # changed requirement fields the deciding rules on either side tested


class ReportSummary(Out):
    """Which input or rule set a side of the comparison is."""

    name: str
    title: str
    input_hash: str
    ruleset_hash: str
    rule_count: int


class ReportDiff(Out):
    """Everything that differs between two reports (``before`` and ``after``)."""

    kind: Literal["requirements"] = "requirements"
    before: ReportSummary
    after: ReportSummary
    requirements: list[FieldChange]
    decisions: list[DecisionChange]
    nodes_added: list[GraphNode]
    nodes_removed: list[GraphNode]
    edges_added: list[GraphEdge]
    edges_removed: list[GraphEdge]
    mermaid: str
    differs: bool


class ProfileDiff(Out):
    """One requirements file evaluated against both rule sets."""

    file: str
    title: str
    diff: ReportDiff


class RulesDiff(Out):
    """The same profiles under two rule sets: which profiles' recommendations change."""

    kind: Literal["rules"] = "rules"
    before: str
    after: str
    before_ruleset_hash: str
    after_ruleset_hash: str
    before_rule_count: int
    after_rule_count: int
    profiles: list[ProfileDiff]
    changed: list[str]  # files of the profiles whose recommendation changes
    differs: bool


def _merged(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """Both sequences' items once each, ``first``'s order kept and each item only in
    ``second`` placed after its predecessor there: both sides list slots in catalog order."""
    merged = list(dict.fromkeys(first))
    previous: str | None = None
    for item in second:
        if item not in merged:
            merged.insert(merged.index(previous) + 1 if previous is not None else 0, item)
        previous = item
    return merged


def _fields(requirements: dict[str, Any]) -> dict[str, Any]:
    return {f"{section}.{name}": value
            for section, values in requirements.items() for name, value in values.items()}


def requirement_changes(before: Report, after: Report) -> list[FieldChange]:
    """Requirement fields given with different values (or given on one side only)."""
    old, new = _fields(before.requirements), _fields(after.requirements)
    return [FieldChange(field=name, before=old.get(name), after=new.get(name))
            for name in _merged(list(old), list(new)) if old.get(name) != new.get(name)]


def _side(decision: Decision | None) -> DecisionSide | None:
    if decision is None:
        return None
    return DecisionSide(component=decision.component, label=decision.label,
                        rule_id=decision.rule_id, rule_title=decision.rule_title,
                        evidence=decision.evidence)


def _tested(evidence: Iterable[Evidence]) -> set[str]:
    """The facts the evidence tested and the requirement fields derived facts come from."""
    return {name for item in evidence for name in (item.fact, *item.derived_from)}


def decision_changes(before: Report, after: Report,
                     changed_fields: Sequence[str] = ()) -> list[DecisionChange]:
    """Slots decided on one side only or by different components, in slot order."""
    old = {decision.slot: decision for decision in before.decisions}
    new = {decision.slot: decision for decision in after.decisions}
    changes = []
    for slot in _merged(list(old), list(new)):
        first, second = old.get(slot), new.get(slot)
        if first is not None and second is not None and first.component == second.component:
            continue
        tested = _tested([*(first.evidence if first else ()), *(second.evidence if second else ())])
        changes.append(DecisionChange(
            slot=slot, slot_title=(old[slot] if slot in old else new[slot]).slot_title,
            change="added" if first is None else "removed" if second is None else "changed",
            before=_side(first), after=_side(second),
            fields=[name for name in changed_fields if name in tested]))
    return changes


def _edge_key(edge: GraphEdge) -> tuple[str, str, str, str]:
    return (edge.source, edge.target, edge.kind, edge.label)


def diff_mermaid(before: Report, after: Report) -> str:
    """A Mermaid flowchart of both graphs together: nodes and edges only in ``after`` marked
    added, only in ``before`` removed, and a slot whose component differs marked changed."""
    old = {node.id: node for node in before.graph.nodes}
    new = {node.id: node for node in after.graph.nodes}
    order = _merged(list(old), list(new))
    lines = ["flowchart LR"]
    for node_id in order:
        first, second = old.get(node_id), new.get(node_id)
        if first is not None and second is not None:
            if first.component == second.component:
                lines.append(f'  {node_id}["{mermaid_quote(first.label)}"]')
            else:
                label = f"{mermaid_quote(first.label)} → {mermaid_quote(second.label)}"
                lines.append(f'  {node_id}["{label}"]:::changed')
        elif second is not None:
            lines.append(f'  {node_id}["{mermaid_quote(second.label)}"]:::added')
        elif first is not None:
            lines.append(f'  {node_id}["{mermaid_quote(first.label)}"]:::removed')
    position = {node_id: index for index, node_id in enumerate(order)}
    old_edges = {_edge_key(edge): edge for edge in before.graph.edges}
    new_edges = {_edge_key(edge): edge for edge in after.graph.edges}
    keys = sorted(old_edges.keys() | new_edges.keys(),
                  key=lambda key: (position[key[0]], position[key[1]], key[2], key[3]))
    styles: list[str] = []
    for index, key in enumerate(keys):
        source, target, kind, label = key
        lines.append(f'  {source} {ARROWS[kind]}|"{mermaid_quote(label)}"| {target}')
        if key not in new_edges:
            styles.append(f"  linkStyle {index} stroke:#c62828,stroke-width:2px,"
                          "stroke-dasharray:4 4")
        elif key not in old_edges:
            styles.append(f"  linkStyle {index} stroke:#2e7d32,stroke-width:3px")
    lines += styles
    lines += ["  classDef added fill:#e8f5e9,stroke:#2e7d32,stroke-width:2px",
              "  classDef removed fill:#ffebee,stroke:#c62828,stroke-dasharray:4 4",
              "  classDef changed fill:#fff8e1,stroke:#f9a825,stroke-width:2px"]
    return "\n".join(lines)


def _summary(report: Report, name: str) -> ReportSummary:
    return ReportSummary(name=name, title=report.title, input_hash=report.input_hash,
                         ruleset_hash=report.ruleset_hash, rule_count=report.rule_count)


def diff_reports(before: Report, after: Report, before_name: str,
                 after_name: str) -> ReportDiff:
    """Everything that differs between two reports; ``*_name`` say which input each is."""
    fields = requirement_changes(before, after)
    decisions = decision_changes(before, after, [change.field for change in fields])
    old_nodes = {(node.id, node.component) for node in before.graph.nodes}
    new_nodes = {(node.id, node.component) for node in after.graph.nodes}
    old_edges = {_edge_key(edge) for edge in before.graph.edges}
    new_edges = {_edge_key(edge) for edge in after.graph.edges}
    nodes_added = [node for node in after.graph.nodes if (node.id, node.component) not in old_nodes]
    nodes_removed = [node for node in before.graph.nodes
                     if (node.id, node.component) not in new_nodes]
    edges_added = [edge for edge in after.graph.edges if _edge_key(edge) not in old_edges]
    edges_removed = [edge for edge in before.graph.edges if _edge_key(edge) not in new_edges]
    return ReportDiff(
        before=_summary(before, before_name), after=_summary(after, after_name),
        requirements=fields, decisions=decisions,
        nodes_added=nodes_added, nodes_removed=nodes_removed,
        edges_added=edges_added, edges_removed=edges_removed,
        mermaid=diff_mermaid(before, after),
        differs=bool(decisions or nodes_added or nodes_removed or edges_added or edges_removed),
    )


def diff_rule_sets(before: str, after: str,
                   pairs: Sequence[tuple[str, Report, Report]]) -> RulesDiff:
    """Per profile (file, report under ``before`` rules, report under ``after`` rules), what
    the change of rules alters. Needs at least one profile."""
    profiles = [ProfileDiff(file=file, title=old.title,
                            diff=diff_reports(old, new, before, after))
                for file, old, new in pairs]
    first = pairs[0]
    return RulesDiff(
        before=before, after=after,
        before_ruleset_hash=first[1].ruleset_hash, after_ruleset_hash=first[2].ruleset_hash,
        before_rule_count=first[1].rule_count, after_rule_count=first[2].rule_count,
        profiles=profiles,
        changed=[profile.file for profile in profiles if profile.diff.differs],
        differs=any(profile.diff.differs for profile in profiles),
    )


def render_diff(diff: ReportDiff | RulesDiff, output_format: str,
                directory: Path | None = None) -> str:
    """A diff as Markdown (``templates/diff.md.j2``) or indented JSON."""
    if output_format == "json":
        return render_json(diff)
    template = environment(directory).get_template("diff.md.j2")
    return tidy_markdown(template.render(diff=diff))
