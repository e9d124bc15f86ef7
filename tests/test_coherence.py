"""Design-wide invariants (rules/_invariants.yaml): refused when malformed, reported when a
design breaks one, and held by every bundled example and by generated profiles on both
engines."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from advisor.catalog import DECISION_PREFIX, Catalog, CatalogError, load_catalog
from advisor.conditions import holds
from advisor.facts import build_facts
from advisor.inputs import parse_requirements, read_requirements
from advisor.pipeline import Advisor
from advisor.render import render_json, render_markdown
from advisor.sampling import random_profiles
from support import VALID_RULE, example_files, minimal_rules

# A second rule that puts DynamoDB in another slot and draws an edge to the first.
INDEX_RULE = (
    VALID_RULE.replace("DATA-900", "DATA-901")
    .replace("recommends DynamoDB for key-value data", "keeps a metadata index in DynamoDB")
    .replace("  slot: primary_datastore\n", "  slot: metadata_index\n")
    .replace("rejects:\n  - {component: aurora, because: A relational engine is not needed for key "
             "lookups.}\n",
             "connects:\n  - {from: self, to: primary_datastore, kind: read, label: looks up}\n"))

# A conflict that involves DATA-900 whenever key-value data must also be strongly consistent.
CONFLICT_RULE = """\
id: CONF-900
title: Test conflict between key-value data and strong consistency
area: conflicts
strength: strong
priority: 50
when:
  - {fact: data.model, equals: key_value}
  - {fact: data.consistency, equals: strong}
conflict:
  sides:
    - {facts: [data.model], wants: a key-value store}
    - {facts: [data.consistency], wants: every read sees the latest write}
  explanation: A test conflict between the two requirements.
  resolution: Relax one of them.
  involves: [DATA-900]
rationale: The test needs a conflict that names the rule choosing DynamoDB.
citations:
  - {source: seed-000, quote: "Key-value and document database"}
examples:
  fires:
    - {name: both, requirements: {data: {model: key_value, consistency: strong}}}
  silent:
    - {name: eventual, requirements: {data: {model: key_value, consistency: eventual}}}
"""

CITATION = """    rationale: A test invariant that the small rule set is made to break on purpose.
    citations:
      - {source: seed-000, quote: "Key-value and document database"}
