"""The Python API: ``from advisor import recommend``.

One ``Advisor`` per engine is built on first use and reused for the life of the process
(compiling the rules costs far more than one recommendation; durable-rules hosts are never freed).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from advisor.inputs import parse_requirements, read_requirements
from advisor.models.report import Report
from advisor.models.requirements import Requirements
from advisor.pipeline import Advisor, AdvisorPool

_POOL = AdvisorPool()


def advisor_for(engine: str = "durable") -> Advisor:
    """The process-wide ``Advisor`` for ``engine`` over the bundled rules, built once."""
    return _POOL.get(engine)


def recommend(
    requirements: Requirements | Mapping[str, Any] | str | Path,
    *,
    engine: str = "durable",
    sensitivity: bool = True,
) -> Report:
    """The recommendation for a requirements model, a mapping, or a YAML/JSON file path; with
    ``sensitivity`` (the default) each decision says what would change it.

    Raises ``advisor.inputs.InputError`` naming the field (and, for a file, the line) when the
    requirements are invalid, and ``ValueError`` for an unknown engine.
    """
    if isinstance(requirements, Requirements):
        model = requirements
    elif isinstance(requirements, str | Path):
        model = read_requirements(str(requirements))
    elif isinstance(requirements, Mapping):
        model = parse_requirements(dict(requirements), "<requirements>")
    else:
        model = parse_requirements(requirements, "<requirements>")
    return advisor_for(engine).recommend(model, sensitivity=sensitivity)
