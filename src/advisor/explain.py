"""A report's sensitivity on its own: what would change each decision (``advisor explain``)."""

from __future__ import annotations

from pathlib import Path

from advisor.models.report import ExplainedDecision, Explanation, Report
from advisor.render import environment, render_json, tidy_markdown


class UnknownDecision(ValueError):
    """The asked-for slot is not among the report's decisions."""


def explanation(report: Report, slot: str | None = None) -> Explanation:
    """The decisions of ``report`` (only ``slot``'s when given) with what would change each.
    The report must have been made with the sensitivity analysis."""
    decisions = [decision for decision in report.decisions
                 if slot is None or decision.slot == slot]
    if slot is not None and not decisions:
        decided = ", ".join(decision.slot for decision in report.decisions) or "none"
        undecided = {item.slot for item in report.undecided}
        state = ("is relevant but no rule could decide it" if slot in undecided
                 else "is not decided for these requirements")
        raise UnknownDecision(f"--decision {slot}: the slot {state}; decided slots: {decided}")
    explained = []
    for decision in decisions:
        if decision.sensitivity is None:
            raise ValueError("the report was made without the sensitivity analysis")
        explained.append(ExplainedDecision(
            slot=decision.slot, slot_title=decision.slot_title, component=decision.component,
            label=decision.label, rule_id=decision.rule_id, rule_title=decision.rule_title,
            sensitivity=decision.sensitivity))
    return Explanation(tool=report.tool, version=report.version, engine=report.engine,
                       input_hash=report.input_hash, ruleset_hash=report.ruleset_hash,
                       title=report.title, decisions=explained)


def render_explanation(explained: Explanation, output_format: str,
                       directory: Path | None = None) -> str:
    """The explanation as Markdown (``md``) or JSON (``json``)."""
    if output_format == "json":
        return render_json(explained)
    template = environment(directory).get_template("explain.md.j2")
    return tidy_markdown(template.render(explanation=explained))
