"""The README's examples stay true: its input sample is valid and its commands exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from advisor.cli import build_parser
from advisor.inputs import parse_requirements
from advisor.pipeline import Advisor

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_input_sample_is_valid_and_recommends(durable: Advisor) -> None:
    sample = README.split("### Input", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    report = durable.recommend(parse_requirements(yaml.safe_load(sample)))
    assert report.decisions and report.capacity and report.review


def test_readme_usage_commands_parse() -> None:
    usage = README.split("## Usage", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    parser = build_parser()
    for line in usage.strip().splitlines():
        command = line.split("#", 1)[0].split()
        if command and command[0] == "advisor":
            arguments = [word.replace("FILE", "examples/serverless-api.yaml") for word in command[1:]]
            parser.parse_args(arguments)


def test_readme_python_api_example_runs(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = README.split("### Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    exec(compile(code, "README.md (Python API)", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed and all(" -> " in line for line in printed)
