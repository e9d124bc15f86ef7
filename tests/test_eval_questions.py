"""The evaluation questions stay valid as the schema and the vocabulary change, and keep the
shape the accuracy figures rely on. Which answers are right is bench/accuracy.py's business."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

from advisor.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent


def _accuracy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("accuracy", ROOT / "bench" / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("accuracy", module)
    spec.loader.exec_module(module)
    return module


def test_every_question_is_valid_against_the_schema_and_the_vocabulary(catalog: Catalog) -> None:
    accuracy = _accuracy()
    paths = sorted(accuracy.QUESTIONS.rglob("*.yaml"))
    loaded, problems = accuracy.load(paths, set(catalog.components))
    assert problems == []
    assert len(loaded) == len(paths) >= 100


def test_the_set_covers_every_category_and_mostly_existing_systems(catalog: Catalog) -> None:
    accuracy = _accuracy()
    loaded, _ = accuracy.load(sorted(accuracy.QUESTIONS.rglob("*.yaml")), set(catalog.components))
    per_category = Counter(item.question.category for item in loaded)
    assert set(per_category) == set(accuracy.CATEGORIES)
    assert min(per_category.values()) >= 8
    assert 2 * sum(item.question.brownfield for item in loaded) >= len(loaded)


def test_the_split_is_fixed_by_the_id() -> None:
    accuracy = _accuracy()
    ids = [path.stem for path in accuracy.QUESTIONS.rglob("*.yaml")]
    splits = [accuracy.split_of(question_id) for question_id in ids]
    # The rule eval/README.md states: SHA-256 of the id, first eight hex digits, mod 5 in {0, 1}.
    documented = ["holdout" if int(hashlib.sha256(question_id.encode()).hexdigest()[:8], 16) % 5
                  in (0, 1) else "dev" for question_id in ids]
    assert splits == documented
    assert splits.count("holdout") >= 50 and splits.count("dev") >= 50
    assert accuracy.exposed_ids() <= {path.stem for path in accuracy.QUESTIONS.rglob("*.yaml")
                                      if accuracy.split_of(path.stem) == "holdout"}
