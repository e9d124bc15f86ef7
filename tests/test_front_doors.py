"""The front doors agree: for the same requirements, `advisor recommend`, the questionnaire
(`advisor ask`), the HTTP API (a real `advisor serve` process) and the design-doc draft
(`advisor doc --adr-dir`) name the same decisions, each by the same rule."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from support import example_files, serving

ADVISOR = [sys.executable, "-m", "advisor"]
# A spread of shapes: web tiers, serverless, messaging, analytics and a multi-round chain.
EXAMPLES = [path for path in example_files()
            if path.stem in {"three-tier-web-app", "serverless-api", "scn-06c-priority-broker",
                             "scn-08b-etl-load-warehouse", "scn-01c-big-traffic-day-kubernetes"}]

Decisions = dict[str, tuple[str, str]]


def _decisions(report: dict[str, Any]) -> Decisions:
    return {item["slot"]: (item["component"], item["rule_id"]) for item in report["decisions"]}


def _run(*arguments: str) -> str:
    done = subprocess.run([*ADVISOR, *arguments], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("front-doors") / "server.log") as url:
        yield url


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_every_front_door_gives_the_same_decisions(
    server: str, example: Path, tmp_path: Path
) -> None:
    expected = _decisions(json.loads(_run("recommend", str(example), "--format", "json")))
    assert expected, "an example with no decision proves nothing"

    asked = _decisions(json.loads(_run("ask", "--answers", str(example), "--no-input",
                                       "--format", "json")))

    document = yaml.safe_load(example.read_text(encoding="utf-8"))
    response = httpx.post(f"{server}/v1/recommendations", json=document, timeout=60)
    assert response.status_code == 200, response.text
    served = _decisions(response.json())

    adr_dir = tmp_path / "adr"
    _run("doc", str(example), "-o", str(tmp_path / "design.md"), "--adr-dir", str(adr_dir))
    drafted: Decisions = {}
    for record in sorted(adr_dir.glob("*.md")):
        meta = yaml.safe_load(record.read_text(encoding="utf-8").split("---\n")[1])
        # The deciding rule is the one named in the decision id (<rule>@<slot>).
        drafted[meta["slot"]] = (meta["component"], meta["decision"].split("@")[0])
        assert meta["decision"].split("@")[0] in meta["rule_ids"]

    assert asked == expected
    assert served == expected
    assert drafted == expected
