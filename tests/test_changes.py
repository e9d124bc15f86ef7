"""Changing one requirement changes the decision it drives, and the report says which rule
and which value made the difference."""

from __future__ import annotations

from typing import Any

import pytest

from advisor.inputs import parse_requirements
from advisor.pipeline import Advisor
from advisor.render import render

CASES = [
    pytest.param(
        {"workload": {"kind": "web_app"}, "operations": {"needs_os_access": True},
         "data": {"model": "document", "needs_joins": True, "access_patterns_known": True},
         "traffic": {"peak_rps": 50000}},
        ("data", "needs_joins", False), "primary_datastore", "data.needs_joins",
        id="joins-needed-vs-not",
    ),
    pytest.param(
        {"workload": {"kind": "messaging"}, "operations": {"prefer_serverless": True},
         "messaging": {"async_processing": True, "consumers": "one", "routing": "none"}},
        ("messaging", "consumers", "many"), "message_channel", "messaging.consumers",
        id="one-consumer-vs-many",
    ),
    pytest.param(
        {"workload": {"kind": "api"}, "operations": {"prefer_serverless": True},
         "api": {"static_ip": False, "rate_limiting": True}},
        ("api", "static_ip", True), "front_door", "api.static_ip",
        id="static-ip-not-needed-vs-needed",
    ),
]


def _with(document: dict[str, Any], change: tuple[str, str, Any]) -> dict[str, Any]:
    section, field, value = change
    changed = {name: dict(values) for name, values in document.items()}
    changed.setdefault(section, {})[field] = value
    return changed


@pytest.mark.parametrize(("document", "change", "slot", "fact"), CASES)
def test_one_changed_requirement_changes_its_decision(
    durable: Advisor, document: dict[str, Any], change: tuple[str, str, Any], slot: str, fact: str
) -> None:
    before = durable.recommend(parse_requirements(document))
    after = durable.recommend(parse_requirements(_with(document, change)))
    chosen_before = {d.slot: d for d in before.decisions}
    chosen_after = {d.slot: d for d in after.decisions}
    assert slot in chosen_before and slot in chosen_after
    assert chosen_before[slot].component != chosen_after[slot].component
    # The deciding rule on at least one side tested the changed value, and the report says so.
    for decision, report in ((chosen_before[slot], before), (chosen_after[slot], after)):
        tested = {item.fact: item.value for item in decision.evidence}
        if fact in tested:
            markdown = render(report, "md")
            assert f"`{decision.id}`" in markdown
            assert f"| `{fact}` |" in markdown
            break
    else:
        pytest.fail(f"neither deciding rule tested {fact}")
