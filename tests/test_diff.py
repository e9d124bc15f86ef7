"""``advisor diff``: two requirement files, and the same profiles under two rule versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from advisor.catalog import load_catalog
from advisor.cli import main
from advisor.inputs import read_requirements
from advisor.models.report import Report
from advisor.paths import rules_dir
from advisor.pipeline import Advisor
from support import example_files

EXAMPLE = Path("examples/serverless-api.yaml")
RULE = Path("api/API-010-long-requests-alb.yaml")  # front door: ALB above a request length


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture()
def key_value_and_relational(tmp_path: Path) -> tuple[str, str]:
    """The serverless API example, and the same with only ``data.model`` changed."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "model: key_value" in text
    return (_write(tmp_path, "a.yaml", text),
            _write(tmp_path, "b.yaml", text.replace("model: key_value", "model: relational")))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["diff", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _decisions(report: Report) -> dict[str, str]:
    return {decision.slot: decision.component for decision in report.decisions}


def test_identical_inputs_exit_0_and_say_so(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    other = _write(tmp_path, "copy.yaml", EXAMPLE.read_text(encoding="utf-8"))
    code, out, err = _run(capsys, str(EXAMPLE), other)
    assert code == 0, err
    assert "No differences" in out
    assert "## Decisions that differ" not in out


def test_one_changed_field_names_the_decision_its_rules_and_the_field(
        capsys: pytest.CaptureFixture[str], key_value_and_relational: tuple[str, str]) -> None:
    first, second = key_value_and_relational
    code, out, err = _run(capsys, first, second, "--engine", "python")
    assert code == 1, err
    assert "| `data.model` | key_value | relational |" in out
    assert ("### Primary data store (`primary_datastore`): Amazon DynamoDB -> "
            "Amazon Aurora (MySQL/PostgreSQL-compatible)") in out
    section = out.split("### Primary data store", 1)[1].split("\n### ", 1)[0]
    assert "chosen by `DATA-002`" in section and "chosen by `DATA-009`" in section
    assert "Changed requirements these rules tested: `data.model`." in section
    assert "```mermaid" in out
    assert 'primary_datastore["Amazon DynamoDB → Amazon Aurora' in out
    assert ":::changed" in out and ":::added" in out


def test_graph_changes_are_exactly_what_the_two_reports_differ_by(
        capsys: pytest.CaptureFixture[str], key_value_and_relational: tuple[str, str],
        reference: Advisor) -> None:
    first, second = key_value_and_relational
    code, out, err = _run(capsys, first, second, "--engine", "python", "--format", "json")
    assert code == 1, err
    diff = json.loads(out)
    before, after = (reference.recommend(read_requirements(path)) for path in (first, second))

    def nodes(report: Report) -> set[tuple[str, str]]:
        return {(node.id, node.component) for node in report.graph.nodes}

    def edges(report: Report) -> set[tuple[str, str, str]]:
        return {(edge.source, edge.target, edge.label) for edge in report.graph.edges}

    assert {(n["id"], n["component"]) for n in diff["nodes_added"]} == nodes(after) - nodes(before)
    assert {(n["id"], n["component"]) for n in diff["nodes_removed"]} == (
        nodes(before) - nodes(after))
    assert {(e["source"], e["target"], e["label"]) for e in diff["edges_added"]} == (
        edges(after) - edges(before))
    assert {(e["source"], e["target"], e["label"]) for e in diff["edges_removed"]} == (
        edges(before) - edges(after))
    assert ("primary_datastore", "aurora") in nodes(after) - nodes(before)
    assert ("primary_datastore", "dynamodb") in nodes(before) - nodes(after)

    old, new = _decisions(before), _decisions(after)
    changed = {slot for slot in old.keys() | new.keys() if old.get(slot) != new.get(slot)}
    assert {change["slot"] for change in diff["decisions"]} == changed
    datastore = next(c for c in diff["decisions"] if c["slot"] == "primary_datastore")
    assert datastore["change"] == "changed"
    assert (datastore["before"]["rule_id"], datastore["after"]["rule_id"]) == (
        "DATA-002", "DATA-009")
    assert datastore["fields"] == ["data.model"]
    assert diff["requirements"] == [
        {"field": "data.model", "before": "key_value", "after": "relational"}]
    assert diff["differs"] is True


def test_output_file_is_byte_identical_between_runs(
        capsys: pytest.CaptureFixture[str], key_value_and_relational: tuple[str, str],
        tmp_path: Path) -> None:
    first, second = key_value_and_relational
    texts = []
    for name in ("one.md", "two.md"):
        out = tmp_path / name
        code, stdout, err = _run(capsys, first, second, "--engine", "python", "-o", str(out))
        assert code == 1, err
        assert stdout == ""
        texts.append(out.read_bytes())
    assert texts[0] == texts[1]
    assert texts[0].startswith(b"# Differences: ")


def test_bad_input_exits_2_naming_the_file_and_field(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", "data:\n  needs_joins: maybe\n")
    out = tmp_path / "diff.md"
    code, stdout, err = _run(capsys, str(EXAMPLE), bad, "-o", str(out))
    assert code == 2
    assert stdout == ""
    assert bad in err and "data.needs_joins" in err and "true or false" in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    ([str(EXAMPLE)], "expected two requirement files"),
    ([str(EXAMPLE), str(EXAMPLE), str(EXAMPLE)], "expected two requirement files"),
    (["--rules", "rules", "--rules", "rules", "--rules", "rules"], "--rules given 3 times"),
    ([str(EXAMPLE), "missing.yaml"], "missing.yaml"),
])
def test_wrong_arguments_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                message: str) -> None:
    code, _, err = _run(capsys, *args)
    assert code == 2
    assert message in err


