"""The knowledge base loads, is internally consistent, and bad rule files fail loudly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from advisor.catalog import Catalog, CatalogError, load_catalog
from advisor.engine.alpha_network import STACK_LIMIT
from advisor.engine.base import compile_rules
from advisor.engine.durable import PROPERTY_LIMIT, DurableEngine
from support import VALID_RULE, minimal_rules


def test_bundled_rules_load_with_every_rule_cited_and_exemplified(catalog: Catalog) -> None:
    assert len(catalog.rules) >= 5
    for rule in catalog.rules:
        assert rule.citations, rule.id
        assert rule.examples.fires and rule.examples.silent, rule.id
        names = [example.name for example in (*rule.examples.fires, *rule.examples.silent)]
        assert len(names) == len(set(names)), f"{rule.id}: example names repeat"


def test_rule_files_are_named_for_their_id_and_area(catalog: Catalog) -> None:
    for rule in catalog.rules:
        file = Path(catalog.rule_files[rule.id])
        assert file.parent.name == rule.area
        assert file.name.startswith(rule.id + "-")
        assert re.fullmatch(r"[A-Z]+-\d{3}", rule.id)


def test_every_registered_component_and_source_is_used(catalog: Catalog) -> None:
    used_sources = {c.source for rule in catalog.rules for c in rule.citations}
    used_sources |= {c.source for pillar in catalog.pillars.values() for c in pillar.citations}
    used_sources |= {c.source for item in catalog.invariants.values() for c in item.citations}
    unused = sorted(set(catalog.sources) - used_sources)
    assert not unused, f"sources nobody cites: {unused}"
    used_components = {rule.recommend.component for rule in catalog.rules if rule.recommend}
    used_components |= {rejection.component for rule in catalog.rules for rejection in rule.rejects}
    unused = sorted(set(catalog.components) - used_components)
    assert not unused, f"components no rule recommends or rejects: {unused}"


def test_every_slot_can_be_filled_by_some_rule(catalog: Catalog) -> None:
    filled = {rule.slot for rule in catalog.rules if rule.slot}
    assert sorted(set(catalog.slots) - filled) == []


def test_compiled_rulesets_respect_the_core_limits(durable_engine: DurableEngine) -> None:
    rulesets = durable_engine.describe_rulesets()
    assert rulesets
    assert all(item["stack_bound"] <= STACK_LIMIT for item in rulesets)
    assert all(item["fact_properties"] <= PROPERTY_LIMIT for item in rulesets)
    listed = sorted(rule for item in rulesets for rule in item["rules"])
    assert len(listed) == len(set(listed))


@pytest.fixture(scope="module")
def durable_engine(catalog: Catalog) -> DurableEngine:
    return DurableEngine(compile_rules(catalog))


def _problems(root: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    return [str(problem) for problem in caught.value.problems]


def test_valid_minimal_rule_set_loads(tmp_path: Path) -> None:
    catalog = load_catalog(minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE}))
    assert [rule.id for rule in catalog.rules] == ["DATA-900"]


def test_unknown_fact_names_file_line_rule_field_and_suggestion(tmp_path: Path) -> None:
    text = VALID_RULE.replace("fact: data.model,", "fact: data.modle,")
    problems = _problems(minimal_rules(tmp_path, {"data/DATA-900-test.yaml": text}))
    assert problems == [
        "rules/data/DATA-900-test.yaml:7: DATA-900: when[0].fact: unknown fact 'data.modle' "
        "(did you mean 'data.model'?)"
    ]


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    bad_value = VALID_RULE.replace("equals: key_value", "equals: keyvalue")
    second = VALID_RULE.replace("DATA-900", "DATA-901").replace(
        "component: dynamodb", "component: dynamo"
    ).replace("strength: moderate", "strength: medium")
    problems = _problems(minimal_rules(tmp_path, {
        "data/DATA-900-test.yaml": bad_value,
        "data/DATA-901-test.yaml": second,
    }))
    joined = "\n".join(problems)
    assert "DATA-900: when[0].equals: 'keyvalue' is not a value of data.model" in joined
    assert "allowed: relational, key_value" in joined
    assert "DATA-901: strength:" in joined  # schema error in the second file
    assert len(problems) == 2


def test_unknown_key_and_missing_field_are_reported_with_lines(tmp_path: Path) -> None:
    text = VALID_RULE.replace("rationale:", "rationael:")
    problems = _problems(minimal_rules(tmp_path, {"data/DATA-900-test.yaml": text}))
    assert any(p.startswith("rules/data/DATA-900-test.yaml:13: DATA-900: rationael: extra")
               and "unknown key" in p for p in problems)
    assert any(": DATA-900: rationale: field required (required)" in p for p in problems)


def test_unknown_component_slot_and_source_are_named(tmp_path: Path) -> None:
    text = (VALID_RULE.replace("component: dynamodb", "component: dynamodbx")
            .replace("slot: primary_datastore", "slot: primary_store")
            .replace("source: seed-000", "source: seed-999"))
    joined = "\n".join(_problems(minimal_rules(tmp_path, {"data/DATA-900-test.yaml": text})))
    assert "recommend.component: unknown component 'dynamodbx' (did you mean 'dynamodb'?)" in joined
    assert "recommend.slot: unknown slot 'primary_store'" in joined
    assert "citations[0].source: unknown source 'seed-999'" in joined


def test_wrong_folder_and_file_name_are_reported(tmp_path: Path) -> None:
    joined = "\n".join(_problems(minimal_rules(tmp_path, {"caching/whatever.yaml": VALID_RULE})))
    assert "area: area 'data' does not match folder 'caching'" in joined
    assert "file name does not match the rule id" in joined


def test_operator_not_allowed_for_fact_type(tmp_path: Path) -> None:
    text = VALID_RULE.replace("{fact: data.model, equals: key_value}", "{fact: data.model, gt: 3}")
    joined = "\n".join(_problems(minimal_rules(tmp_path, {"data/DATA-900-test.yaml": text})))
    assert "when[0].gt: operator not allowed on an enum fact" in joined


def test_malformed_yaml_and_duplicate_keys_are_reported_with_line(tmp_path: Path) -> None:
    broken = VALID_RULE.replace("priority: 50", "priority: [50")
    duplicate = VALID_RULE.replace("DATA-900", "DATA-901").replace(
        "priority: 50", "priority: 50\npriority: 60"
    )
    problems = _problems(minimal_rules(tmp_path, {
        "data/DATA-900-test.yaml": broken,
        "data/DATA-901-test.yaml": duplicate,
    }))
    joined = "\n".join(problems)
    assert "rules/data/DATA-900-test.yaml:" in joined and "malformed YAML" in joined
    assert "rules/data/DATA-901-test.yaml:6: -: (document): key 'priority' repeats" in joined


def test_invalid_example_requirements_are_reported(tmp_path: Path) -> None:
    text = VALID_RULE.replace("{data: {model: relational}}", "{data: {model: relational, joins: true}}")
    joined = "\n".join(_problems(minimal_rules(tmp_path, {"data/DATA-900-test.yaml": text})))
    assert "DATA-900: examples.silent.0.requirements.data.joins: extra inputs" in joined


def test_decision_cycle_is_a_load_error_naming_the_rules(tmp_path: Path) -> None:
    first = VALID_RULE.replace(
        "  - {fact: data.model, equals: key_value}",
        "  - {fact: data.model, equals: key_value}\n  - {fact: decision.cache, equals: dax}",
    )
    second = (VALID_RULE.replace("DATA-900", "DATA-901")
              .replace("slot: primary_datastore", "slot: cache")
              .replace("component: dynamodb", "component: dax")
              .replace("{component: aurora,", "{component: elasticache_redis,")
              .replace("  - {fact: data.model, equals: key_value}",
                       "  - {fact: decision.primary_datastore, equals: dynamodb}"))
    joined = "\n".join(_problems(minimal_rules(tmp_path, {
        "data/DATA-900-test.yaml": first,
        "data/DATA-901-test.yaml": second,
    })))
    assert "decisions depend on each other in a cycle" in joined
    assert "DATA-900" in joined and "DATA-901" in joined


def test_missing_rules_directory_is_an_error(tmp_path: Path) -> None:
    assert "not a directory" in "\n".join(_problems(tmp_path / "nope"))
