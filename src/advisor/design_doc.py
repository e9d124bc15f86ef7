"""Report -> design-document draft and one MADR file per decision (jinja2 templates).

Pure functions over a ``Report``: the same report and templates always give the same text.
The templates live in ``templates/design-doc/``; a copy of that directory can replace them.
"""

from __future__ import annotations

import functools
import json
import re
import traceback
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel, ConfigDict

from advisor.catalog import DECISION_PREFIX
from advisor.facts import requirement_fields
from advisor.models.report import (
    CapacityOut,
    ConflictOut,
    Decision,
    Reference,
    Report,
    ReviewFinding,
    WarningOut,
)
from advisor.paths import templates_dir
from advisor.render import environment, tidy_markdown

DOCUMENT_TEMPLATE = "design.md.j2"
ADR_TEMPLATE = "adr.md.j2"


class DesignDocError(Exception):
    """The templates are missing or broken; the message names the file, line and problem."""


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RequirementRow(_View):
    """One given requirement value and what the field means."""

    fact: str
    value: Any
    description: str


class DecisionRecord(_View):
    """One decision as an architecture decision record, with what bears on it elsewhere."""

    number: int
    id: str
    file_name: str
    decision: Decision
    rule_ids: list[str]
    warnings: list[WarningOut]
    findings: list[ReviewFinding]
    capacity: list[CapacityOut]
    conflicts: list[ConflictOut]
    references: list[Reference]


def default_templates() -> Path:
    """The bundled design-document templates."""
    return templates_dir() / "design-doc"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _yaml_scalar(value: Any) -> str:
    """A value as a YAML flow scalar or sequence (JSON is valid YAML), safe in front matter."""
    text = json.dumps(value, ensure_ascii=False)
    # Characters YAML treats as line breaks inside a quoted scalar, though JSON does not.
    for character in ("\u0085", "\u2028", "\u2029"):
        text = text.replace(character, f"\\u{ord(character):04x}")
    return text


def decision_records(report: Report) -> list[DecisionRecord]:
    """One record per decision, numbered in report order, with the warnings, review findings,
    capacity figures and conflicts that test it and every reference any of them cites."""
    records = []
    by_number = {reference.number: reference for reference in report.references}
    for number, decision in enumerate(report.decisions, start=1):
        fact = f"{DECISION_PREFIX}{decision.slot}"
        contenders = [contender.rule_id for contender in decision.contenders]
        involved = {decision.rule_id, *contenders}
        warnings = [item for item in report.warnings
                    if any(evidence.fact == fact for evidence in item.evidence)]
        findings = [finding for pillar in report.review for finding in pillar.findings
                    if any(evidence.fact == fact for evidence in finding.evidence)]
        capacity = [item for item in report.capacity
                    if any(evidence.fact == fact for evidence in item.evidence)]
        conflicts = [item for item in report.conflicts
                     if involved & {reference.rule_id for reference in item.involves}]
        citations = [*decision.citations,
                     *(item for owner in warnings for item in owner.citations),
                     *(item for owner in findings for item in owner.citations),
                     *(item for owner in capacity for item in owner.citations),
                     *(item for owner in conflicts for item in owner.citations)]
        cited = {citation.number for citation in citations}
        records.append(DecisionRecord(
            number=number,
            id=f"ADR-{number:04d}",
            file_name=f"{number:04d}-{_slug(decision.slot)}-{_slug(decision.component)}.md",
            decision=decision,
            rule_ids=_unique([decision.rule_id,
                              *(item.rule_id for item in decision.alternatives), *contenders]),
            warnings=warnings,
            findings=findings,
            capacity=capacity,
            conflicts=conflicts,
            references=[by_number[item] for item in sorted(cited) if item in by_number],
        ))
    return records


@functools.lru_cache(maxsize=1)
def _field_descriptions() -> dict[str, str]:
    """Every requirement field's description, from the requirements model itself."""
    return {f"{section}.{name}": field.description or ""
            for section, name, field in requirement_fields()}


def requirement_rows(report: Report) -> list[RequirementRow]:
    """The given requirements, one row per field, in the order the report holds them."""
    descriptions = _field_descriptions()
    return [
        RequirementRow(fact=f"{section}.{name}", value=value,
                       description=descriptions.get(f"{section}.{name}", ""))
        for section, fields in report.requirements.items()
        for name, value in fields.items()
    ]


@functools.lru_cache(maxsize=8)
def _environment(directory: str) -> jinja2.Environment:
    # An overlay with its own filter table: the report environment stays as render.py made it.
    # The report's partials stay reachable, so a document can reuse the report's macros.
    env = environment(Path(directory)).overlay(loader=jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(directory), jinja2.FileSystemLoader(str(templates_dir()))]))
    env.filters = {**env.filters, "yaml": _yaml_scalar}
    return env


def _template_location(error: BaseException) -> str:
    """'file:line' of the innermost template frame of a rendering error, if any."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.endswith(".j2"):
            return f"{frame.filename}:{frame.lineno}"
    return ""


def _render(directory: Path | None, name: str, context: dict[str, Any]) -> str:
    folder = (directory or default_templates()).resolve()
    if not folder.is_dir():
        raise DesignDocError(f"{folder}: templates directory does not exist")
    if not (folder / name).is_file():
        raise DesignDocError(
            f"{folder}: no template {name} (a templates directory holds {DOCUMENT_TEMPLATE} "
            f"and {ADR_TEMPLATE}; copy {default_templates()} to start one)")
    try:
        text = _environment(str(folder)).get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as error:
        where = f"{error.filename or folder / name}:{error.lineno}"
        raise DesignDocError(f"{where}: template syntax error: {error.message}") from None
    except jinja2.TemplateNotFound as error:
        raise DesignDocError(f"{folder / name}: includes a missing template: {error.name}") \
            from None
    except (jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError) as error:
        where = _template_location(error) or str(folder / name)
        raise DesignDocError(f"{where}: template error: {error}") from None
    return tidy_markdown(text)


def design_doc(report: Report, templates: Path | None = None) -> str:
    """The design-document draft for a report, as Markdown with YAML front matter."""
    return _render(templates, DOCUMENT_TEMPLATE, {
        "report": report,
        "records": decision_records(report),
        "requirements": requirement_rows(report),
    })


def adr_files(report: Report, templates: Path | None = None) -> dict[str, str]:
    """One MADR file per decision: file name -> text, in decision order."""
    return {
        record.file_name: _render(templates, ADR_TEMPLATE, {"report": report, "record": record})
        for record in decision_records(report)
    }
