"""Clause semantics in plain Python: the contract every backend must reproduce exactly."""

from __future__ import annotations

from advisor.facts import Facts
from advisor.models.rule import Operator


def holds(fact: str, operator: Operator, operand: object, facts: Facts) -> bool:
    """Whether ``fact <operator> operand`` holds; an absent fact fails all but ``exists: false``."""
    if operator is Operator.exists:
        return (fact in facts) is bool(operand)
    if fact not in facts:
        return False
    value = facts[fact]
    if operator is Operator.equals:
        return same_value(value, operand)
    if operator is Operator.not_equals:
        return not same_value(value, operand)
    if operator is Operator.one_of:
        assert isinstance(operand, tuple | list)
        return any(same_value(value, item) for item in operand)
    if operator is Operator.contains:
        return isinstance(value, tuple) and operand in value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    assert isinstance(operand, int | float)
    if operator is Operator.gt:
        return value > operand
    if operator is Operator.gte:
        return value >= operand
    if operator is Operator.lt:
        return value < operand
    if operator is Operator.lte:
        return value <= operand
    raise ValueError(f"unknown operator {operator}")  # pragma: no cover


def needs_fact(operator: Operator, operand: object) -> bool:
    """Whether a clause can only hold when its fact is given (all but ``exists: false``)."""
    return not (operator is Operator.exists and operand is False)


def same_value(value: object, operand: object) -> bool:
    """Equality as clauses see it: booleans never equal numbers (true is not 1)."""
    # The catalog only allows bool operands on bool facts.
    if isinstance(value, bool) or isinstance(operand, bool):
        return isinstance(value, bool) and isinstance(operand, bool) and value is operand
    return value == operand
