"""The Python API as a programmer meets it: `from advisor import recommend`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import advisor
from advisor import recommend
from advisor.api import advisor_for
from advisor.inputs import InputError, read_requirements
from advisor.models.report import Report
from advisor.pipeline import Advisor

EXAMPLE = Path("examples/serverless-api.yaml")


def decisions(report: Report) -> list[tuple[str, str]]:
    return [(decision.id, decision.component) for decision in report.decisions]


@pytest.fixture(scope="module")
def expected(reference: Advisor) -> Report:
    return reference.recommend(read_requirements(str(EXAMPLE)), sensitivity=True)


def test_recommend_accepts_a_model_a_dict_and_a_path(expected: Report) -> None:
    model = read_requirements(str(EXAMPLE))
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for given in (model, data, EXAMPLE, str(EXAMPLE)):
        report = recommend(given, engine="python")
        assert isinstance(report, Report)
        assert report == expected
    without = recommend(EXAMPLE, engine="python", sensitivity=False)
    assert all(decision.sensitivity is None for decision in without.decisions)
    assert decisions(without) == decisions(expected)


def test_default_engine_is_durable_and_agrees_with_the_reference(expected: Report) -> None:
    report = recommend(EXAMPLE)
    assert report.engine == "durable"
    assert decisions(report) == decisions(expected)


def test_one_advisor_per_engine_is_reused() -> None:
    assert advisor_for("python") is advisor_for("python")
    assert advisor_for("python") is not advisor_for("durable")


def test_bad_dict_raises_input_error_naming_the_field() -> None:
    with pytest.raises(InputError) as error:
        recommend({"data": {"model": "tabular"}, "traffic": {"peak_rps": "10"}}, engine="python")
    problems = error.value.problems
    assert any(problem.startswith("<requirements>: data.model: ") and "relational" in problem
               for problem in problems)
    assert any(problem.startswith("<requirements>: traffic.peak_rps: ") for problem in problems)


def test_unknown_section_is_rejected_with_what_is_allowed() -> None:
    with pytest.raises(InputError, match=r"trafic: unknown key \(allowed sections: workload, "):
        recommend({"trafic": {"peak_rps": 10}}, engine="python")


def test_bad_file_raises_input_error_naming_file_line_and_field(tmp_path: Path) -> None:
    source = tmp_path / "requirements.yaml"
    source.write_text("workload:\n  kind: web_app\ntraffic:\n  peak_rps: -5\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{source}:4: traffic.peak_rps: "):
        recommend(source, engine="python")
    with pytest.raises(InputError, match="no such file"):
        recommend(tmp_path / "missing.yaml", engine="python")


def test_not_a_mapping_is_rejected() -> None:
    with pytest.raises(InputError, match="expected a mapping of sections, got list"):
        recommend([1, 2], engine="python")  # type: ignore[arg-type]


def test_unknown_engine_is_refused_with_the_allowed_names() -> None:
    with pytest.raises(ValueError, match=r"unknown engine 'drools' \(allowed: durable, python\)"):
        recommend(EXAMPLE, engine="drools")


def test_import_advisor_stays_light_and_resolves_recommend_on_use() -> None:
    code = ("import sys, advisor; assert 'advisor.pipeline' not in sys.modules; "
            "from advisor import recommend; assert 'advisor.pipeline' in sys.modules; "
            "print(recommend.__module__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "advisor.api\n"
    assert "recommend" in advisor.__all__
    with pytest.raises(AttributeError, match="has no attribute 'recomend'"):
        advisor.recomend  # noqa: B018
