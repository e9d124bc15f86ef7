"""Design-document drafts and MADR files as an author meets them: `advisor doc`, its sections,
its decision records, its open questions, its templates and its errors."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from advisor.cli_common import Failure
from advisor.cli_doc import register
from advisor.design_doc import DesignDocError, adr_files, default_templates, design_doc
from advisor.inputs import parse_requirements, read_requirements
from advisor.models.report import Report
from advisor.pipeline import Advisor
from support import example_files

EXAMPLE = "examples/three-tier-web-app.yaml"

SECTIONS = [
    "## 1. Context and goals", "### Context", "### Goals", "### Non-goals", "### Stakeholders",
    "## 2. Requirements", "## 3. Architecture", "## 4. Component inventory", "## 5. Decisions",
    "## 6. Capacity plan", "## 7. Disaster recovery plan", "## 8. Security", "## 9. Operations",
    "## 10. Well-Architected review", "## 11. Risks", "## 12. Conflicts", "## 13. Open questions",
    "## References",
]

# A profile that decides a DR strategy, security and operations components, capacity figures
# and a conflict, none of which the bundled three-tier example has all of.
FULL_PROFILE: dict[str, Any] = {
    "workload": {"kind": "web_app", "name": "Orders", "pillar_priorities": ["reliability"]},
    "traffic": {"peak_rps": 2000, "average_rps": 400, "pattern": "spiky",
                "planned_event": True},
    "data": {"model": "relational", "needs_joins": True, "needs_transactions": True,
             "consistency": "strong", "reads_per_second": 1500, "writes_per_second": 200},
    "availability": {"multi_az": True, "multi_region": False},
    "recovery": {"rto_minutes": 60, "rpo_minutes": 5, "budget_allows": "pilot_light"},
    "messaging": {"async_processing": True, "consumers": "many", "max_message_size_kb": 64,
                  "retention_days": 4},
    "caching": {"hot_reads": True, "stale_reads_ok": True, "item_count": 500000,
                "item_size_kb": 2},
    "api": {"rate_limiting": True, "request_validation": True, "auth": "cognito"},
    "operations": {"prefer_serverless": True, "audit_trail": True},
    "security": {"compliance": ["pci_dss"], "sensitive_data": True,
                 "key_control": "customer_managed"},
    "deployment": {"gradual_rollout": True, "instant_rollback": True},
}


@pytest.fixture(scope="module")
def report(durable: Advisor) -> Report:
    return durable.recommend(read_requirements(EXAMPLE), sensitivity=True)


@pytest.fixture(scope="module")
def full_report(durable: Advisor) -> Report:
    return durable.recommend(parse_requirements(FULL_PROFILE))


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML front matter (parsed) and the Markdown body of a document."""
    assert text.startswith("---\n"), text[:80]
    header, body = text[4:].split("\n---\n", 1)
    data = yaml.safe_load(header)
    assert isinstance(data, dict)
    return data, body


def section(text: str, heading: str) -> str:
    """The text under a `## ` heading, up to the next one."""
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end == -1 else text[start:end]


def records(text: str) -> dict[str, str]:
    """The decision records of a design document, by their `ADR-NNNN` id."""
    decisions = section(text, "## 5. Decisions")
    parts = re.split(r"(?m)^### (ADR-\d{4}): ", decisions)[1:]
    return {parts[index]: parts[index + 1] for index in range(0, len(parts), 2)}


def run_doc(*arguments: str) -> int:
    parser = argparse.ArgumentParser(prog="advisor")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["doc", *arguments])
    code: int = args.handler(args)
    return code


