"""Reports share pieces through caches, so nothing reachable from a report may change in place:
every attempt is refused, and the next report for the same input is byte-identical."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from advisor.inputs import read_requirements
from advisor.models.frozen import FrozenDict
from advisor.pipeline import Advisor
from advisor.render import render_json, render_markdown
from support import example_files


def _try_every_change(item: Any, path: str, seen: set[int], refused: list[str]) -> None:
    """Attempt every in-place change on ``item`` and everything under it; fail on one that
    succeeds or on a mutable container."""
    if id(item) in seen or isinstance(item, str | int | float | bool | type(None)):
        return
    seen.add(id(item))
    if isinstance(item, BaseModel):
        for name in type(item).model_fields:
            with pytest.raises(ValidationError):
                setattr(item, name, None)
            refused.append(f"{path}.{name}")
            _try_every_change(getattr(item, name), f"{path}.{name}", seen, refused)
    elif isinstance(item, dict):
        assert isinstance(item, FrozenDict), f"{path} is a mutable dict"
        for change in (lambda: item.__setitem__("added", 1), lambda: item.update(added=1),
                       lambda: item.pop(next(iter(item), "x")), item.clear,
                       lambda: item.setdefault("added", 1), item.popitem):
            with pytest.raises(TypeError):
                change()
        refused.append(path)
        for key, value in item.items():
            _try_every_change(value, f"{path}[{key!r}]", seen, refused)
    elif isinstance(item, tuple):
        for index, value in enumerate(item):
            _try_every_change(value, f"{path}[{index}]", seen, refused)
    else:
        pytest.fail(f"{path} holds a mutable {type(item).__name__}")


@pytest.mark.parametrize("path", example_files()[:6], ids=lambda path: path.stem)
def test_nothing_reachable_from_a_report_changes_and_the_next_report_is_unchanged(
    path: Any, advisors: dict[str, Advisor],
) -> None:
    advisor = advisors["durable"]
    requirements = read_requirements(str(path))
    first = advisor.recommend(requirements, sensitivity=True)
    markdown, json_text = render_markdown(first), render_json(first)
    refused: list[str] = []
    _try_every_change(first, "report", set(), refused)
    assert len(refused) > 100  # the walk reached deep into the report
    again = advisor.recommend(requirements, sensitivity=True)
    assert render_markdown(again) == markdown
    assert render_json(again) == json_text


def test_frozen_dicts_survive_pickling_and_stay_frozen() -> None:
    frozen = FrozenDict({"a": (1, 2), "b": FrozenDict({"c": "d"})})
    copy = pickle.loads(pickle.dumps(frozen))
    assert copy == frozen and isinstance(copy, FrozenDict) and isinstance(copy["b"], FrozenDict)
    with pytest.raises(TypeError):
        copy["a"] = 1
