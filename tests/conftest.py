"""Shared fixtures: one loaded catalog and one engine per backend for the whole session.

durable-rules Hosts can never be freed (docs/engine.md), so tests share a single Advisor per
backend instead of building one per test.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from advisor.catalog import Catalog, load_catalog
from advisor.paths import rules_dir
from advisor.pipeline import Advisor

ROOT = Path(__file__).resolve().parent.parent

# Tests (and the processes they start) use a private, empty cache, never the user's.
os.environ["ADVISOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="advisor-test-cache-")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/* from the current output (review the diff before committing)",
    )


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(rules_dir())


@pytest.fixture(scope="session")
def advisors(catalog: Catalog) -> dict[str, Advisor]:
    return {name: Advisor(engine=name, catalog=catalog) for name in ("python", "durable")}


@pytest.fixture(scope="session")
def reference(advisors: dict[str, Advisor]) -> Advisor:
    return advisors["python"]


@pytest.fixture(scope="session")
def durable(advisors: dict[str, Advisor]) -> Advisor:
    return advisors["durable"]