@pytest.mark.parametrize("example", example_files(), ids=lambda path: path.stem)
def test_every_bundled_example_gets_every_section(durable: Advisor, example: Path) -> None:
    report = durable.recommend(read_requirements(str(example)))
    text = design_doc(report)
    meta, body = front_matter(text)
    assert meta["status"] == "draft"
    assert meta["title"] == f"{report.title}: design document"
    assert meta["input_hash"] == f"sha256:{report.input_hash}"
    assert meta["ruleset_hash"] == f"sha256:{report.ruleset_hash}"
    assert "date" not in meta
    positions = [body.index(heading + "\n") for heading in SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    assert f"```mermaid\n{report.graph.mermaid}\n```" in body
    assert len(records(text)) == len(report.decisions)


def test_placeholders_mark_what_only_people_can_write(report: Report) -> None:
    text = design_doc(report)
    assert "**TODO (author):**" in section(text, "## 1. Context and goals").split(
        "### Stakeholders")[0].split("### Non-goals")[1]
    assert "**TODO (author)**" in section(text, "## 1. Context and goals").split(
        "### Stakeholders")[1]


def test_requirements_table_and_goals_come_from_the_requirements(report: Report) -> None:
    text = design_doc(report)
    table = section(text, "## 2. Requirements")
    for name, fields in report.requirements.items():
        for field in fields:
            assert f"| `{name}.{field}` |" in table
    assert "| `traffic.peak_rps` | 2000 | Peak requests per second. |" in table
    goals = section(text, "## 1. Context and goals").split("### Goals")[1]
    assert "Serve a peak of **2,000** requests per second" in goals
    assert "loss of an Availability Zone" in goals


def test_component_inventory_lists_every_node_and_practice(full_report: Report) -> None:
    inventory = section(design_doc(full_report), "## 4. Component inventory")
    for node in full_report.graph.nodes:
        assert f"`{node.id}`" in inventory and node.label in inventory
    drawn = {node.id for node in full_report.graph.nodes}
    practices = [decision for decision in full_report.decisions if decision.slot not in drawn]
    assert practices, "the profile should decide at least one practice that is not drawn"
    for decision in practices:
        assert f"(`{decision.id}`)" in inventory.split("Practices and settings")[1]


def test_each_decision_has_a_madr_record_with_its_rule_and_alternatives(
        full_report: Report) -> None:
    found = records(design_doc(full_report))
    assert list(found) == [f"ADR-{n:04d}" for n in range(1, len(full_report.decisions) + 1)]
    for record, decision in zip(found.values(), full_report.decisions, strict=True):
        assert record.startswith(f"{decision.slot_title}: {decision.label}\n")
        assert f"`{decision.id}`" in record
        for heading in ("Context and problem statement", "Considered options",
                        "Decision outcome", "Consequences", "Sources"):
            assert f"\n#### {heading}\n" in record
        options = record.split("#### Considered options")[1].split("#### Decision outcome")[0]
        assert f"1. **{decision.label}** ({decision.service}): chosen" in options
        for alternative in decision.alternatives:
            assert (f"1. **{alternative.label}**: rejected. {alternative.because} "
                    f"(`{alternative.rule_id}`)") in options
        for contender in decision.contenders:
            if not contender.agrees:
                assert f"proposed by `{contender.rule_id}`" in options
        for setting in decision.settings:
            assert f"- **Configure:** {setting}" in record
        for citation in decision.citations:
            assert f"[{citation.number}]" in record.split("#### Sources")[1]
    assert any(decision.alternatives for decision in full_report.decisions)


def test_warnings_appear_as_consequences_of_the_decision_they_test(
        full_report: Report) -> None:
    found = records(design_doc(full_report))
    linked = 0
    for record, decision in zip(found.values(), full_report.decisions, strict=True):
        for warning in full_report.warnings:
            if any(item.fact == f"decision.{decision.slot}" for item in warning.evidence):
                assert f"- **Bad:** {warning.title}." in record
                linked += 1
    assert linked, "the profile should have a warning that tests a decision"


def test_adr_files_parse_as_front_matter_and_markdown(full_report: Report) -> None:
    files = adr_files(full_report)
    assert len(files) == len(full_report.decisions)
    by_number = {reference.number: reference for reference in full_report.references}
    for number, ((name, text), decision) in enumerate(
            zip(files.items(), full_report.decisions, strict=True), start=1):
        assert re.fullmatch(rf"{number:04d}-[a-z0-9]+(-[a-z0-9]+)*\.md", name)
        meta, body = front_matter(text)
        assert meta["id"] == f"ADR-{number:04d}"
        assert meta["status"] == "proposed"
        assert meta["decision"] == decision.id
        assert meta["rule_ids"][0] == decision.rule_id
        assert {alternative.rule_id for alternative in decision.alternatives} <= set(
            meta["rule_ids"])
        assert {contender.rule_id for contender in decision.contenders} <= set(meta["rule_ids"])
        sources = {source["number"]: source for source in meta["sources"]}
        for citation in decision.citations:
            reference = by_number[citation.number]
            assert sources[citation.number] == {
                "number": reference.number, "id": reference.source,
                "title": reference.title, "location": reference.location}
        assert body.lstrip().startswith(f"# ADR-{number:04d}: {decision.slot_title}: ")
        for number_cited in sources:
            assert f"- [{number_cited}] {by_number[number_cited].title}" in body
    assert len(set(files)) == len(files)


def test_open_questions_list_every_assumption_and_undecided_slot(durable: Advisor) -> None:
    # An example with a slot left undecided (the storage class needs the access frequency).
    report = durable.recommend(read_requirements("examples/image-storage.yaml"))
    assert report.assumptions and report.undecided
    questions = section(design_doc(report), "## 13. Open questions")
    for assumption in report.assumptions:
        assert f"- [ ] `{assumption.fact}`: {assumption.description}" in questions
    for item in report.undecided:
        assert f"- [ ] **{item.slot_title}** (`{item.slot}`)" in questions
        for name in item.missing:
            assert f"`{name}`" in questions


def test_dr_plan_matches_the_recovery_objectives(full_report: Report) -> None:
    plan = section(design_doc(full_report), "## 7. Disaster recovery plan")
    assert "| Recovery time objective (RTO) | 60 minutes |" in plan
    assert "| Recovery point objective (RPO) | 5 minutes |" in plan
    strategy = next(d for d in full_report.decisions if d.slot == "dr_strategy")
    assert f"### {strategy.slot_title}: {strategy.label}" in plan
    assert f"`{strategy.id}`" in plan
    for item in strategy.evidence:
        shown = str(item.value).lower() if isinstance(item.value, bool) else item.value
        row = next(line for line in plan.splitlines() if line.startswith(f"| `{item.fact}`"))
        assert row.endswith(f"| {shown} | {item.test} |"), row


def test_dr_plan_without_objectives_says_what_is_missing(report: Report) -> None:
    plan = section(design_doc(report), "## 7. Disaster recovery plan")
    assert "| Recovery time objective (RTO) | not given |" in plan
    missing = plan.split("Not given, and needed to plan recovery: ", 1)[1].split("\n", 1)[0]
    assert "`recovery.rto_minutes`" in missing and "`recovery.rpo_minutes`" in missing


def test_dr_plan_without_any_recovery_decision_says_so(durable: Advisor) -> None:
    # A single-zone API with no objectives: nothing in the design recovers from anything yet.
    report = durable.recommend(parse_requirements(
        {"workload": {"kind": "api"}, "availability": {"multi_az": False}}))
    plan = section(design_doc(report), "## 7. Disaster recovery plan")
    assert "No disaster-recovery decision was made from the requirements given." in plan
    assert "The recovery objectives are incomplete: see *Open questions*." in plan


def test_security_and_operations_sections_carry_their_decisions_and_warnings(
        full_report: Report) -> None:
    text = design_doc(full_report)
    security = section(text, "## 8. Security")
    operations = section(text, "## 9. Operations")
    areas = {"SEC": security, "NET": security, "OBS": operations, "DEP": operations,
             "SCALE": operations}
    checked = set()
    for decision in full_report.decisions:
        area = decision.rule_id.split("-")[0]
        if area in areas:
            assert f"(`{decision.id}`)" in areas[area]
            checked.add(area)
    for warning in full_report.warnings:
        area = warning.rule_id.split("-")[0]
        if area in areas:
            assert f"(`{warning.rule_id}`" in areas[area]
    assert {"SEC", "OBS", "DEP"} <= checked


def test_risks_and_conflicts_are_listed(full_report: Report) -> None:
    text = design_doc(full_report)
    risks = section(text, "## 11. Risks")
    for warning in full_report.warnings:
        assert f"`{warning.rule_id}` ({warning.strength})" in risks
    conflicts = section(text, "## 12. Conflicts")
    assert full_report.conflicts
    for conflict in full_report.conflicts:
        assert f"### {conflict.title}" in conflicts and f"`{conflict.rule_id}`" in conflicts
    review = section(text, "## 10. Well-Architected review")
    for pillar in full_report.review:
        assert f"### {pillar.title}" in review


def test_same_report_gives_byte_identical_documents(report: Report) -> None:
    assert design_doc(report) == design_doc(report)
    assert adr_files(report) == adr_files(report)


def test_doc_command_writes_document_and_adrs_identically_twice(tmp_path: Path) -> None:
    outputs = []
    for run in ("first", "second"):
        out = tmp_path / run / "design.md"
        adrs = tmp_path / run / "adr" / "nested"  # created, parents included
        out.parent.mkdir()
        assert run_doc(EXAMPLE, "-o", str(out), "--adr-dir", str(adrs)) == 0
        files = {path.name: path.read_bytes() for path in sorted(adrs.iterdir())}
        outputs.append((out.read_bytes(), files))
    assert outputs[0] == outputs[1]
    text, files = outputs[0]
    assert text.startswith(b"---\ntitle: \"Three-tier web application on EC2: design document\"")
    assert len(files) == text.decode().count("\n### ADR-")


def test_doc_command_prints_to_stdout_without_output(
        capsys: pytest.CaptureFixture[str], report: Report) -> None:
    assert run_doc(EXAMPLE) == 0
    assert capsys.readouterr().out == design_doc(report)


def test_missing_templates_directory_is_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "design.md"
    with pytest.raises(Failure) as failure:
        run_doc(EXAMPLE, "-o", str(out), "--templates", str(tmp_path / "nowhere"))
    assert failure.value.code == 2
    assert str(failure.value) == f"{tmp_path / 'nowhere'}: templates directory does not exist"
    assert not out.exists()


def test_templates_directory_without_the_adr_template_is_a_clear_error(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(default_templates(), templates)
    (templates / "adr.md.j2").unlink()
    out, adrs = tmp_path / "design.md", tmp_path / "adr"
    with pytest.raises(Failure) as failure:
        run_doc(EXAMPLE, "-o", str(out), "--adr-dir", str(adrs), "--templates", str(templates))
    assert failure.value.code == 2
    assert f"{templates}: no template adr.md.j2" in str(failure.value)
    assert not out.exists() and not adrs.exists()


@pytest.mark.parametrize(("edit", "message"), [
    ("{% if %}\n", r"design\.md\.j2:\d+: template syntax error: "),
    ("{{ report.no_such_field }}\n", r"design\.md\.j2:\d+: template error: .*no_such_field"),
], ids=["syntax", "undefined"])
def test_broken_custom_template_fails_cleanly_and_writes_nothing(
        tmp_path: Path, edit: str, message: str) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(default_templates(), templates)
    with (templates / "design.md.j2").open("a", encoding="utf-8") as stream:
        stream.write(edit)
    out, adrs = tmp_path / "design.md", tmp_path / "adr"
    with pytest.raises(Failure) as failure:
        run_doc(EXAMPLE, "-o", str(out), "--adr-dir", str(adrs), "--templates", str(templates))
    assert failure.value.code == 2
    assert re.search(message, str(failure.value)), str(failure.value)
    assert not out.exists() and not adrs.exists()
    assert list(tmp_path.iterdir()) == [templates]


def test_custom_templates_are_used(tmp_path: Path, report: Report) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(default_templates(), templates)
    design = templates / "design.md.j2"
    design.write_text(design.read_text(encoding="utf-8").replace(
        "### Stakeholders", "### Stakeholders\n\nOwned by the platform team."), encoding="utf-8")
    (templates / "adr.md.j2").write_text(
        "---\nid: {{ record.id }}\n---\n\nDecided by {{ record.decision.rule_id }}.\n",
        encoding="utf-8")
    out, adrs = tmp_path / "design.md", tmp_path / "adr"
    assert run_doc(EXAMPLE, "-o", str(out), "--adr-dir", str(adrs),
                   "--templates", str(templates)) == 0
    assert "### Stakeholders\n\nOwned by the platform team.\n" in out.read_text()
    first = report.decisions[0]
    assert (adrs / sorted(path.name for path in adrs.iterdir())[0]).read_text() == (
        f"---\nid: ADR-0001\n---\n\nDecided by {first.rule_id}.\n")


def test_invalid_requirements_name_the_field_and_write_nothing(tmp_path: Path) -> None:
    source = tmp_path / "requirements.yaml"
    source.write_text("data:\n  model: tabular\n", encoding="utf-8")
    out = tmp_path / "design.md"
    with pytest.raises(Failure) as failure:
        run_doc(str(source), "-o", str(out))
    assert failure.value.code == 2
    assert f"{source}:2: data.model: " in str(failure.value)
    assert "relational" in str(failure.value)
    assert not out.exists()


def test_adr_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    taken = tmp_path / "adr"
    taken.write_text("not a directory", encoding="utf-8")
    with pytest.raises(Failure) as failure:
        run_doc(EXAMPLE, "--adr-dir", str(taken))
    assert failure.value.code == 2
    assert str(failure.value) == f"--adr-dir {taken}: exists and is not a directory"


def test_missing_output_directory_is_refused_before_anything_is_written(
        tmp_path: Path) -> None:
    adrs = tmp_path / "adr"
    with pytest.raises(Failure) as failure:
        run_doc(EXAMPLE, "-o", str(tmp_path / "missing" / "design.md"), "--adr-dir", str(adrs))
    assert failure.value.code == 2
    assert "does not exist" in str(failure.value)
    assert not adrs.exists()


def test_design_doc_function_reports_a_missing_template_directory(
        tmp_path: Path, report: Report) -> None:
    with pytest.raises(DesignDocError, match="templates directory does not exist"):
        design_doc(report, tmp_path / "none")
