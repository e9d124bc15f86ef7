"""The questionnaire: one question per requirements field, generated from the model.

Kinds, choices and bounds come from ``requirement_fact_specs``; help text is the field's
description. The flow (section order, defaults, when a question is skipped) is data in
``templates/questionnaire.yaml``. ``questionnaire_schema`` is the same content as plain JSON
for the browser form.

Answers are nested like a requirements file, ``{section: {field: value}}``; a ``None`` value
means the question was asked and the answer is not known.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

from advisor.catalog import clause_problems
from advisor.conditions import holds
from advisor.facts import Facts, FactSpec, build_facts, requirement_fact_specs, requirement_fields
from advisor.inputs import InputError, Problem, parse_requirements
from advisor.models.requirements import MAX_NUMBER, ComponentChoice, Requirements
from advisor.models.rule import Clause, Operator
from advisor.paths import templates_dir
from advisor.yamlio import LocatedDocument, YamlError, parse_yaml

QUESTIONNAIRE_FILE = "questionnaire.yaml"
Kind = Literal["bool", "enum", "multi", "number", "integer", "text", "components"]
Answers = dict[str, dict[str, Any]]

_KINDS: dict[str, Kind] = {"bool": "bool", "enum": "enum", "set": "multi"}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Frozen):
    """One way a question becomes relevant: every clause of ``when`` holds."""

    when: tuple[Clause, ...]
    because: str

    @field_serializer("when")
    def _clauses(self, when: tuple[Clause, ...]) -> list[dict[str, Any]]:
        # The rule-file form, {fact, <operator>: operand}, not every empty operator slot.
        return [clause.model_dump(mode="json", exclude_none=True) for clause in when]


class Question(_Frozen):
    """One requirements field as a question."""

    id: str
    section: str
    field: str
    title: str
    help: str
    kind: Kind
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    minimum_exclusive: bool = False
    maximum: float | None = None
    default: Any = None
    # Asked when any condition holds; no conditions: always asked.
    ask_when: tuple[Condition, ...] = ()


class Section(_Frozen):
    """A requirements section: its questions are asked together."""

    id: str
    title: str
    help: str


class _ConditionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ask: list[str] = Field(min_length=1)
    when: list[Clause] = Field(min_length=1)
    because: str = Field(min_length=10)


class _QuestionnaireFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sections: list[str]
    defaults: dict[str, Any] = Field(default_factory=dict)
    conditions: list[_ConditionEntry] = Field(default_factory=list)


class QuestionnaireError(Exception):
    """The questionnaire file is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@functools.lru_cache(maxsize=1)
def sections() -> tuple[Section, ...]:
    """Every section of the requirements model, in model order."""
    out = []
    for name, field in Requirements.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        out.append(Section(id=name, title=name.replace("_", " ").capitalize(),
                           help=(model.__doc__ or "").strip()))
    return tuple(out)


def _names_components(annotation: Any) -> bool:
    """Whether a field holds a list of components with a reason (``list[ComponentChoice]``)."""
    return any(get_origin(arg) is list and get_args(arg) == (ComponentChoice,)
               for arg in (annotation, *get_args(annotation)))


def _kind(spec: FactSpec | None, annotation: Any) -> Kind:
    if spec is None:  # the fact specs leave out free text and component constraints
        return "components" if _names_components(annotation) else "text"
    if spec.type == "number":
        return "integer" if spec.integer else "number"
    return _KINDS[spec.type]


def _generated() -> dict[str, Question]:
    """One question per model field, in model order, without flow data."""
    specs = requirement_fact_specs()
    out: dict[str, Question] = {}
    for section_name, field_name, field in requirement_fields():
        ident = f"{section_name}.{field_name}"
        spec = specs.get(ident)
        maximum = spec.maximum if spec is not None else None
        out[ident] = Question(
            id=ident,
            section=section_name,
            field=field_name,
            title=field_name.replace("_", " ").capitalize(),
            help=field.description or "",
            kind=_kind(spec, field.annotation),
            choices=spec.values if spec is not None else (),
            minimum=spec.minimum if spec is not None else None,
            minimum_exclusive=spec.minimum_exclusive if spec is not None else False,
            # The model's ceiling on every number is a technical limit, not a bound to show.
            maximum=None if maximum is not None and maximum >= MAX_NUMBER else maximum,
        )
    return out


