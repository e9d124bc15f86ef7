"""JSON reports are written by pydantic's serializer; they must be the same bytes the standard
library writes for the same data, so switching encoders never changes a report."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from advisor.catalog import Catalog
from advisor.inputs import parse_requirements, read_requirements
from advisor.models.report import Report
from advisor.pipeline import Advisor
from advisor.render import compact_json, render_json
from advisor.sampling import random_profiles
from support import example_files


def _standard(report: Report) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def _standard_compact(report: Report, extra: dict[str, str]) -> bytes:
    # What starlette's JSONResponse writes for the HTTP API's body.
    return json.dumps(report.model_dump(mode="json") | extra, ensure_ascii=False,
                      allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


_EXTRA = {"markdown": "# Z\u00fcrich \u2013 \"q\" \\ \t\n", "html": "<p>\u6771\u4eac</p>\n"}


@pytest.mark.parametrize("path", example_files(), ids=lambda path: path.stem)
def test_an_example_report_is_the_bytes_the_standard_library_writes(
        reference: Advisor, path: Path) -> None:
    report = reference.recommend(read_requirements(path))
    assert render_json(report) == _standard(report)
    assert compact_json(report, _EXTRA) == _standard_compact(report, _EXTRA)
    assert compact_json(report) == _standard_compact(report, {})


def test_generated_reports_are_the_bytes_the_standard_library_writes(
        catalog: Catalog, durable: Advisor) -> None:
    # Generated profiles reach the floats, non-ASCII names and empty sections examples do not.
    differing = []
    for index, document in enumerate(random_profiles(random.Random(20261208), catalog, 300)):
        document.setdefault("workload", {})["name"] = f"Z\u00fcrich \u2013 \u6771\u4eac #{index} \"q\" \\ \t"
        report = durable.recommend(parse_requirements(document))
        if (render_json(report) != _standard(report)
                or compact_json(report, _EXTRA) != _standard_compact(report, _EXTRA)):
            differing.append(index)
    assert differing == []
