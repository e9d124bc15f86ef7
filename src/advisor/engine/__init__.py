"""Rule engine backends behind one protocol."""

from __future__ import annotations

from advisor.engine.base import CompiledRules, RuleEngine

ENGINE_NAMES = ("durable", "python")


def make_engine(name: str, rules: CompiledRules) -> RuleEngine:
    """The named backend compiled over ``rules`` (ValueError for an unknown name)."""
    if name == "python":
        from advisor.engine.reference import ReferenceEngine

        return ReferenceEngine(rules)
    if name == "durable":
        from advisor.engine.durable import DurableEngine

        return DurableEngine(rules)
    raise ValueError(f"unknown engine '{name}' (allowed: {', '.join(ENGINE_NAMES)})")
