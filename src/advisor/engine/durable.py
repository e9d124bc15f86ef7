"""The durable-rules backend (the default), with every known fault of its C core fenced off.

Faults (see docs/engine.md) and what makes each impossible here:

* error 303 past 64 pending alpha tests, and the hang at 512 tests under one node: rules are
  packed into rulesets of at most ``ALPHA_LIMIT`` alpha tests, counted conservatively (every test
  of every rule, no sharing assumed); a single rule over the limit is a ``CompileError`` naming
  it. Pinned by tests/test_engine_durable.py::test_profile_satisfying_every_threshold.
* more than 1024 live sids, 32-bit sid hash collisions, cross-request state: one sid, used by
  one evaluation at a time under a lock, whose state is deleted in ``finally``.
* swallowed action errors: ``state["exception"]`` and engine exceptions become ``EngineError``.
* dispatcher threads running chains elsewhere: ``_QuietHost`` never starts them.
* unbounded chaining: a firing budget counted in the action wrapper.
* deleting a state that holds no fact is undefined behaviour (a segfault on CPython 3.11 here):
  every ruleset carries a sentinel rule matching any profile fact, so each assertion stores the
  fact and the state deleted in ``finally`` is never empty.
  Pinned by tests/test_engine.py::test_durable_never_deletes_a_state_that_holds_no_fact.
* no reload: compile once per process; a new rule set means a new engine object and Host.

Speed: each ruleset is sent only the facts its rules test, and a ruleset none of whose rules
can hold (some fact a rule needs is absent from the profile) is not asserted at all. Both are
indexing, not matching: a clause on an absent fact never holds (except ``exists: false``, which
never makes a fact required). ``prefilter=False`` turns both off; the differential tests run
that way too, so the shortcut cannot hide a disagreement.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from durable import engine as durable_engine

from advisor.conditions import needs_fact
from advisor.engine.base import (
    Chooser,
    CompiledClause,
    CompiledRule,
    CompiledRules,
    CompileError,
    EngineError,
    Firing,
    MatchedValue,
    Trace,
    matched_values,
    run_chain,
)
from advisor.facts import Facts, FactValue
from advisor.models.rule import Operator

ALPHA_LIMIT = 64
FACT_TYPE = "profile"
SENTINEL = "_stored"
# The sentinel's type test is shared by every rule, but count it anyway: the bound stays sound.
RULE_BUDGET = ALPHA_LIMIT - 1
_SID = "advisor-evaluation"
# Each engine instance prefixes its ruleset names, so two engines in one process (a test run,
# a rule-diff) never register the same name with the C core.
_instances = itertools.count(1)


class _QuietHost(durable_engine.Host):  # type: ignore[misc]
    """A Host without the background dispatcher threads (they race the caller's chain)."""

    def _run(self) -> None:
        return None


def engine_key(fact: str) -> str:
    """Fact names carry dots; durable-rules field names must not, so dots become '__'."""
    return fact.replace(".", "__")


def _member_key(fact: str, member: str) -> str:
    return f"{engine_key(fact)}__{member}"


def clause_test(clause: CompiledClause) -> dict[str, Any]:
    """One clause as a durable-rules test expression."""
    key = engine_key(clause.fact)
    op = clause.operator
    operand = clause.operand
    if op is Operator.equals:
        return {key: operand}
    if op is Operator.not_equals:
        # $neq on an absent field does not match, which is the reference semantics.
        return {"$neq": {key: operand}}
    if op is Operator.one_of:
        assert isinstance(operand, tuple)
        return {"$or": [{key: item} for item in operand]}
    if op is Operator.contains:
        return {_member_key(clause.fact, str(operand)): True}
    if op is Operator.exists:
        return {"$ex": {key: 1}} if operand else {"$nex": {key: 1}}
    return {f"${op.value}": {key: operand}}


def alpha_tests(rule: CompiledRule) -> int:
    """Upper bound on the alpha nodes a rule adds: its type test plus every clause test."""
    count = 1
    for clause in rule.clauses:
        count += len(clause.operand) if isinstance(clause.operand, tuple) else 1
    return count


def _equality_first(clause: CompiledClause) -> tuple[int, str]:
    # Equality tests are the most selective and share alpha nodes best; put them first.
    return (0 if clause.operator is Operator.equals else 1, clause.fact)


def pack_rulesets(rules: CompiledRules) -> list[list[list[CompiledRule]]]:
    """Per round, split rules into rulesets of at most RULE_BUDGET counted alpha tests."""
    oversized = [
        f"{rule.id} ({alpha_tests(rule)} tests)"
        for group in rules.rounds
        for rule in group
        if alpha_tests(rule) > RULE_BUDGET
    ]
    if oversized:
        raise CompileError(
            f"rules exceed durable-rules' limit of {RULE_BUDGET} alpha tests per ruleset even "
            f"alone: {', '.join(oversized)}; split them into smaller rules"
        )
    packed: list[list[list[CompiledRule]]] = []
    for group in rules.rounds:
        # Area order keeps related rules together; rulesets are filled up to the budget
        # because every ruleset costs one assertion (and one sentinel action) per evaluation.
        rulesets: list[list[CompiledRule]] = []
        current: list[CompiledRule] = []
        used = 0
        for rule in sorted(group, key=lambda item: (item.area, item.id)):
            cost = alpha_tests(rule)
            if current and used + cost > RULE_BUDGET:
                rulesets.append(current)
                current, used = [], 0
            current.append(rule)
            used += cost
        if current:
            rulesets.append(current)
        packed.append(rulesets)
    return packed


def required_facts(rule: CompiledRule) -> frozenset[str]:
    """Facts that must be present for the rule to hold."""
    return frozenset(
        clause.fact for clause in rule.clauses if needs_fact(clause.operator, clause.operand)
    )


def to_engine_fact(facts: dict[str, FactValue]) -> dict[str, Any]:
    """Flatten facts for durable-rules: dotted names become '__', sets become member flags."""
    fact: dict[str, Any] = {"sid": _SID, "t": FACT_TYPE}
    for name, value in facts.items():
        if isinstance(value, tuple):
            for member in value:
                fact[_member_key(name, member)] = True
            fact[engine_key(name)] = list(value)
        else:
            fact[engine_key(name)] = value
    return fact


class DurableEngine:
    """durable-rules behind the RuleEngine protocol; evaluations are serialised by a lock."""

    name = "durable"

    def __init__(
        self, rules: CompiledRules, firing_budget: int | None = None, prefilter: bool = True
    ) -> None:
        self._rules = rules
        self._prefilter = prefilter
        self._budget = firing_budget if firing_budget is not None else rules.count + 1
        self._lock = threading.Lock()
        self._current: list[Firing] | None = None
        self._packed = pack_rulesets(rules)
        self._ruleset_names: list[list[str]] = []
        # Per round and ruleset: the facts its rules test, and for each rule the facts it needs.
        self._tested: list[list[frozenset[str]]] = []
        self._needs: list[list[tuple[frozenset[str], ...]]] = []
        definitions: dict[str, dict[str, Any]] = {}
        prefix = f"advisor{next(_instances)}"
        for round_index, rulesets in enumerate(self._packed):
            names = []
            self._tested.append([
                frozenset(clause.fact for rule in chunk for clause in rule.clauses)
                for chunk in rulesets
            ])
            self._needs.append(
                [tuple(required_facts(rule) for rule in chunk) for chunk in rulesets]
            )
            for chunk_index, chunk in enumerate(rulesets):
                name = f"{prefix}_round{round_index}_{chunk_index}"
                definition = {rule.id: self._definition(rule) for rule in chunk}
                definition[SENTINEL] = {"all": [{"m": {"t": FACT_TYPE}}], "run": _store_only}
                definitions[name] = definition
                names.append(name)
            self._ruleset_names.append(names)
        self._host = _QuietHost()
        try:
            if definitions:
                self._host.set_rulesets(definitions)
        except Exception as error:  # the C core reports bad definitions as bare Exceptions
            raise CompileError(f"durable-rules rejected the compiled rulesets: {error}") from None

    def _definition(self, rule: CompiledRule) -> dict[str, Any]:
        tests: list[dict[str, Any]] = [{"t": FACT_TYPE}]
        tests.extend(clause_test(clause) for clause in sorted(rule.clauses, key=_equality_first))
        return {"all": [{"m": {"$and": tests}}], "run": self._action(rule)}

    def _action(self, rule: CompiledRule) -> Callable[[Any], None]:
        def record(closure: Any) -> None:
            firings = self._current
            if firings is None:  # pragma: no cover - only reachable if the lock is bypassed
                raise EngineError(f"{rule.id} fired outside an evaluation")
            if len(firings) >= self._budget:
                raise EngineError(f"firing budget of {self._budget} exceeded at {rule.id}")
            matched_fact = closure.m._d if hasattr(closure.m, "_d") else dict(closure.m)
            firings.append(
                Firing(
                    rule_id=rule.id,
                    round=rule.round,
                    priority=rule.priority,
                    matched=matched_values(
                        rule, lambda name: _plain(matched_fact.get(engine_key(name)))
                    ),
                    slot=rule.slot,
                    component=rule.component,
                )
            )

        return record

    def _run_ruleset(self, ruleset: str, fact: dict[str, Any]) -> list[Firing]:
        """Assert one fact into one ruleset and return what fired; the state never outlives it."""
        self._current = []
        try:
            try:
                state = self._host.assert_fact(ruleset, dict(fact))
            except durable_engine.MessageNotHandledException:
                # Never delete here: deleting a state with no fact is undefined behaviour.
                raise EngineError(
                    f"ruleset {ruleset} did not store the fact; its sentinel rule is missing"
                ) from None
            except Exception as error:  # engine errors arrive as bare exceptions
                self._discard_state(ruleset)
                raise EngineError(f"durable-rules failed in ruleset {ruleset}: {error}") from None
            try:
                if isinstance(state, dict) and state.get("exception"):
                    raise EngineError(
                        f"durable-rules action failed in ruleset {ruleset}: {state['exception']}"
                    )
                return list(self._current)
            finally:
                self._host.delete_state(ruleset, _SID)
        finally:
            self._current = None

    def _discard_state(self, ruleset: str) -> None:
        # After a failed assertion there may be no state at all (error 309 on delete).
        try:
            self._host.delete_state(ruleset, _SID)
        except Exception:
            return

    def match_round(self, round_index: int, facts: dict[str, FactValue]) -> list[Firing]:
        """Assert the round's facts into each of its rulesets, one isolated state each."""
        fired: list[Firing] = []
        if not self._prefilter:
            engine_fact = to_engine_fact(facts)
            for ruleset in self._ruleset_names[round_index]:
                fired.extend(self._run_ruleset(ruleset, engine_fact))
        else:
            present = facts.keys()
            for ruleset, tested, needs in zip(self._ruleset_names[round_index],
                                              self._tested[round_index],
                                              self._needs[round_index], strict=True):
                if not any(need <= present for need in needs):
                    continue
                subset = {name: facts[name] for name in tested if name in facts}
                fired.extend(self._run_ruleset(ruleset, to_engine_fact(subset)))
        seen: set[str] = set()
        for firing in fired:
            if firing.rule_id in seen:
                raise EngineError(f"{firing.rule_id} fired twice for one fact")
            seen.add(firing.rule_id)
        return fired

    def evaluate(self, facts: Facts, choose: Chooser) -> Trace:
        """Evaluate every round over ``facts``; one evaluation at a time per engine."""
        with self._lock:
            return run_chain(
                self.name, self._rules, facts, choose, self.match_round, self._budget
            )

    def describe_rulesets(self) -> list[dict[str, Any]]:
        """Ruleset name, rule ids and alpha-test count of each compiled ruleset."""
        out = []
        for round_index, rulesets in enumerate(self._packed):
            for name, chunk in zip(self._ruleset_names[round_index], rulesets, strict=True):
                out.append(
                    {
                        "name": name,
                        "rules": [rule.id for rule in chunk],
                        "alpha_tests": 1 + sum(alpha_tests(rule) for rule in chunk),
                    }
                )
        return out


def _store_only(closure: Any) -> None:
    """Sentinel action: the fact is stored so its state can be deleted safely; nothing else."""


def _plain(value: Any) -> MatchedValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [str(item) for item in value]
    raise EngineError(f"durable-rules returned an unexpected value {value!r}")
