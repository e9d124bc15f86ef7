"""What would change each decision: ``advisor explain`` and the report's sensitivity part.

Every flip the tool reports is applied to the requirements document by the test itself and the
changed document is recommended again through the whole pipeline: the slot must then hold the
component the flip names, decided by the rule it names.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from advisor.catalog import Catalog
from advisor.cli import main
from advisor.facts import build_facts, requirement_fact_specs, requirement_facts
from advisor.inputs import parse_requirements
from advisor.memo import per_rule_set
from advisor.models.requirements import Requirements
from advisor.pipeline import Advisor
from advisor.ranking import ranking_for
from advisor.sampling import consistent, random_requirements
from advisor.sensitivity import _changed as sensitivity_changed
from advisor.sensitivity import _Search, _Tables, analyse
from support import example_files

SERVERLESS = "examples/serverless-api.yaml"
THREE_TIER = "examples/three-tier-web-app.yaml"


def _document(path: Path | str) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _changed(document: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The requirements document with a flip's changes written into it."""
    changed = copy.deepcopy(document)
    for change in changes:
        section, field = change["fact"].split(".", 1)
        fields = changed.setdefault(section, {})
        if change["after"] is None:
            fields.pop(field, None)
        else:
            fields[field] = change["after"]
    return changed


def _explain(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["explain", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_flips(advisor: Advisor, document: dict[str, Any],
                 decisions: list[dict[str, Any]]) -> int:
    """Apply every reported flip and recommend again; return how many were checked."""
    checked = 0
    for decision in decisions:
        for flip in decision["sensitivity"]["flips"]:
            before = {change["fact"]: change["before"] for change in flip["changes"]}
            for fact, value in before.items():
                section, field = fact.split(".", 1)
                assert document.get(section, {}).get(field) == value, (decision["slot"], fact)
            requirements = parse_requirements(_changed(document, flip["changes"]), "changed")
            report = advisor.recommend(requirements)
            now = {item.slot: item for item in report.decisions}
            assert decision["slot"] in now, (decision["slot"], flip)
            assert now[decision["slot"]].component == flip["component"], (decision["slot"], flip)
            assert now[decision["slot"]].rule_id == flip["rule_id"], (decision["slot"], flip)
            assert flip["component"] != decision["component"]
            checked += 1
    return checked


@pytest.mark.parametrize("example", example_files(), ids=lambda path: path.stem)
def test_every_flip_explain_reports_really_flips_the_decision(
    example: Path, durable: Advisor, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _explain(capsys, str(example), "--format", "json")
    assert code == 0, err
    explained = json.loads(out)
    document = _document(example)
    _check_flips(durable, document, explained["decisions"])

    # A decision with a runner-up (a rule that fired for another component) can be flipped.
    report = durable.recommend(parse_requirements(document, str(example)))
    flips = {item["slot"]: item["sensitivity"]["flips"] for item in explained["decisions"]}
    assert set(flips) == {decision.slot for decision in report.decisions}
    for decision in report.decisions:
        if any(not contender.agrees for contender in decision.contenders):
            assert flips[decision.slot], f"{decision.slot} has a runner-up but no flip"


def test_flips_hold_on_generated_profiles_too(catalog: Catalog, durable: Advisor) -> None:
    rng = random.Random(11)
    checked = 0
    for _ in range(12):
        document = random_requirements(rng, catalog, rng.choice([0.4, 0.7]))
        report = durable.recommend(parse_requirements(document, "generated"), sensitivity=True)
        decisions = [decision.model_dump(mode="json") for decision in report.decisions]
        checked += _check_flips(durable, document, decisions)
    assert checked > 50


def test_the_datastore_flips_to_aurora_when_joins_are_needed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _explain(capsys, SERVERLESS, "--decision", "primary_datastore",
                            "--format", "json")
    assert code == 0
    (decision,) = json.loads(out)["decisions"]
    assert decision["component"] == "dynamodb"
    flips = [(flip["component"], [(c["fact"], c["before"], c["after"]) for c in flip["changes"]])
             for flip in decision["sensitivity"]["flips"]]
    assert ("aurora", [("data.needs_joins", False, True)]) in flips


def test_changes_to_unknown_inputs_come_first_and_say_what_was_assumed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _explain(capsys, SERVERLESS, "--format", "json")
    assert code == 0
    document = _document(SERVERLESS)
    seen_assumption = False
    for decision in json.loads(out)["decisions"]:
        flips = decision["sensitivity"]["flips"]
        assumed = [flip["assumed"] for flip in flips]
        assert assumed == sorted(assumed, reverse=True), decision["slot"]
        for flip in flips:
            unknown = [change for change in flip["changes"] if change["before"] is None]
            assert flip["assumed"] is bool(unknown)
            for change in unknown:
                section, field = change["fact"].split(".", 1)
                assert field not in document.get(section, {})
                seen_assumption = True
    assert seen_assumption

    code, out, _ = _explain(capsys, SERVERLESS, "--decision", "front_door")
    assert code == 0
    first = next(line for line in out.splitlines() if line.startswith("- "))
    assert first.startswith("- Assumes `api.")
    assert "is not given; if it is" not in first  # the field is named, not "it"
    assert " is **true**" in first and "this becomes **" in first


def test_a_threshold_flip_names_the_threshold_and_the_nearest_value_past_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _explain(capsys, SERVERLESS, "--decision", "app_compute", "--format", "json")
    assert code == 0
    (decision,) = json.loads(out)["decisions"]
    changes = [change for flip in decision["sensitivity"]["flips"] for change in flip["changes"]
               if change["fact"] == "compute.max_duration_seconds"]
    assert changes, "Lambda's 15-minute limit should be one way to leave Lambda"
    assert changes[0]["test"] == "> 900" and changes[0]["after"] == 901


def test_the_report_has_the_part_per_decision_and_it_can_be_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["recommend", THREE_TIER, "--format", "json"]) == 0
    decisions = len(json.loads(capsys.readouterr().out)["decisions"])
    assert main(["recommend", THREE_TIER]) == 0
    with_part = capsys.readouterr().out
    assert with_part.count("**What would change this decision**") == decisions > 10
    assert "Each change above was confirmed by evaluating the changed requirements again." \
        in with_part

    assert main(["recommend", THREE_TIER, "--no-sensitivity"]) == 0
    without = capsys.readouterr().out
    assert "What would change this decision" not in without

    assert main(["recommend", THREE_TIER, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert all(decision["sensitivity"] is not None for decision in report["decisions"])
    assert main(["recommend", THREE_TIER, "--format", "json", "--no-sensitivity"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert all(decision["sensitivity"] is None for decision in report["decisions"])


def test_explain_markdown_lists_every_flip_the_report_shortens(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _explain(capsys, SERVERLESS, "--format", "json")
    explained = json.loads(out)
    longest = max(explained["decisions"], key=lambda item: len(item["sensitivity"]["flips"]))
    count = len(longest["sensitivity"]["flips"])
    assert count > 5
    code, out, _ = _explain(capsys, SERVERLESS, "--decision", longest["slot"])
    assert code == 0
    assert out.count("this becomes **") == count
    assert out.startswith("# What would change the recommendation: ")
    assert main(["recommend", SERVERLESS]) == 0
    report = capsys.readouterr().out
    assert f"- {count - 5} more: `advisor explain` lists every one." in report


def test_both_engines_find_the_same_flips(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for engine in ("durable", "python"):
        code, out, _ = _explain(capsys, THREE_TIER, "--format", "json", "--engine", engine)
        assert code == 0
        explained = json.loads(out)
        explained.pop("engine")
        outputs.append(explained)
    assert outputs[0] == outputs[1]


def test_explain_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    first = _explain(capsys, THREE_TIER)
    assert _explain(capsys, THREE_TIER) == first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--decision", "nope"], "--decision nope: no such slot; slots: alarm_notifications, alb_behind_nlb,"),
        (["--decision", "cache"], "--decision cache: the slot is not decided for these "
                                  "requirements; decided slots: clients,"),
    ],
)
def test_explain_refuses_a_decision_that_is_not_there(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = _explain(capsys, SERVERLESS, *args)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_explain_refuses_bad_input_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("traffic:\n  peak_rps: lots\n", encoding="utf-8")
    output = tmp_path / "out.md"
    code, _, err = _explain(capsys, str(bad), "-o", str(output))
    assert code == 2
    assert "traffic.peak_rps" in err
    assert not output.exists()
    code, _, err = _explain(capsys, SERVERLESS, "-o", str(tmp_path / "missing" / "out.md"))
    assert code == 2 and "does not exist" in err


@pytest.mark.parametrize("engine", ["durable", "python"])
def test_evaluating_the_first_rounds_decides_early_slots_as_a_full_run_does(
    advisors: dict[str, Advisor], engine: str
) -> None:
    advisor = advisors[engine]
    requirements = parse_requirements(_document(THREE_TIER), THREE_TIER)
    full = advisor.evaluate(requirements)
    rounds = {firing.slot: firing.round for firing in full.firings if firing.slot}
    for count in (1, 2, 3):
        partial = advisor.evaluate(requirements, count)
        assert partial.rounds == count
        expected = {slot: component for slot, component in full.decisions.items()
                    if rounds[slot] < count}
        assert partial.decisions == expected and expected


@pytest.mark.parametrize("engine", ["durable", "python"])
def test_flips_decided_without_the_engine_are_those_the_engine_finds(
    catalog: Catalog, advisors: dict[str, Advisor], engine: str
) -> None:
    # A change no earlier round reads is decided from the slot's own rules, without running the
    # engine; confirming every candidate with the engine must find exactly the same flips.
    advisor = advisors[engine]
    rng = random.Random(5)
    documents = [_document(path) for path in example_files()]
    documents += [random_requirements(rng, catalog, rng.choice([0.4, 0.7])) for _ in range(20)]
    compared = 0
    for document in documents:
        requirements = parse_requirements(document, "profile")
        report = advisor.recommend(requirements)
        trace = advisor.evaluate(requirements)
        rounds = {decision.slot: decision.round for decision in report.decisions}

        def evaluate(facts: Any, ranking: Any, slot: str, count: int) -> Any:
            return advisor.engine.evaluate(facts, ranking.choose, count)

        found = [analyse(catalog, requirements, trace.decisions, rounds, report.assumptions,
                         evaluate, exact=exact) for exact in (True, False)]
        assert found[0] == found[1], document
        compared += sum(len(item.flips) for item in found[0].values())
    assert compared > 300


def _value_for(rng: random.Random, name: str, donor: dict[str, Any]) -> Any:
    """A value for requirement field ``name``: another profile's, none, or one the model
    refuses (out of range, of another type, not among the allowed values, repeated)."""
    spec = requirement_fact_specs()[name]
    section, field = name.split(".", 1)
    choice = rng.random()
    if choice < 0.5 and field in donor.get(section, {}):
        return donor[section][field]
    if choice < 0.6:
        return None
    wrong: dict[str, list[Any]] = {
        "number": [-1, 10**13, "many", True, 0, 2.5],
        "bool": ["yes", 1, None, False],
        "enum": ["not-a-value", 3, *spec.values[:1]],
        "set": [["not-a-value"], "text", list(spec.values[:1]) * 2, list(spec.values[:2])],
    }
    return rng.choice(wrong.get(spec.type, [None]))


def test_changed_requirements_are_refused_as_parsing_refuses_them(catalog: Catalog) -> None:
    # A candidate is counted and evaluated only if the model takes the changed requirements:
    # the analysis validates the changed sections again and rebuilds their facts. It must refuse
    # exactly what parsing the whole changed document refuses, and build the facts of the
    # parsed document. Cross-field checks are reached too: recovery minutes with "as low as
    # possible", storage ages out of order, kept parts not named as existing, repeated pillars.
    rng = random.Random(17)
    names = sorted(requirement_fact_specs())
    pinned = ["recovery.rto_minutes", "recovery.rto_as_low_as_possible",
              "storage.archive_after_days", "storage.delete_after_days", "constraints.keep",
              "existing.compute", "workload.pillar_priorities"]
    outcomes = {"refused": 0, "accepted": 0}
    documents = [random_requirements(rng, catalog, rng.choice([0.3, 0.6, 0.9]))
                 for _ in range(61)]
    for document, donor in itertools.pairwise(documents):
        requirements = parse_requirements(document)
        given = requirement_facts(requirements)
        for _ in range(25):
            fields = rng.sample(names, rng.randint(1, 3)) + rng.sample(pinned, rng.randint(0, 1))
            changes = {name: _value_for(rng, name, donor) for name in fields}
            expected = copy.deepcopy(requirements.model_dump(mode="json", exclude_none=True))
            for name, value in changes.items():
                section, field = name.split(".", 1)
                expected.setdefault(section, {}).pop(field, None)
                if value is not None:
                    expected[section][field] = value
            try:
                oracle: Requirements | None = Requirements.model_validate_json(
                    json.dumps(expected))
            except ValidationError:
                oracle = None
            # Plain fact values, as candidates carry them.
            plain = [(name, tuple(value) if isinstance(value, list) else value)
                     for name, value in sorted(changes.items())]
            found = sensitivity_changed(requirements, given, plain)
            assert (found is None) == (oracle is None), changes
            if found is None or oracle is None:
                outcomes["refused"] += 1
                continue
            outcomes["accepted"] += 1
            assert found[0].model_dump(mode="json") == oracle.model_dump(mode="json"), changes
            assert found[1] == build_facts(oracle), changes
    assert outcomes["refused"] > 300 and outcomes["accepted"] > 300, outcomes


def test_what_the_search_shares_between_profiles_changes_no_candidate(
    catalog: Catalog, reference: Advisor
) -> None:
    # The ways to make a rule hold or fail are shared between profiles alike in what they depend
    # on. Each profile searched with nothing shared must give the candidates (changes, why, the
    # predicted winner) it gives after many other profiles.
    rng = random.Random(23)
    profiles = [parse_requirements(random_requirements(rng, catalog, rng.choice([0.3, 0.6, 0.9])))
                for _ in range(60)]
    # And profiles alike but for the other members of a set a ``contains`` clause tests.
    specs = requirement_fact_specs()
    for rule in catalog.rules:
        for clause in rule.when:
            if clause.contains is None or clause.fact not in specs:
                continue
            section, field = clause.fact.split(".", 1)
            for member in specs[clause.fact].values[:4]:
                if member != clause.contains:
                    document = copy.deepcopy(rule.examples.fires[0].requirements)
                    document.setdefault(section, {})[field] = [member]
                    profiles.append(parse_requirements(consistent(document)))
    tables = per_rule_set(_Tables, catalog)

    def found(requirements: Requirements) -> list[Any]:
        decisions = reference.evaluate(requirements).decisions
        search = _Search(catalog, requirement_facts(requirements), decisions,
                         ranking_for(catalog, requirements))
        return [(slot, candidate.changes, candidate.motives, candidate.assumed, target, rule_id)
                for slot, component in decisions.items()
                for candidate, target, rule_id in search.candidates(slot, component)]

    alone = []
    for requirements in profiles:
        tables.ways.clear()
        tables.failing_steps.clear()
        alone.append(found(requirements))
    shared = [found(requirements) for requirements in reversed(profiles)][::-1]
    assert shared == alone
    assert len(tables.ways) > 300
