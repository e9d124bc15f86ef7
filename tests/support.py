"""Helpers shared by test modules."""

from __future__ import annotations

import shutil
from pathlib import Path

from advisor.paths import examples_dir, rules_dir

REGISTRIES = ("_areas.yaml", "_components.yaml", "_slots.yaml", "_sources.yaml")


def example_files() -> list[Path]:
    """The bundled example requirement files."""
    return sorted(examples_dir().glob("*.yaml"))


def minimal_rules(tmp_path: Path, rules: dict[str, str]) -> Path:
    """A rules directory with the bundled registries and only the given rule files."""
    root = tmp_path / "rules"
    root.mkdir()
    for name in REGISTRIES:
        shutil.copy(rules_dir() / name, root / name)
    for relative, text in rules.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


VALID_RULE = """\
id: DATA-900
title: Test rule that recommends DynamoDB for key-value data
area: data
strength: moderate
priority: 50
when:
  - {fact: data.model, equals: key_value}
recommend:
  slot: primary_datastore
  component: dynamodb
rejects:
  - {component: aurora, because: A relational engine is not needed for key lookups.}
rationale: Key-value access by a known key is what DynamoDB serves at any scale.
citations:
  - {source: seed-000, quote: "Key-value and document database"}
examples:
  fires:
    - {name: kv, requirements: {data: {model: key_value}}}
  silent:
    - {name: relational, requirements: {data: {model: relational}}}
"""
