"""Where a partly filled questionnaire stands: which questions are asked, what is refused.

The browser form asks the server rather than repeating the skip logic or the validation: this
walks the questions in order exactly as ``advisor ask`` does, so a hidden question, a refused
answer and its message are the same in both.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from advisor.inputs import InputError, Problem
from advisor.questions import (
    Answers,
    Question,
    answer_facts,
    check_answer,
    is_asked,
    ordered_answers,
    questions,
    with_answer,
)


class QuestionnaireState(BaseModel):
    """The questions asked given the answers so far, the problems per answer, and the
    requirements document the valid answers to asked questions make."""

    model_config = ConfigDict(frozen=True)

    asked: list[str]
    errors: dict[str, list[str]]
    requirements: dict[str, dict[str, Any]]


def _check_shape(answers: Any, origin: str, order: list[Question]) -> Answers:
    """``answers`` as ``{section: {field: value}}`` naming questions only; else InputError."""
    if not isinstance(answers, dict):
        raise InputError([Problem(origin, (), "expected a mapping of sections to answers, "
                                  f"got {type(answers).__name__}")])
    fields: dict[str, list[str]] = {}
    for question in order:
        fields.setdefault(question.section, []).append(question.field)
    problems = []
    for section, given in answers.items():
        if given is None:  # as in a requirements file: a section with nothing known
            continue
        if section not in fields:
            problems.append(Problem(origin, (section,),
                                    f"not a section (sections: {', '.join(fields)})"))
        elif not isinstance(given, dict):
            problems.append(Problem(origin, (section,), "expected a mapping of fields to "
                                    f"answers, got {type(given).__name__}"))
        else:
            problems.extend(
                Problem(origin, (section, field), f"not a question (questions of {section}: "
                        f"{', '.join(fields[section])})")
                for field in given if field not in fields[section])
    if problems:
        raise InputError(problems)
    return answers


def _message(question: Question, problem: Problem) -> str:
    # Beside its own field the message needs no field name; any other problem keeps its own.
    if problem.field == (question.section, question.field):
        return problem.message
    return problem.text


def questionnaire_state(answers: Any, origin: str = "<answers>") -> QuestionnaireState:
    """The state of the questionnaire for ``answers`` (nested like a requirements file).

    Questions are taken in order; an answer counts only when its question is asked and the
    model accepts it, and only counted answers decide later questions. An answer to a question
    that is not asked now is left out of ``requirements``. Raises ``InputError`` when
    ``answers`` is not shaped like a requirements document or names a question that does not
    exist.
    """
    order = questions()
    given = _check_shape(answers, origin, order)
    accepted: Answers = {}
    facts = answer_facts(accepted)
    asked: list[str] = []
    errors: dict[str, list[str]] = {}
    for question in order:
        if not is_asked(question, facts):
            continue
        asked.append(question.id)
        section = given.get(question.section) or {}
        if question.field not in section:
            continue
        value = section[question.field]
        problems = [] if value is None else check_answer(accepted, question, value)
        if problems:
            errors[question.id] = [_message(question, problem) for problem in problems]
            continue
        accepted = with_answer(accepted, question, value)
        if value is not None:
            facts = answer_facts(accepted)
    return QuestionnaireState(asked=asked, errors=errors,
                              requirements=ordered_answers(accepted, order))