"""

INVARIANTS = f"""\
invariants:
  - id: INV-901
    title: Key-value designs must not use DynamoDB in this test
    kind: forbidden
    when:
      - {{fact: data.model, equals: key_value}}
    components: [dynamodb]
{CITATION}  - id: INV-902
    title: Key-value designs need Aurora in this test
    kind: required
    when:
      - {{fact: data.model, equals: key_value}}
    components: [aurora]
{CITATION}  - id: INV-903
    title: One DynamoDB role per design in this test
    kind: distinct
    slots: [primary_datastore, metadata_index]
{CITATION}  - id: INV-904
    title: DynamoDB never calls DynamoDB directly in this test
    kind: no_direct_edge
    from_components: [dynamodb]
    to_components: [dynamodb]
{CITATION}  - id: INV-906
    title: The main table reaches its index in this test
    kind: reachable
    slots: [primary_datastore, metadata_index]
{CITATION}  - id: INV-907
    title: The index reaches the main table in this test
    kind: reachable
    slots: [metadata_index, primary_datastore]
{CITATION}"""


def _rules(tmp_path: Path, invariants: str, conflict: bool = False) -> Path:
    files = {"data/DATA-900-test.yaml": VALID_RULE, "data/DATA-901-index.yaml": INDEX_RULE,
             "_invariants.yaml": invariants}
    if conflict:
        files["conflicts/CONF-900-test.yaml"] = CONFLICT_RULE
    return minimal_rules(tmp_path, files)


def test_a_design_breaking_each_kind_of_invariant_lists_every_breach(tmp_path: Path) -> None:
    advisor = Advisor(rules=_rules(tmp_path, INVARIANTS), engine="python")
    report = advisor.recommend(parse_requirements({"data": {"model": "key_value"}}))
    found = [(item.invariant_id, item.kind, list(item.slots), list(item.components),
              list(item.rule_ids))
             for item in report.inconsistencies]
    assert found == [
        ("INV-901", "forbidden", ["primary_datastore"], ["dynamodb"], ["DATA-900"]),
        ("INV-901", "forbidden", ["metadata_index"], ["dynamodb"], ["DATA-901"]),
        ("INV-902", "required", [], ["aurora"], []),
        ("INV-903", "distinct", ["primary_datastore", "metadata_index"],
         ["dynamodb", "dynamodb"], ["DATA-900", "DATA-901"]),
        ("INV-904", "no_direct_edge", ["metadata_index", "primary_datastore"],
         ["dynamodb", "dynamodb"], ["DATA-901", "DATA-900"]),
        # the index's edge runs to the table, so only the reverse path is missing
        ("INV-906", "reachable", ["primary_datastore", "metadata_index"],
         ["dynamodb", "dynamodb"], ["DATA-900", "DATA-901"]),
    ]
    assert report.inconsistencies[0].requirements[0].fact == "data.model"
    assert report.inconsistencies[0].requirements[0].value == "key_value"
    markdown = render_markdown(report)
    section = markdown.split("## Inconsistencies in this design", 1)[1].split("\n## ", 1)[0]
    for title in ("Key-value designs must not use DynamoDB in this test",
                  "Key-value designs need Aurora in this test",
                  "One DynamoDB role per design in this test",
                  "DynamoDB never calls DynamoDB directly in this test",
                  "The main table reaches its index in this test"):
        assert f"### {title}" in section
    assert "rule `DATA-901`" in section and "`data.model` | key_value | = key_value" in section
    # the source the invariant rests on is printed with its file and quote
    assert "(000_6f8b91b056293530.txt): \"Key-value and document database\"" in section
    dumped = json.loads(render_json(report))
    assert [item["invariant_id"] for item in dumped["inconsistencies"]] == [
        "INV-901", "INV-901", "INV-902", "INV-903", "INV-904", "INV-906"]


def test_an_invariant_whose_requirements_do_not_hold_is_not_checked(tmp_path: Path) -> None:
    advisor = Advisor(rules=_rules(tmp_path, INVARIANTS), engine="python")
    report = advisor.recommend(parse_requirements({"data": {"model": "relational"}}))
    assert report.inconsistencies == ()
    assert "Inconsistencies" not in render_markdown(report)


def test_a_forbidden_component_is_excused_only_by_a_conflict_naming_its_rule(
    tmp_path: Path,
) -> None:
    only_forbidden = INVARIANTS.split("  - id: INV-902")[0].replace(
        "    components: [dynamodb]\n", "    components: [dynamodb]\n    unless_conflict: true\n")
    advisor = Advisor(rules=_rules(tmp_path, only_forbidden, conflict=True), engine="python")
    conflicted = advisor.recommend(
        parse_requirements({"data": {"model": "key_value", "consistency": "strong"}}))
    assert [c.rule_id for c in conflicted.conflicts] == ["CONF-900"]
    # DATA-900's DynamoDB is named by the conflict; DATA-901's is not.
    assert [list(item.rule_ids) for item in conflicted.inconsistencies] == [["DATA-901"]]
    silent = advisor.recommend(
        parse_requirements({"data": {"model": "key_value", "consistency": "eventual"}}))
    assert [list(item.rule_ids) for item in silent.inconsistencies] == [["DATA-900"], ["DATA-901"]]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (("components: [dynamodb]", "components: [dynamo_db]"), "components[0]",
         "unknown component 'dynamo_db'"),
        (("slots: [primary_datastore, metadata_index]", "slots: [primary_datastore, index]"),
         "slots[1]", "unknown slot 'index'"),
        (("{fact: data.model, equals: key_value}\n    components: [dynamodb]",
          "{fact: decision.primary_datastore, exists: true}\n    components: [dynamodb]"),
         "when[0].fact", "an invariant applies on requirements, not on decisions"),
        (("{fact: data.model, equals: key_value}\n    components: [dynamodb]",
          "{fact: data.model, equals: graphs}\n    components: [dynamodb]"),
         "when[0].equals", "'graphs' is not a value of data.model"),
        (("{source: seed-000,", "{source: seed-999,"), "citations[0].source",
         "unknown source 'seed-999'"),
    ],
)
def test_an_invariant_naming_what_the_knowledge_base_lacks_is_refused_with_its_line(
    tmp_path: Path, change: tuple[str, str], field: str, problem: str,
) -> None:
    text = INVARIANTS.replace(*change, 1)
    with pytest.raises(CatalogError) as raised:
        load_catalog(_rules(tmp_path, text), use_cache=False)
    found = [p for p in raised.value.problems if p.file.endswith("_invariants.yaml")]
    assert found, raised.value
    assert found[0].field == field and found[0].problem.startswith(problem)
    assert found[0].line == text.splitlines().index(
        next(line for line in text.splitlines() if change[1].split("\n")[0] in line)) + 1


HEAD = "invariants:\n  - id: INV-905\n    title: A malformed invariant for this test\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("    kind: distinct\n", "a 'distinct' invariant needs 'slots'"),
        ("    kind: distinct\n    slots: [primary_datastore, metadata_index]\n"
         "    components: [dynamodb]\n",
         "'components' has no meaning in a 'distinct' invariant"),
        ("    kind: no_direct_edge\n    to_components: [dynamodb]\n",
         "a 'no_direct_edge' invariant needs 'from_components'"),
        ("    kind: required\n    components: [dynamodb]\n    unless_conflict: true\n",
         "'unless_conflict' applies to 'forbidden' invariants only"),
        ("    kind: reachable\n    slots: [primary_datastore, metadata_index, clients]\n",
         "a 'reachable' invariant names two slots"),
        ("    kind: distinct\n    slots: [primary_datastore]\n",
         "a 'distinct' invariant names at least two slots"),
    ],
)
def test_an_invariant_with_fields_its_kind_cannot_use_is_refused(
    tmp_path: Path, body: str, message: str,
) -> None:
    with pytest.raises(CatalogError) as raised:
        load_catalog(_rules(tmp_path, HEAD + body + CITATION), use_cache=False)
    found = [p for p in raised.value.problems if p.file.endswith("_invariants.yaml")]
    assert any(message in p.problem and p.rule_id == "INV-905" for p in found), raised.value


def test_every_bundled_example_keeps_every_invariant(advisors: dict[str, Advisor]) -> None:
    for path in example_files():
        requirements = read_requirements(str(path))
        for name, advisor in advisors.items():
            report = advisor.recommend(requirements)
            assert report.inconsistencies == (), (path.name, name, report.inconsistencies)


def test_every_rule_example_keeps_every_invariant(advisors: dict[str, Advisor],
                                                 catalog: Catalog) -> None:
    # The examples reach corners generated profiles rarely do (a private-only service on an
    # NLB, an internal ALB behind a CloudFront VPC origin); the engines agree on them
    # (tests/test_rule_examples.py), so one engine checks the composed designs.
    broken = []
    for rule in catalog.rules:
        for outcome in ("fires", "silent"):
            for example in getattr(rule.examples, outcome):
                report = advisors["python"].recommend(parse_requirements(example.requirements))
                broken.extend((rule.id, example.name, item.invariant_id, item.rule_ids)
                              for item in report.inconsistencies)
    assert broken == []


@pytest.mark.parametrize("engine", ["python", "durable"])
def test_generated_profiles_keep_every_invariant(
    engine: str, catalog: Catalog, advisors: dict[str, Advisor],
) -> None:
    advisor = advisors[engine]
    broken: dict[tuple[str, tuple[str, ...]], int] = {}
    against_exception: list[str] = []
    set_aside = 0
    for document in random_profiles(random.Random(20261207), catalog, 2000):
        requirements = parse_requirements(document)
        report = advisor.recommend(requirements)
        for item in report.inconsistencies:
            key = (item.invariant_id, tuple(item.rule_ids))
            broken[key] = broken.get(key, 0) + 1
        # A rule never fires while one of its own exceptions holds; one set aside names one.
        facts = {**build_facts(requirements),
                 **{f"{DECISION_PREFIX}{d.slot}": d.component for d in report.decisions}}
        against_exception.extend(
            firing.rule_id for firing in report.trace
            if any(holds(fact, operator, operand, facts)
                   for fact, operator, operand in catalog.exceptions(firing.rule_id)))
        assert all(item.exceptions for item in report.excepted)
        set_aside += len(report.excepted)
    assert broken == {}
    assert against_exception == []
    assert set_aside > 0


def test_a_decision_resting_on_an_excused_decision_is_excused_too(tmp_path: Path) -> None:
    only_forbidden = INVARIANTS.split("  - id: INV-902")[0].replace(
        "    components: [dynamodb]\n", "    components: [dynamodb]\n    unless_conflict: true\n")
    resting = INDEX_RULE.replace(
        "  - {fact: data.model, equals: key_value}\n",
        "  - {fact: decision.primary_datastore, equals: dynamodb}\n").replace(
        "{name: relational, requirements: {data: {model: relational}}}",
        "{name: relational, requirements: {data: {model: relational}}}")
    files = {"data/DATA-900-test.yaml": VALID_RULE, "data/DATA-901-index.yaml": resting,
             "conflicts/CONF-900-test.yaml": CONFLICT_RULE, "_invariants.yaml": only_forbidden}
    advisor = Advisor(rules=minimal_rules(tmp_path, files), engine="python")
    conflicted = advisor.recommend(
        parse_requirements({"data": {"model": "key_value", "consistency": "strong"}}))
    assert conflicted.inconsistencies == ()
    silent = advisor.recommend(
        parse_requirements({"data": {"model": "key_value", "consistency": "eventual"}}))
    assert [list(item.rule_ids) for item in silent.inconsistencies] == [["DATA-900"], ["DATA-901"]]
