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

from advisor.facts import DECIMALS

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
# How many arguments each function takes (fewest, most); None: no upper bound.
_ARITY: dict[str, tuple[int, int | None]] = {
    "ceil": (1, 1), "floor": (1, 1), "min": (2, None), "max": (2, None), "round": (1, 2),
}


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
            name = node.func.id
            fewest, most = _ARITY[name]
            if node.keywords or len(node.args) < fewest or (
                most is not None and len(node.args) > most
            ):
                expected = str(fewest) if fewest == most else (
                    f"{fewest} or more" if most is None else f"{fewest} to {most}")
                raise FormulaError(f"{name}() takes {expected} positional argument(s)")
            if name == "round" and len(node.args) == 2 and not (
                isinstance(node.args[1], ast.Constant) and type(node.args[1].value) is int
            ):
                raise FormulaError("round()'s second argument must be a whole-number constant")
        elif isinstance(node, ast.Name):
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
    callees = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in _FUNCTIONS and id(node) not in callees:
            raise FormulaError(f"'{node.id}' is a function; call it, e.g. {node.id}(x)")
    names -= set(_FUNCTIONS)
    return Formula(text=text.strip(), tree=tree, names=frozenset(names))


def evaluate(formula: Formula, values: Mapping[str, Number]) -> Number:
    """The formula's value for ``values``, rounded like input facts (integers stay integers)."""

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
