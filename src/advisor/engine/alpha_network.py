"""A model of the alpha network durable-rules builds from a ruleset, to bound what one fact costs.

durable-rules' C core (``events.c: handleAlpha``) walks the alpha network depth first with a
fixed stack of 64 entries: popping a node pushes every child that matches the fact, and one
push too many is error 303, after which deleting the state crashes the process. The network is
a prefix tree (``rete.c: createAlpha/findAlpha``): each test of a pattern's ``$and`` is looked up
under the previous one and shared when property, operator and value are equal; each ``$or``
branch is looked up under the same parent and links to a fresh forward node that carries the
rest of the pattern; ``$nex`` tests and forward nodes sit in a node's disjunctive list, pushed
whenever the fact lacks the property; everything else is a conjunctive child, pushed when it
matches.

This module rebuilds that tree from the same definitions handed to the C core and computes
the deepest the stack can get for *any* fact: along every path, each ancestor leaves behind
the children it pushed other than the one followed, and the node itself pushes all of its own.
Children that test one property for equality with different strings (or booleans) can never
match together, so they count once; every other child counts as matching. Values of different
types are never merged, which can only over-count. The bound is pinned by a test at the limit
that drives the real C core (tests/test_engine.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# events.c MAX_STACK_SIZE: pushes beyond this many pending nodes fail with error 303.
STACK_LIMIT = 64
# rules.h NEXT_BUCKET_LENGTH is 512; a full bucket set hangs the traversal. Stay at half.
CONJUNCTIVE_LIMIT = 256
# rules.h NEXT_LIST_LENGTH (128) and BETA_LIST_LENGTH (256), less the terminating zero.
DISJUNCTIVE_LIMIT = 127
BETA_LIMIT = 255

_COMPARISONS = {"$lt", "$lte", "$gt", "$gte", "$neq", "$ex"}


@dataclass(eq=False)
class _Node:
    conjunctive: dict[tuple[str, str, str, str], _Node] = field(default_factory=dict)
    disjunctive: list[_Node] = field(default_factory=list)
    # $nex children are shared like conjunctive ones; forward nodes never are.
    shared_disjunctive: dict[str, _Node] = field(default_factory=dict)
    # Equality children on one property with string (or boolean) values: at most one matches.
    exclusive: set[tuple[str, str]] = field(default_factory=set)
    other_conjunctive: int = 0
    betas: int = 0
    # The most entries the traversal stack can hold while this node's subtree is walked,
    # counting from the moment the node is popped.
    deepest: int = 0

    def matching_children(self) -> int:
        """How many children one fact can make this node push, at most."""
        return len(self.disjunctive) + self.other_conjunctive + len(self.exclusive)

    def children(self) -> Iterable[_Node]:
        yield from self.conjunctive.values()
        yield from self.disjunctive

    def update_deepest(self) -> None:
        pushed = self.matching_children()
        below = max((child.deepest for child in self.children()), default=0)
        self.deepest = max(pushed, pushed - 1 + below)


@dataclass(frozen=True)
class NetworkSize:
    """What the C core's limits are checked against, for one ruleset."""

    stack: int
    widest_conjunctive: int
    widest_disjunctive: int
    most_betas: int
    nodes: int

    def problems(self) -> list[str]:
        """Each limit of the C core this network would break, as a sentence; empty when none."""
        found = []
        if self.stack > STACK_LIMIT:
            found.append(f"one fact can leave {self.stack} alpha tests pending "
                         f"(limit {STACK_LIMIT})")
        if self.widest_conjunctive > CONJUNCTIVE_LIMIT:
            found.append(f"{self.widest_conjunctive} tests under one alpha node "
                         f"(limit {CONJUNCTIVE_LIMIT})")
        if self.widest_disjunctive > DISJUNCTIVE_LIMIT:
            found.append(f"{self.widest_disjunctive} 'exists: false' or 'one of' branches under "
                         f"one alpha node (limit {DISJUNCTIVE_LIMIT})")
        if self.most_betas > BETA_LIMIT:
            found.append(f"{self.most_betas} rules ending on one alpha node (limit {BETA_LIMIT})")
        return found


class AlphaNetwork:
    """The alpha tree of one ruleset, built rule by rule as durable-rules builds it.

    Sizes are kept up to date as rules are added: only the nodes on a new rule's paths change,
    and each is touched after its parent, so updating them in reverse order is bottom-up."""

    def __init__(self) -> None:
        self._root = _Node()
        self._nodes = 1
        self._widest_conjunctive = 0
        self._widest_disjunctive = 0
        self._most_betas = 0
        self._touched: list[_Node] = []

    def add_rule(self, definition: Mapping[str, Any]) -> None:
        """Add one rule definition (``{"all": [{alias: expression}, ...], ...}``)."""
        self._touched = [self._root]
        for pattern in definition["all"]:
            (expression,) = pattern.values()
            end = self._build(expression, self._root)
            end.betas += 1
            self._most_betas = max(self._most_betas, end.betas)
        for node in reversed(self._touched):
            node.update_deepest()
            self._widest_conjunctive = max(self._widest_conjunctive, len(node.conjunctive))
            self._widest_disjunctive = max(self._widest_disjunctive, len(node.disjunctive))
        self._touched = []

    def _build(self, expression: Mapping[str, Any], parent: _Node) -> _Node:
        if len(expression) != 1:
            raise ValueError(f"expected one test per expression, got {sorted(expression)}")
        ((name, value),) = expression.items()
        if name == "$and":
            node = parent
            for item in value:
                node = self._build(item, node)
            return node
        if name == "$or":
            forward = self._new()
            for item in value:
                self._build(item, parent).disjunctive.append(forward)
            self._touched.append(forward)
            return forward
        if name == "$nex":
            ((key, _),) = value.items()
            return self._shared_disjunctive(parent, key)
        if name in _COMPARISONS:
            ((key, operand),) = value.items()
            return self._conjunctive(parent, key, name, operand)
        if name.startswith("$"):
            raise ValueError(f"operator {name} is not modelled")
        return self._conjunctive(parent, name, "$eq", value)

    def _new(self) -> _Node:
        self._nodes += 1
        return _Node()

    def _conjunctive(self, parent: _Node, key: str, operator: str, operand: Any) -> _Node:
        # The type name keeps 1, 1.0 and True apart: merging what the C core keeps apart would
        # under-count, keeping apart what it merges only over-counts.
        kind = type(operand).__name__
        identity = (key, operator, kind, repr(operand))
        node = parent.conjunctive.get(identity)
        if node is None:
            node = parent.conjunctive[identity] = self._new()
            if operator == "$eq" and kind in ("str", "bool"):
                parent.exclusive.add((key, kind))
            else:
                parent.other_conjunctive += 1
        self._touched.append(node)
        return node

    def _shared_disjunctive(self, parent: _Node, key: str) -> _Node:
        node = parent.shared_disjunctive.get(key)
        if node is None:
            node = parent.shared_disjunctive[key] = self._new()
            parent.disjunctive.append(node)
        self._touched.append(node)
        return node

    def size(self) -> NetworkSize:
        """The stack bound and the widest fan-outs of the network built so far."""
        return NetworkSize(
            # The root itself is on the stack before it is popped.
            stack=max(1, self._root.deepest),
            widest_conjunctive=self._widest_conjunctive,
            widest_disjunctive=self._widest_disjunctive,
            most_betas=self._most_betas,
            nodes=self._nodes,
        )
