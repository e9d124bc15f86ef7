"""Every seed-catalogue entry is encoded by rules or explicitly out of scope, with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from advisor.catalog import Catalog, CatalogError, load_catalog
from advisor.cli import main
from advisor.coverage import REQUIRED_KINDS, load_coverage
from support import VALID_RULE, minimal_rules

ROOT = Path(__file__).resolve().parent.parent
SHARED_CATALOGUE = ROOT.parent / "shared" / "seed-catalogue.yaml"
# The catalogue this coverage file was written against: 171 entries and 2 supplements.
CATALOGUE_SIZE = 173


def test_every_catalogue_entry_is_accounted_for(catalog: Catalog) -> None:
    coverage = load_coverage(catalog)
    ids = [entry.id for entry in coverage.entries]
    assert len(ids) == len(set(ids)) == CATALOGUE_SIZE
    if SHARED_CATALOGUE.is_file():  # the source catalogue sits beside a development checkout
        source = yaml.safe_load(SHARED_CATALOGUE.read_text(encoding="utf-8"))
        expected = {entry["id"]: entry["kind"] for entry in source["entries"]}
        expected |= {entry["id"]: entry["kind"] for entry in source["supplements"]}
        assert {entry.id: entry.kind for entry in coverage.entries} == expected


def test_required_kinds_are_encoded_or_out_of_scope_with_a_reason(catalog: Catalog) -> None:
    coverage = load_coverage(catalog)
    for entry in coverage.entries:
        if entry.kind in REQUIRED_KINDS and not entry.rules:
            assert entry.out_of_scope and "TODO" not in entry.out_of_scope, entry.id


def test_coverage_command_prints_table_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "coverage"]) == 0
    out = capsys.readouterr().out
    assert "| DB-14 | formula | DynamoDB provisioned capacity (RCU/WCU) sizing | encoded |" in out
    assert "| formula (required) |" in out
    assert main(["rules", "coverage", "--format", "json", "--status", "out_of_scope"]) == 0
    rows = json.loads(capsys.readouterr().out)["entries"]
    assert rows and all(row["status"] == "out of scope" and row["out_of_scope"] for row in rows)


def _coverage_dir(tmp_path: Path, body: str) -> Path:
    root = minimal_rules(tmp_path, {"data/DATA-900-valid.yaml": VALID_RULE})
    (root / "_coverage.yaml").write_text(
        "catalogue: test\nentries:\n" + body, encoding="utf-8")
    return root


@pytest.mark.parametrize(("body", "message"), [
    ('  - {id: DB-01, kind: tradeoff, topic: database, title: SQL or not, rules: [DATA-999]}\n',
     "_coverage.yaml:3: DB-01: rules[0]: unknown rule 'DATA-999'"),
    ('  - {id: DB-01, kind: tradeoff, topic: database, title: SQL or not}\n',
     "_coverage.yaml:3: DB-01: entries.0: give either 'rules'"),
    ('  - {id: DB-01, kind: tradeoff, topic: database, title: SQL or not, rules: [DATA-900]}\n'
     '  - {id: DB-01, kind: tradeoff, topic: database, title: SQL or not, rules: [DATA-900]}\n',
     "_coverage.yaml:4: DB-01: id: listed twice"),
    ('  - {id: DB-01, kind: idea, topic: database, title: SQL or not, rules: [DATA-900]}\n',
     "kind 'idea' is not one of"),
])
def test_coverage_errors_name_line_entry_and_problem(
    tmp_path: Path, body: str, message: str
) -> None:
    root = _coverage_dir(tmp_path, body)
    with pytest.raises(CatalogError) as raised:
        load_coverage(load_catalog(root, use_cache=False))
    assert message in str(raised.value)


def test_invalid_coverage_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _coverage_dir(tmp_path, "  - {id: DB-01, kind: tradeoff, topic: database, title: x}\n")
    assert main(["rules", "coverage", "--rules", str(root)]) == 2
    assert "problem(s) in the coverage file" in capsys.readouterr().err
