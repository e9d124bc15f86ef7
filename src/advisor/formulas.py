"""Capacity formulas: a small, safe arithmetic language for the ``capacity`` rules.

A formula is one Python-syntax expression over the rule's named inputs, numbers, the operators
``+ - * /`` and the functions ``ceil``, ``floor``, ``min``, ``max`` and ``round``. Nothing else
parses, so a formula can neither call arbitrary code nor read anything but its inputs.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _ceil(value: float) -> int:
    # Binary floating point turns 0.1 * 30 into 3.0000000000000004; rounding first keeps
    # ceil from adding a whole unit for representation noise.
    return math.ceil(round(value, 9))


def _floor(value: float) -> int:
    return math.floor(round(value, 9))


_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "ceil": _ceil,
    "floor": _floor,
    "min": min,
    "max": max,
    "round": round,
}
# Results are shown at this many decimal places, like input facts.
DECIMALS = 4


class FormulaError(ValueError):
    """A formula does not parse, uses something not allowed, or cannot be evaluated."""


@dataclass(frozen=True)
class Formula:
    """A parsed formula and the input names it reads."""

    text: str
    tree: ast.Expression
    names: frozenset[str]


def parse_formula(text: str) -> Formula:
    """Parse and check a formula; raise FormulaError naming the first thing not allowed."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise FormulaError(f"not a valid expression: {error.msg}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
                raise FormulaError(
                    f"only the functions {', '.join(sorted(_FUNCTIONS))} may be called"
                )
            if node.keywords or not node.args:
                raise FormulaError(f"{node.func.id}() takes positional arguments only")
        elif isinstance(node, ast.Name):
            if node.id not in _FUNCTIONS:
                names.add(node.id)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise FormulaError("only + - * / are allowed as operators")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub):
                raise FormulaError("only unary minus is allowed")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise FormulaError(f"only numbers may appear as constants, not {node.value!r}")
        elif not isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop):
            raise FormulaError(f"'{type(node).__name__}' is not allowed in a formula")
    return Formula(text=text.strip(), tree=tree, names=frozenset(names))


def evaluate(formula: Formula, values: Mapping[str, Number]) -> Number:
    """The formula's value for ``values``, rounded to DECIMALS (integers stay integers)."""

    def walk(node: ast.AST) -> Number:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)
            return node.value
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.UnaryOp):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise FormulaError("division by zero")
            return _BINARY[type(node.op)](left, right)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(walk(arg) for arg in node.args))

    missing = sorted(formula.names - set(values))
    if missing:
        raise FormulaError(f"no value for {', '.join(missing)}")
    result = walk(formula.tree)
    rounded = round(float(result), DECIMALS)
    return int(rounded) if rounded.is_integer() else rounded
