"""Every refusal the catalogue makes, pinned to its file, line, rule, field, problem and hint.

Each case makes the smallest change to a valid minimal rule set that the loader must refuse, and
expects exactly the problems that change causes; deleting the check behind a case fails it.
Refusals already pinned elsewhere are not repeated here: unknown fact, component, slot and
source, an operator on the wrong fact type, an enum value, an unknown key, a missing field, a
wrong folder, malformed YAML, a repeated key, invalid example requirements and a decision cycle
(tests/test_catalog.py); every invariant problem (tests/test_coherence.py); an unknown source in
a pillar (tests/test_review.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from advisor.catalog import MAX_CHAIN_DEPTH, CatalogError, LoadProblem, load_catalog
from support import REGISTRIES, VALID_RULE, minimal_rules

RULE = "data/DATA-900-test.yaml"
FILE = f"rules/{RULE}"


class Refusal(NamedTuple):
    """One expected problem; ``line`` None where the loader has no line to give (it says 1)."""

    file: str
    line: int | None
    rule_id: str
    field: str
    problem: str
    hint: str = ""


def edited(*changes: tuple[str, str], text: str = VALID_RULE) -> str:
    """``text`` with each (old, new) replaced once; an ``old`` that is absent is a test bug."""
    for old, new in changes:
        if old not in text:
            raise ValueError(f"{old!r} is not in the rule text")
        text = text.replace(old, new, 1)
    return text


# VALID_RULE, line by line: 1 id, 3 area, 7 the clause, 8 recommend, 9 slot, 10 component,
# 11 rejects, 12 the rejection, 15 the citation, 18 the fires example, 20 the silent example.
RECOMMEND = "recommend:\n  slot: primary_datastore\n  component: dynamodb\n"
REJECTS = "rejects:\n  - {component: aurora, because: A relational engine is not needed for key lookups.}\n"
WARN = "warn: {message: A documented limit is broken., remedy: Stay within the limit.}\n"
AFTER_COMPONENT = "  component: dynamodb\n"

CAPACITY_RULE = """\
id: DATA-900
title: Test capacity rule sizing read units
area: data
strength: moderate
priority: 50
when:
  - {fact: data.reads_per_second, exists: true}
capacity:
  figure: Read units
  unit: units
  formula: reads * 2
  inputs:
    reads: data.reads_per_second
  explanation: A figure used only by the loader tests.
rationale: Sizing from the stated read rate, nothing more.
citations:
  - {source: seed-000, quote: "Key-value and document database"}
examples:
  fires:
    - {name: given, requirements: {data: {reads_per_second: 10}}}
  silent:
    - {name: missing, requirements: {data: {model: key_value}}}
"""

CONFLICT_RULE = """\
id: DATA-900
title: Test conflict between two answers
area: data
strength: moderate
priority: 50
when:
  - {fact: data.consistency, equals: strong}
  - {fact: availability.active_active, equals: true}
conflict:
  sides:
    - {facts: [data.consistency], wants: every read sees the latest write}
    - {facts: [availability.active_active], wants: writes accepted in every Region at once}
  explanation: Both cannot hold at once for the reasons given here.
  resolution: Relax one of the two.
rationale: Testing how the loader checks a conflict.
citations:
  - {source: seed-000, quote: "Key-value and document database"}
examples:
  fires:
    - {name: strong, requirements: {data: {consistency: strong}, availability: {active_active: true}}}
  silent:
    - {name: eventual, requirements: {data: {consistency: eventual}, availability: {active_active: true}}}
