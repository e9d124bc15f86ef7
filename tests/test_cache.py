"""The catalog cache is an optimisation that can never serve stale or invalid knowledge."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.catalog import CatalogError, load_catalog
from support import VALID_RULE, minimal_rules


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(directory))
    return directory


def test_second_load_comes_from_the_cache(tmp_path: Path, private_cache: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    first = load_catalog(root)
    assert len(list(private_cache.glob("catalog-*.pickle"))) == 1
    second = load_catalog(root)
    assert second.digest == first.digest
    assert [rule.model_dump() for rule in second.rules] == [r.model_dump() for r in first.rules]
    assert second.clauses("DATA-900") == first.clauses("DATA-900")


def test_an_edited_rule_file_is_never_served_from_the_cache(tmp_path: Path, private_cache: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    load_catalog(root)
    path = root / "data" / "DATA-900-test.yaml"
    path.write_text(VALID_RULE.replace("priority: 50", "priority: 55"))
    assert load_catalog(root).rule("DATA-900").priority == 55
    path.write_text(VALID_RULE.replace("fact: data.model,", "fact: data.modle,"))
    with pytest.raises(CatalogError):
        load_catalog(root)


def test_a_corrupt_entry_is_recomputed(tmp_path: Path, private_cache: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    load_catalog(root)
    (entry,) = private_cache.glob("catalog-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert load_catalog(root).rule("DATA-900").id == "DATA-900"


def test_caching_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_CACHE_DIR", "off")
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    assert load_catalog(root).rule("DATA-900").id == "DATA-900"
