"""Property-based hardening of the whole pipeline: any document the requirements schema accepts
gives a complete report (Markdown and JSON) without an exception; any it rejects is refused with
a message naming a field of that document, and the CLI exits 2 without a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor.cli import main
from advisor.facts import requirement_fields
from advisor.inputs import InputError, parse_requirements
from advisor.pipeline import Advisor
from advisor.render import render
from support import bounded

_FIELDS: dict[str, list[str]] = {}
for _section, _field, _ in requirement_fields():
    _FIELDS.setdefault(_section, []).append(_field)

# Values of every JSON type, the edge cases included: the model decides what is acceptable.
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**15, max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=64), st.text(max_size=12),
    st.sampled_from(["web_app", "api", "relational", "strong", "eventual", "many", "one",
                     "yes", "1", "", "none"]),
)
_VALUES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3),
                    st.dictionaries(st.text(max_size=5), _SCALARS, max_size=2))


@st.composite
def _documents(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly real sections and fields with values of any type, sometimes unknown names."""
    document: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=5, unique=True)):
        names = st.sampled_from(_FIELDS[section])
        if draw(st.integers(0, 9)) == 0:
            names = st.one_of(names, st.text(min_size=1, max_size=8))
        document[section] = draw(st.dictionaries(names, _VALUES, max_size=4))
    if draw(st.integers(0, 9)) == 0:
        document[draw(st.text(min_size=1, max_size=8))] = draw(_VALUES)
    return document


def _names(document: dict[str, Any]) -> set[str]:
    names = set(document)
    for section, fields in document.items():
        if isinstance(fields, dict):
            names |= {f"{section}.{field}" for field in fields}
    return names


@bounded(150)
@given(document=_documents())
def test_any_document_is_either_fully_reported_or_refused_naming_its_field(
    durable: Advisor, document: dict[str, Any]
) -> None:
    try:
        requirements = parse_requirements(document)
    except InputError as error:
        assert error.problems
        for line in error.problems:
            # "<origin>: <field>: <problem>": the field is one the document holds (or the
            # document itself when it is not a mapping of sections).
            field = line.split(": ", 2)[1]
            assert field in _names(document) or field == "(document)" or any(
                field.startswith(f"{name}.") for name in _names(document)
            ), line
        return
    report = durable.recommend(requirements, sensitivity=True)
    markdown = render(report, "md")
    assert markdown.startswith("# ") and "## Decisions" in markdown
    assert markdown.count("**What would change this decision**") == len(report.decisions)
    assert json.loads(render(report, "json"))["input_hash"] == report.input_hash


@bounded(25)
@given(document=_documents())
def test_the_cli_refuses_a_rejected_document_with_exit_2_and_no_traceback(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
    document: dict[str, Any]
) -> None:
    path = Path(tmp_path_factory.mktemp("profile")) / "requirements.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    try:
        parse_requirements(document)
        accepted = True
    except InputError:
        accepted = False
    code = main(["recommend", str(path), "--engine", "python"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if accepted:
        assert code == 0 and captured.out.startswith("# ")
    else:
        assert code == 2 and captured.out == ""
        assert f"{path}:" in captured.err