"""

REVIEW_RULE = edited((RECOMMEND + REJECTS,
                      "review: {pillar: reliability, kind: strength, finding: A finding long "
                      "enough to pass the schema.}\n"))

SLOTS_HEAD = "slots:\n  - {id: clients, title: Clients, description: Who sends requests in., entry: true}\n"

# A registry given as None is deleted from the minimal rule set.
Files = dict[str, str | None]

RULE_CASES = [
    # -- what a rule recommends, rejects and connects
    pytest.param(
        {RULE: edited(("{component: aurora,", "{component: dynamodb,"))},
        [Refusal(FILE, 12, "DATA-900", "rejects[0].component",
                 "a rule cannot reject the component it recommends")],
        id="rejects-its-own-component"),
    pytest.param(
        {RULE: edited(("{component: aurora,", "{component: auroraa,"))},
        [Refusal(FILE, 12, "DATA-900", "rejects[0].component", "unknown component 'auroraa'",
                 "did you mean 'aurora'?")],
        id="rejects-unknown-component"),
    pytest.param(
        {RULE: edited(("component: dynamodb", "component: cache_aside_ttl"),
                      (REJECTS, REJECTS + "connects:\n  - {from: app_compute, to: self, "
                                          "kind: read, label: reads}\n"))},
        [Refusal(FILE, 10, "DATA-900", "connects",
                 "'cache_aside_ttl' is a practice, which is not drawn, so its rule cannot add "
                 "or reroute edges", "remove 'connects'/'reroutes'")],
        id="practice-with-connects"),
    pytest.param(
        {RULE: edited(("component: dynamodb", "component: cache_aside_ttl"),
                      (REJECTS, REJECTS + "reroutes:\n  - {from: app_compute, "
                                          "to: primary_datastore}\n"))},
        [Refusal(FILE, 10, "DATA-900", "connects",
                 "'cache_aside_ttl' is a practice, which is not drawn, so its rule cannot add "
                 "or reroute edges", "remove 'connects'/'reroutes'")],
        id="practice-with-reroutes"),
    pytest.param(
        {RULE: edited((REJECTS, REJECTS + "connects:\n  - {from: app_compte, to: self, "
                                          "kind: read, label: reads}\n"))},
        [Refusal(FILE, 14, "DATA-900", "connects[0].from", "unknown slot 'app_compte'",
                 "did you mean 'app_compute'?")],
        id="connects-unknown-slot"),
    pytest.param(
        {RULE: edited((REJECTS, REJECTS + "reroutes:\n  - {from: app_compute, "
                                          "to: primary_store}\n"))},
        [Refusal(FILE, 14, "DATA-900", "reroutes[0].to", "unknown slot 'primary_store'",
                 "did you mean 'primary_datastore'?")],
        id="reroutes-unknown-slot"),
    pytest.param(
        {RULE: edited((AFTER_COMPONENT, AFTER_COMPONENT + "  existing: datastore\n"))},
        [Refusal(FILE, 11, "DATA-900", "recommend.existing",
                 "a rule that keeps the existing datastore must test what is in place",
                 "add a clause such as {fact: existing.datastore, equals: ...}")],
        id="keeps-existing-part-untested"),
    pytest.param(
        {RULE: edited((AFTER_COMPONENT, AFTER_COMPONENT + "  existing: datastore\n"),
                      ("recommend:", "  - {fact: existing.datastore, not_equals: aurora}\n"
                                     "recommend:"))},
        [Refusal(FILE, 12, "DATA-900", "recommend.existing",
                 "a rule that keeps the existing datastore must test what is in place",
                 "add a clause such as {fact: existing.datastore, equals: ...}")],
        id="keeps-existing-part-tested-with-not-equals"),
    # -- identity: id, area, folder, file name
    pytest.param(
        {"data/DATA-900-a.yaml": VALID_RULE, "data/DATA-900-b.yaml": VALID_RULE},
        [Refusal("rules/data/DATA-900-b.yaml", 1, "DATA-900", "id",
                 "duplicate rule id, also in rules/data/DATA-900-a.yaml")],
        id="duplicate-rule-id"),
    pytest.param(
        {"data/CACHE-900-test.yaml": edited(("id: DATA-900", "id: CACHE-900"))},
        [Refusal("rules/data/CACHE-900-test.yaml", 1, "CACHE-900", "id",
                 "ids in area 'data' start with DATA-")],
        id="id-prefix-not-the-areas"),
    pytest.param(
        {"dta/DATA-900-test.yaml": edited(("area: data", "area: dta"))},
        [Refusal("rules/dta/DATA-900-test.yaml", 3, "DATA-900", "area", "unknown area 'dta'",
                 "did you mean 'data'?")],
        id="unknown-area"),
    pytest.param(
        {"data/DATA-901-test.yaml": VALID_RULE},
        [Refusal("rules/data/DATA-901-test.yaml", 1, "DATA-900", "id",
                 "file name does not match the rule id", "name it DATA-900-<slug>.yaml")],
        id="file-named-for-another-id"),
    pytest.param(
        {"data/DATA-900-Test.yaml": VALID_RULE},
        [Refusal("rules/data/DATA-900-Test.yaml", 1, "DATA-900", "id",
                 "file name does not match the rule id", "name it DATA-900-<slug>.yaml")],
        id="file-slug-not-lower-case"),
    # -- clause operands of the wrong type
    pytest.param(
        {RULE: edited(("{fact: data.model, equals: key_value}",
                       "{fact: data.needs_joins, equals: maybe}"))},
        [Refusal(FILE, 7, "DATA-900", "when[0].equals", "'maybe' is not true/false",
                 "this fact is a boolean")],
        id="boolean-fact-given-a-word"),
    pytest.param(
        {RULE: edited(("{fact: data.model, equals: key_value}",
                       "{fact: data.reads_per_second, equals: many}"))},
        [Refusal(FILE, 7, "DATA-900", "when[0].equals", "'many' is not a number",
                 "this fact is numeric")],
        id="numeric-fact-given-a-word"),
    pytest.param(
        {RULE: edited(("{fact: data.model, equals: key_value}",
                       "{fact: data.reads_per_second, equals: true}"))},
        [Refusal(FILE, 7, "DATA-900", "when[0].equals", "True is not a number",
                 "this fact is numeric")],
        id="numeric-fact-given-a-boolean"),
    # -- schema rules of a rule, a clause and a citation (models/rule.py)
    pytest.param(
        {RULE: edited((REJECTS, REJECTS + WARN))},
        [Refusal(FILE, 1, "DATA-900", "(document)",
                 "value error, a rule has one purpose, found recommend, warn; allowed: one of "
                 "recommend, warn, capacity, conflict, review, or 'connects' alone")],
        id="two-purposes"),
    pytest.param(
        {RULE: edited((RECOMMEND + REJECTS,
                       WARN + "reroutes:\n  - {from: app_compute, to: primary_datastore}\n"))},
        [Refusal(FILE, 1, "DATA-900", "(document)",
                 "value error, only a 'recommend' rule can reroute edges through its component")],
        id="warning-rule-reroutes"),
    pytest.param(
        {RULE: edited((RECOMMEND, WARN))},
        [Refusal(FILE, 1, "DATA-900", "(document)",
                 "value error, a 'warn' rule cannot add edges or reject components")],
        id="warning-rule-rejects"),
    pytest.param(
        {RULE: edited((RECOMMEND, ""))},
        [Refusal(FILE, 1, "DATA-900", "(document)",
                 "value error, a rule needs 'recommend' (fills a slot), 'warn' (a broken "
                 "limit), 'capacity', 'conflict', 'review', or 'connects' alone (wires chosen "
                 "components)")],
        id="no-purpose"),
    pytest.param(
        {RULE: edited((RECOMMEND, "connects:\n  - {from: app_compute, to: primary_datastore, "
                                  "kind: read_write, label: SQL}\n"))},
        [Refusal(FILE, 1, "DATA-900", "(document)",
                 "value error, a wiring rule (connects only) cannot reject components")],
        id="wiring-rule-rejects"),
    pytest.param(
        {RULE: edited((RECOMMEND + REJECTS, "connects:\n  - {from: app_compute, to: self, "
                                            "kind: read_write, label: SQL}\n"))},
        [Refusal(FILE, 1, "DATA-900", "(document)",
                 "value error, a wiring rule has no slot of its own: 'self' is not allowed")],
        id="wiring-rule-connects-self"),
    pytest.param(
        {RULE: edited(("equals: key_value}", "equals: key_value, not_equals: relational}"))},
        [Refusal(FILE, 7, "DATA-900", "when.0",
                 "value error, a clause needs exactly one operator, found 2 (equals, "
                 "not_equals); allowed: equals, not_equals, one_of, gt, gte, lt, lte, contains, "
                 "exists")],
        id="clause-with-two-operators"),
    pytest.param(
        {RULE: edited(('{source: seed-000, quote: "Key-value and document database"}',
                       "{source: seed-000}"))},
        [Refusal(FILE, 15, "DATA-900", "citations.0",
                 "value error, a citation needs a quote (seed text) or a note (what the page "
                 "says)")],
        id="citation-without-quote-or-note"),
    pytest.param(
        {RULE: edited(("{data: {model: relational}}", "{data: {model: 2024-01-01}}"))},
        [Refusal(FILE, 20, "DATA-900", "examples",
                 "Object of type date is not JSON serializable")],
        id="example-value-that-is-not-json"),
    # -- capacity, conflict and review rules
    pytest.param(
        {RULE: edited(("reads * 2", "reads * 2 + writes"), text=CAPACITY_RULE)},
        [Refusal(FILE, 11, "DATA-900", "capacity.formula", "'writes' is not a declared input",
                 "declared: reads")],
        id="capacity-formula-reads-undeclared-input"),
    pytest.param(
        {RULE: edited(("    reads: data.reads_per_second\n",
                       "    reads: data.reads_per_second\n    spare: data.reads_per_second\n"),
                      text=CAPACITY_RULE)},
        [Refusal(FILE, 14, "DATA-900", "capacity.inputs.spare",
                 "declared but not used in the formula")],
        id="capacity-input-declared-but-unused"),
    pytest.param(
        {RULE: edited(("reads: data.reads_per_second", "reads: data.reads_per_secnd"),
                      text=CAPACITY_RULE)},
        [Refusal(FILE, 13, "DATA-900", "capacity.inputs.reads",
                 "unknown fact 'data.reads_per_secnd'", "did you mean 'data.reads_per_second'?")],
        id="capacity-input-unknown-fact"),
    pytest.param(
        {RULE: edited(("reads: data.reads_per_second", "reads: data.model"),
                      text=CAPACITY_RULE)},
        [Refusal(FILE, 13, "DATA-900", "capacity.inputs.reads", "'data.model' is not a number")],
        id="capacity-input-not-a-number"),
    pytest.param(
        {RULE: edited(("reads: data.reads_per_second", "reads: data.size_gb"),
                      text=CAPACITY_RULE)},
        [Refusal(FILE, 13, "DATA-900", "capacity.inputs.reads",
                 "'data.size_gb' may be unknown when the rule fires",
                 "add a clause on it to 'when', e.g. {fact: data.size_gb, exists: true}")],
        id="capacity-input-not-tested-by-when"),
    pytest.param(
        {RULE: edited(("exists: true", "exists: false"), text=CAPACITY_RULE)},
        [Refusal(FILE, 13, "DATA-900", "capacity.inputs.reads",
                 "'data.reads_per_second' may be unknown when the rule fires",
                 "add a clause on it to 'when', e.g. {fact: data.reads_per_second, exists: "
                 "true}")],
        id="capacity-input-tested-only-as-absent"),
    pytest.param(
        {RULE: edited(("reads * 2", "reads ** 2"), text=CAPACITY_RULE)},
        [Refusal(FILE, 11, "DATA-900", "capacity.formula",
                 "only + - * / are allowed as operators")],
        id="capacity-formula-not-arithmetic"),
    pytest.param(
        {RULE: edited(("[availability.active_active], wants", "[availability.multi_region], wants"),
                      text=CONFLICT_RULE)},
        [Refusal(FILE, 12, "DATA-900", "conflict.sides[1].facts",
                 "'availability.multi_region' is not tested by this rule's 'when'",
                 "a side names requirements the rule has matched")],
        id="conflict-side-names-untested-fact"),
    pytest.param(
        {RULE: edited(("  resolution: Relax one of the two.\n",
                       "  resolution: Relax one of the two.\n  involves: [DATA-999]\n"),
                      text=CONFLICT_RULE)},
        [Refusal(FILE, 15, "DATA-900", "conflict.involves[0]", "unknown rule 'DATA-999'",
                 "did you mean 'DATA-900'?")],
        id="conflict-involves-unknown-rule"),
    pytest.param(
        {RULE: REVIEW_RULE.replace("pillar: reliability", "pillar: resilience")},
        [Refusal(FILE, 8, "DATA-900", "review.pillar", "unknown pillar 'resilience'",
                 "define it in rules/_pillars.yaml")],
        id="review-unknown-pillar"),
    # -- exceptions (unless)
    pytest.param(
        {RULE: edited(("rationale:", "unless:\n  - {fact: data.modell, equals: document}\n"
                                     "not_when: Documents.\nrationale:"))},
        [Refusal(FILE, 14, "DATA-900", "unless[0].fact", "unknown fact 'data.modell'",
                 "did you mean 'data.model'?")],
        id="exception-unknown-fact"),
    pytest.param(
        {RULE: edited(("rationale:", "unless:\n  - {fact: data.model, equals: key_value}\n"
                                     "not_when: Documents.\nrationale:"))},
        [Refusal(FILE, 14, "DATA-900", "unless[0]",
                 "repeats a 'when' clause on data.model, so the rule never fires",
                 "remove the exception or the clause")],
        id="exception-repeats-a-condition"),
    pytest.param(
        {RULE: edited(("rationale:", "unless:\n  - {fact: data.model, equals: document}\n"
                                     "not_when: Documents.\nrationale:"))},
        [Refusal(FILE, 14, "DATA-900", "unless[0]",
                 "data.model is already required to equal 'key_value', so this exception can "
                 "never hold", "remove the exception or the clause")],
        id="exception-that-can-never-hold"),
    pytest.param(
        {RULE: edited(("rationale:", "unless:\n  - {fact: data.consistency, equals: strong}\n"
                                     "rationale:"))},
        [Refusal(FILE, 13, "DATA-900", "unless",
                 "exceptions need 'not_when': the prose the report shows for them",
                 "add not_when: the case in which the advice does not hold")],
        id="exception-without-prose"),
]

REGISTRY_CASES = [
    *(pytest.param({name: None}, [Refusal(f"rules/{name}", None, "-", key,
                                          "registry file is missing")],
                   id=f"missing-{name}")
      for name, key in zip(REGISTRIES, ("areas", "components", "slots", "sources"),
                           strict=True)),
    pytest.param(
        {"_areas.yaml": "area:\n  - {id: data, prefix: DATA, title: Data stores}\n"},
        [Refusal("rules/_areas.yaml", 1, "-", "(document)", "expected one top-level key 'areas'")],
        id="registry-with-misspelt-top-level-key"),
    pytest.param(
        {"_areas.yaml": "areas:\n  - {id: data, prefix: DATA, title: Data stores}\nslots: []\n"},
        [Refusal("rules/_areas.yaml", 1, "-", "(document)", "expected one top-level key 'areas'")],
        id="registry-with-a-second-top-level-key"),
    pytest.param(
        {"_areas.yaml": "- {id: data, prefix: DATA, title: Data stores}\n"},
        [Refusal("rules/_areas.yaml", 1, "-", "(document)", "expected one top-level key 'areas'")],
        id="registry-that-is-a-bare-list"),
    pytest.param(
        {"_areas.yaml": "# areas\nareas:\n  data: {prefix: DATA, title: Data stores}\n"},
        [Refusal("rules/_areas.yaml", 2, "-", "areas", "must be a list")],
        id="registry-that-is-not-a-list"),
    pytest.param(
        {"_areas.yaml": "areas:\n  - {id: data, prefix: DATA, title: Data stores}\n"
                        "  - {id: data, prefix: DAT, title: Data again}\n"},
        [Refusal("rules/_areas.yaml", 3, "data", "id", "duplicate id")],
        id="registry-duplicate-id"),
    pytest.param(
        {"_components.yaml": "components:\n  - {id: web, service: Web, label: Web server, "
                             "category: compute, resilience: multi_az}\n"},
        [Refusal("rules/_components.yaml", 2, "web", "components.0.resilience",
                 "input should be 'regional', 'configurable', 'single_az', 'external' or "
                 "'not_applicable'")],
        id="component-with-unknown-resilience"),
    pytest.param(
        {"_sources.yaml": "sources:\n  - {id: seed-000, kind: seed, title: Seed catalogue}\n"},
        [Refusal("rules/_sources.yaml", 2, "seed-000", "sources.0",
                 "value error, a seed source needs 'file' (the seed file name)")],
        id="seed-source-without-file"),
    pytest.param(
        {"_sources.yaml": "sources:\n  - {id: aws-page, kind: aws_docs, title: A page}\n"},
        [Refusal("rules/_sources.yaml", 2, "aws-page", "sources.0",
                 # Only the message's first letter is lowered: "AWS" keeps its case.
                 "value error, an AWS documentation source needs 'url'")],
        id="documentation-source-without-url"),
    pytest.param(
        {"_slots.yaml": SLOTS_HEAD + "  - id: cache\n    title: Cache\n"
                        "    description: Keeps hot reads close.\n    relevant_when_any:\n"
                        "      - {fact: data.needs_joins, equals: maybe}\n"},
        [Refusal("rules/_slots.yaml", None, "cache", "relevant_when_any[0].equals",
                 "'maybe' is not true/false", "this fact is a boolean")],
        id="slot-relevance-clause-wrong-type"),
    pytest.param(
        {"_slots.yaml": SLOTS_HEAD.replace(", entry: true", "")},
        [Refusal("rules/_slots.yaml", None, "-", "entry", "no slot is marked 'entry: true'",
                 "the graph needs a client entry")],
        id="no-entry-slot"),
]


def _rule_set(tmp_path: Path, files: Files) -> Path:
    root = minimal_rules(tmp_path, {name: text for name, text in files.items() if text is not None})
    for name, text in files.items():
        if text is None:
            (root / name).unlink()
    return root


def _refusals(root: Path) -> list[LoadProblem]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(root, use_cache=False)
    return list(caught.value.problems)


def _as_expected(problems: list[LoadProblem], expected: list[Refusal]) -> list[Refusal]:
    """The problems as ``Refusal``s, the line left out where the expectation leaves it out."""
    lines: list[int | None] = [want.line for want in expected]
    lines += [0] * (len(problems) - len(lines))
    return [Refusal(p.file, p.line if line is not None else None, p.rule_id, p.field, p.problem,
                    p.hint) for p, line in zip(problems, lines, strict=False)]


def test_the_unchanged_rule_sets_load(tmp_path: Path) -> None:
    for index, text in enumerate((VALID_RULE, CAPACITY_RULE, CONFLICT_RULE, REVIEW_RULE)):
        files: Files = {RULE: text}
        if text is REVIEW_RULE:
            files["_pillars.yaml"] = ("pillars:\n  - id: reliability\n    title: Reliability\n"
                                      "    principles: [Automatically recover from failure]\n"
                                      "    citations: [{source: seed-000, quote: \"Reliability\"}]\n")
        (tmp_path / str(index)).mkdir()
        catalog = load_catalog(_rule_set(tmp_path / str(index), files), use_cache=False)
        assert [rule.id for rule in catalog.rules] == ["DATA-900"]
    (tmp_path / "empty").mkdir()
    empty = _rule_set(tmp_path / "empty", {"_slots.yaml": SLOTS_HEAD})
    assert load_catalog(empty, use_cache=False).rules == ()


@pytest.mark.parametrize(("files", "expected"), RULE_CASES)
def test_a_rule_file_the_catalogue_refuses(
    tmp_path: Path, files: Files, expected: list[Refusal]
) -> None:
    problems = _refusals(_rule_set(tmp_path, files))
    assert _as_expected(problems, expected) == expected


@pytest.mark.parametrize(("files", "expected"), REGISTRY_CASES)
def test_a_registry_the_catalogue_refuses(
    tmp_path: Path, files: Files, expected: list[Refusal]
) -> None:
    # No rule files, and slots whose relevance reads no decision: a broken registry would
    # otherwise also fail the rules and the slot clauses that name what it defines.
    problems = _refusals(_rule_set(tmp_path, {"_slots.yaml": SLOTS_HEAD, **files}))
    assert _as_expected(problems, expected) == expected


def _chain(links: int) -> Files:
    """``links`` rules, each filling its own slot and reading the decision of the one before."""
    # Slots no bundled slot's relevance clause reads as a decision, which would then need
    # the components its rules can place there.
    slots = ["primary_datastore", "object_store", "connection_pool", "read_replicas",
             "web_tier", "static_content", "message_router", "dead_letter_queue",
             "downstream_systems", "web_firewall", "database_failover", "replica_scaling",
             "cache_seed"]
    files: Files = {}
    for index in range(links):
        clause = ("{fact: data.model, equals: key_value}" if index == 0 else
                  f"{{fact: decision.{slots[index - 1]}, equals: dynamodb}}")
        rule_id = f"DATA-{900 + index}"
        files[f"data/{rule_id}-chain.yaml"] = edited(
            ("id: DATA-900", f"id: {rule_id}"),
            ("{fact: data.model, equals: key_value}", clause),
            ("slot: primary_datastore", f"slot: {slots[index]}"),
            (REJECTS, ""))
    return files


def test_a_decision_chain_as_deep_as_the_limit_loads(tmp_path: Path) -> None:
    catalog = load_catalog(_rule_set(tmp_path, _chain(MAX_CHAIN_DEPTH)), use_cache=False)
    assert len(catalog.strata) == MAX_CHAIN_DEPTH


def test_a_decision_chain_deeper_than_the_limit_is_refused(tmp_path: Path) -> None:
    problems = _refusals(_rule_set(tmp_path, _chain(MAX_CHAIN_DEPTH + 1)))
    expected = [Refusal("rules", None, "-", "when",
                        f"decision chain is {MAX_CHAIN_DEPTH + 1} rounds deep",
                        f"at most {MAX_CHAIN_DEPTH}")]
    assert _as_expected(problems, expected) == expected