def questionnaire_path() -> Path:
    """The bundled questionnaire flow file."""
    return templates_dir() / QUESTIONNAIRE_FILE


def questions(path: Path | None = None) -> list[Question]:
    """Every question, in the order asked, with defaults and skip conditions from ``path``."""
    return list(_load(str(path or questionnaire_path())))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> tuple[Question, ...]:
    try:
        # The questionnaire is ours, not a user's: its anchors reuse shared parts.
        doc = parse_yaml(Path(path).read_text(encoding="utf-8"), allow_aliases=True)
    except YamlError as error:
        raise QuestionnaireError([f"{path}:{error.line}: {error.problem}"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionnaireError([f"{path}: cannot read: {error}"]) from None
    try:
        flow = _QuestionnaireFile.model_validate(doc.data)
    except ValidationError as error:
        raise QuestionnaireError([
            f"{path}:{doc.line_of(tuple(item['loc']))}: "
            f"{'.'.join(str(part) for part in item['loc']) or '(document)'}: "
            f"{item['msg'][0].lower()}{item['msg'][1:]}"
            for item in error.errors()
        ]) from None
    generated = _generated()
    problems: list[str] = []
    order = _section_order(flow, doc, path, problems)
    ordered = [question for section in order for question in generated.values()
               if question.section == section]
    position = {question.id: index for index, question in enumerate(ordered)}
    conditions = _conditions(flow, doc, path, position, problems)
    defaults = _defaults(flow, doc, path, generated, problems)
    if problems:
        raise QuestionnaireError(sorted(problems, key=lambda text: _line(text, path)))
    return tuple(
        question.model_copy(update={"default": defaults.get(question.id),
                                    "ask_when": tuple(conditions.get(question.id, ()))})
        for question in ordered
    )


def _line(problem: str, path: str) -> int:
    """The line a '<path>:<line>: ...' problem names."""
    return int(problem[len(path) + 1:].split(":", 1)[0])


def _section_order(flow: _QuestionnaireFile, doc: LocatedDocument, path: str,
                   problems: list[str]) -> list[str]:
    known = [section.id for section in sections()]
    if sorted(flow.sections) != sorted(known) or len(set(flow.sections)) != len(known):
        missing = sorted(set(known) - set(flow.sections))
        extra = sorted(set(flow.sections) - set(known))
        repeated = sorted({name for name in flow.sections if flow.sections.count(name) > 1})
        details = "; ".join(part for part in (
            f"missing: {', '.join(missing)}" if missing else "",
            f"not a section: {', '.join(extra)}" if extra else "",
            f"repeated: {', '.join(repeated)}" if repeated else "") if part)
        problems.append(f"{path}:{doc.line_of(('sections',))}: sections: must list every "
                        f"section once ({details}; sections: {', '.join(known)})")
        return known
    return flow.sections


def _conditions(flow: _QuestionnaireFile, doc: LocatedDocument, path: str,
                position: Mapping[str, int], problems: list[str]) -> dict[str, list[Condition]]:
    specs = requirement_fact_specs()
    out: dict[str, list[Condition]] = {}
    for index, entry in enumerate(flow.conditions):
        for slot, ident in enumerate(entry.ask):
            if ident not in position:
                line = doc.line_of(("conditions", index, "ask", slot))
                problems.append(f"{path}:{line}: conditions.{index}.ask: '{ident}' is not a "
                                "question (questions are named section.field)")
        for number, clause in enumerate(entry.when):
            line = doc.line_of(("conditions", index, "when", number))
            where = f"{path}:{line}: conditions.{index}.when.{number}"
            if clause.operator is Operator.exists:
                problems.append(f"{where}: exists: not allowed in a questionnaire condition "
                                "(an unanswered question counts as holding)")
                continue
            for suffix, problem, hint in clause_problems(clause, specs):
                shown = f" ({hint})" if hint else ""
                problems.append(f"{where}.{suffix}: {problem}{shown}")
            if clause.fact not in position:
                continue
            later = [ident for ident in entry.ask
                     if ident in position and position[ident] <= position[clause.fact]]
            if later:
                problems.append(f"{where}.fact: '{clause.fact}' is not asked before "
                                f"{', '.join(later)} (a condition may only name an earlier "
                                "question; see `sections` for the order)")
        condition = Condition(when=tuple(entry.when), because=entry.because)
        for ident in entry.ask:
            out.setdefault(ident, []).append(condition)
    return out


def _defaults(flow: _QuestionnaireFile, doc: LocatedDocument, path: str,
              generated: Mapping[str, Question], problems: list[str]) -> dict[str, Any]:
    for ident, value in flow.defaults.items():
        line = doc.line_of(("defaults", ident))
        if ident not in generated:
            problems.append(f"{path}:{line}: defaults: '{ident}' is not a question "
                            "(questions are named section.field)")
            continue
        section, field = ident.split(".", 1)
        try:
            parse_requirements({section: {field: value}}, f"{path}:{line}: defaults")
        except InputError as error:
            problems.extend(error.problems)
    return dict(flow.defaults)


def is_asked(question: Question, facts: Facts) -> bool:
    """Whether ``question`` is asked given the facts of the answers so far."""
    if not question.ask_when:
        return True
    return any(
        all(clause.fact not in facts
            or holds(clause.fact, clause.operator, clause.operand, facts)
            for clause in condition.when)
        for condition in question.ask_when
    )


def answered(answers: Answers) -> set[str]:
    """The ids of every question that has an answer, ``None`` (not known) included."""
    return {f"{section}.{field}" for section, fields in answers.items() for field in fields}


def answer_facts(answers: Answers) -> dict[str, Any]:
    """The facts of valid answers, as the engine would see them."""
    return build_facts(parse_requirements(answers))


def with_answer(answers: Answers, question: Question, value: Any) -> Answers:
    """A copy of ``answers`` with ``value`` given for ``question``."""
    out = copy.deepcopy(answers)
    out.setdefault(question.section, {})[question.field] = value
    return out


def check_answer(answers: Answers, question: Question, value: Any) -> list[Problem]:
    """The model's problems with ``value`` as the answer to ``question`` (empty: valid).

    Messages are those of ``advisor recommend`` and the HTTP API for the same value; problems
    with the question's own field (or an item of it) come first and alone when there are any.
    """
    try:
        parse_requirements(with_answer(answers, question, value), "answer")
    except InputError as error:
        own = [problem for problem in error.details
               if problem.field is not None and problem.field[:2] == (question.section,
                                                                     question.field)]
        return own or error.details
    return []


def ordered_answers(answers: Answers, order: Sequence[Question]) -> Answers:
    """``answers`` with sections and fields in questionnaire order (stable output)."""
    out: Answers = {}
    for question in order:
        fields = answers.get(question.section, {})
        if question.field in fields:
            out.setdefault(question.section, {})[question.field] = fields[question.field]
    return out


def questionnaire_schema(path: Path | None = None) -> dict[str, Any]:
    """The questionnaire as JSON-serialisable data: sections in order, then every question."""
    asked = questions(path)
    by_id = {section.id: section for section in sections()}
    order = list(dict.fromkeys(question.section for question in asked))
    return {
        "sections": [by_id[name].model_dump(mode="json") for name in order],
        "questions": [question.model_dump(mode="json") for question in asked],
    }
