"""Fuzzing the rule loader: mutated copies of real rule files are either loaded or refused with
specific problems (file, line, field), never a crash, and `advisor rules lint` exits 0 or 2
without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor.catalog import CatalogError, load_catalog
from advisor.cli import main
from advisor.paths import rules_dir
from support import bounded, minimal_rules

# Rules of several purposes: a recommendation, a capacity formula, a conflict and a review.
SOURCES = sorted(
    path for pattern in ("DATA-001-*.yaml", "CAP-001-*.yaml", "CONF-001-*.yaml", "WA-001-*.yaml",
                         "MSG-008-*.yaml")
    for path in rules_dir().rglob(pattern)
)
_NOISE = ["", ":", "- ", "  ", "{", "}", "[", "]", "'", '"', "&a", "*a", "!!python/object:os.system",
          "null", "~", "1e999", "-1", "true", "yes", "\t", "%", "@", "`", "\x00", "é", "id: X"]


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, str]:
    """A rule file with a few random edits: lines dropped, duplicated, swapped or re-indented,
    text inserted or replaced, the file cut short."""
    source = draw(st.sampled_from(SOURCES))
    lines = source.read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "duplicate", "swap", "indent", "insert",
                                       "replace", "truncate", "cut"]))
        if action == "drop":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "swap" and index + 1 < len(lines):
            lines[index], lines[index + 1] = lines[index + 1], lines[index]
        elif action == "indent":
            lines[index] = draw(st.sampled_from(["", " ", "    ", "\t"])) + lines[index].lstrip()
        elif action == "insert":
            position = draw(st.integers(0, len(lines[index])))
            noise = draw(st.sampled_from(_NOISE))
            lines[index] = lines[index][:position] + noise + lines[index][position:]
        elif action == "replace":
            key = lines[index].split(":", 1)[0]
            lines[index] = f"{key}: {draw(st.sampled_from(_NOISE))}"
        elif action == "truncate":
            lines[index] = lines[index][: draw(st.integers(0, len(lines[index])))]
        else:
            lines = lines[:index]
    relative = source.relative_to(rules_dir()).as_posix()
    return relative, "\n".join(lines) + "\n"


@bounded(60)
@given(mutation=_mutated())
def test_a_mutated_rule_file_loads_or_is_refused_with_located_problems(
    tmp_path_factory: pytest.TempPathFactory, mutation: tuple[str, str]
) -> None:
    relative, text = mutation
    root = minimal_rules(tmp_path_factory.mktemp("fuzz"), {relative: text})
    try:
        load_catalog(root, use_cache=False)
    except CatalogError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file and problem.line >= 1 and problem.problem, problem


@bounded(15)
@given(mutation=_mutated())
def test_lint_of_a_mutated_rule_file_exits_0_or_2_without_a_traceback(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
    mutation: tuple[str, str]
) -> None:
    relative, text = mutation
    root = minimal_rules(tmp_path_factory.mktemp("fuzz"), {relative: text})
    code = main(["rules", "lint", "--rules", str(root)])
    captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    assert "Traceback" not in captured.err
    if code == 2:
        assert captured.err.startswith("advisor: ")


def test_the_fuzzed_sources_are_real_rule_files() -> None:
    assert len(SOURCES) == 5
    assert all(Path(path).is_file() for path in SOURCES)
