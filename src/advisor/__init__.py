"""advisor: an AWS architecture recommended from stated requirements, every decision justified.

Python API: ``from advisor import recommend``; see ``advisor.api``. The name is resolved on
first use so that ``import advisor`` (and so the command line) does not load the rule engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.api import recommend

__all__ = ["recommend"]


def __getattr__(name: str) -> Any:
    if name == "recommend":
        from advisor.api import recommend

        return recommend
    raise AttributeError(f"module 'advisor' has no attribute '{name}'")