def _edited_rules(tmp_path: Path) -> Path:
    """A copy of the bundled rules with one threshold lowered: API-010 sends requests longer
    than 3 seconds (instead of 29) to an ALB."""
    copy = tmp_path / "rules"
    shutil.copytree(rules_dir(), copy)
    path = copy / RULE
    text = path.read_text(encoding="utf-8")
    clause = "{fact: api.longest_request_seconds, gt: 29}"
    assert clause in text
    path.write_text(text.replace(clause, "{fact: api.longest_request_seconds, gt: 3}"),
                    encoding="utf-8")
    return copy


def test_rule_version_diff_names_exactly_the_profiles_the_edit_changes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, reference: Advisor) -> None:
    copy = _edited_rules(tmp_path)
    edited = Advisor(engine="python", catalog=load_catalog(copy))
    expected = set()
    for path in example_files():
        requirements = read_requirements(str(path))
        if _decisions(reference.recommend(requirements)) != _decisions(
                edited.recommend(requirements)):
            expected.add(f"examples/{path.name}")
    assert 0 < len(expected) < len(example_files())  # the edit matters, but not everywhere

    code, out, err = _run(capsys, "--rules", str(rules_dir()), "--rules", str(copy),
                          "--format", "json")
    assert code == 1, err
    diff = json.loads(out)
    assert diff["kind"] == "rules"
    assert set(diff["changed"]) == expected
    assert [profile["file"] for profile in diff["profiles"]] == [
        f"examples/{path.name}" for path in example_files()]
    for profile in diff["profiles"]:
        if profile["file"] in expected:
            front = [c for c in profile["diff"]["decisions"] if c["slot"] == "front_door"]
            assert front and front[0]["after"]["rule_id"] == "API-010"

    unchanged = next(f"examples/{path.name}" for path in example_files()
                     if f"examples/{path.name}" not in expected)
    code, markdown, err = _run(capsys, "--rules", str(rules_dir()), "--rules", str(copy),
                               *sorted(expected), unchanged, "--engine", "python")
    assert code == 1, err
    assert f"for {len(expected)} of {len(expected) + 1} profiles" in markdown
    for file in expected:
        assert f"## {file} (" in markdown
    assert f"## {unchanged} (" not in markdown
    assert f"## Unchanged profiles\n\n- {unchanged} (" in markdown


def test_unchanged_rules_copy_exits_0(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(rules_dir(), copy)
    code, out, err = _run(capsys, "--rules", str(rules_dir()), "--rules", str(copy),
                          "--engine", "python")
    assert code == 0, err
    assert "No differences" in out
    assert f"every one of the {len(example_files())} profiles" in out


def test_broken_rules_directory_exits_2_with_its_problems(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(rules_dir(), copy)
    path = copy / RULE
    path.write_text(path.read_text(encoding="utf-8").replace("strength: strong",
                                                             "strength: mighty"),
                    encoding="utf-8")
    code, out, err = _run(capsys, "--rules", str(rules_dir()), "--rules", str(copy),
                          "--engine", "python", str(EXAMPLE))
    assert code == 2
    assert out == ""
    assert f"--rules {copy}:" in err
    assert "API-010" in err and "strength" in err and "problem(s) in the rules" in err
