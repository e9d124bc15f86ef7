"""The durable-rules backend (the default), with every known fault of its C core fenced off.

The backend drives durable-rules' C module (``durable_rules_engine``) directly: it registers
rulesets, asserts one fact per ruleset, runs the queued actions itself and deletes the state.
durable-rules' Python ``Host`` is not used: it adds dispatcher threads, timers and a JSON round
trip of the state per action, none of which a synchronous evaluation needs, and it is where
two of the faults below live.

Faults (see docs/engine.md) and what makes each impossible here:

* error 303 past 64 pending alpha tests, the hang at 512 tests under one node, and the fixed
  node-list sizes: rules are packed into rulesets whose alpha network, modelled as the C core
  builds it (``alpha_network``), stays within every limit for any fact; a single rule over a
  limit is a ``CompileError`` naming it. Pinned by tests/test_alpha_network.py (the model
  against the real core at the limit) and the differential test on a profile satisfying every
  threshold.
* error 302 past 255 fact properties: a ruleset is sent only the keys its rules read, and its
  largest such fact is part of the packing limits; a whole profile asserted with
  ``prefilter=False`` is checked before it is sent.
* more than 1024 live sids, 32-bit sid hash collisions, cross-request state: one sid, used by
  one evaluation at a time under a lock, whose state is deleted in ``finally``.
* swallowed action errors (the Host stores them in ``state["exception"]``): actions run here,
  and a failing one fails the evaluation with ``EngineError``; so do the core's own errors.
* dispatcher threads running chains elsewhere (the Host's): there is no Host.
* unbounded chaining: a firing budget counted in the action wrapper.
* deleting a state that holds no fact is undefined behaviour (a segfault on CPython 3.11 here):
  every ruleset carries a sentinel rule matching any profile fact, so each assertion stores the
  fact and the state deleted in ``finally`` is never empty.
  Pinned by tests/test_engine.py::test_durable_never_deletes_a_state_that_holds_no_fact.
* no reload: compile once per process; a new rule set means a new engine object (its rulesets
  get their own names).

Speed: each ruleset is sent only the facts (and set members) its rules test, and a ruleset
none of whose rules can hold (some fact a rule needs is absent from the profile) is not
asserted at all. Both are indexing, not matching: a clause on an absent fact never holds
(except ``exists: false``, which never makes a fact required). ``prefilter=False`` turns both
off; the differential tests run that way too, so the shortcut cannot hide a disagreement.
Re-evaluating a changed profile (``reevaluate``) asserts only for the rules it matches again,
into pieces of the rulesets (``match_rules``): an assertion costs in proportion to its
ruleset's size.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import durable_rules_engine as core

from advisor.conditions import needs_fact
from advisor.engine.alpha_network import AlphaNetwork, NetworkSize
from advisor.engine.base import (
    GUARD_MARK,
    Chooser,
    CompiledClause,
    CompiledRule,
    CompiledRules,
    CompileError,
    EngineError,
    Firing,
    MatchedValue,
    Recorded,
    RuleIndex,
    Trace,
    matched_values,
    record_chain,
    rerun_chain,
    run_chain,
)
from advisor.facts import Facts, FactValue
from advisor.memo import remember, value_key
from advisor.models.rule import Operator

FACT_TYPE = "profile"
SENTINEL = "_stored"
# state.h MAX_OBJECT_PROPERTIES is 255, counting the sid, type and the id the core adds;
# a fact with more is error 302. Keep a margin.
PROPERTY_LIMIT = 250
FIXED_PROPERTIES = ("sid", "t", "id")
_SID = "advisor-evaluation"
# assert_fact's result code when the fact was stored (1: no rule could match it; 2: seen before).
_STORED = 0
# Rules per ruleset of those ``match_rules`` asserts into. An assertion costs about 0.35 us
# per rule of its ruleset however small the fact (the core sets up state for each rule on
# every assertion): 61 us for 152 rules against 8 us for 7, measured on the rule set's own
# rulesets. A re-evaluation matches a few rules of a few slots again. Pieces of 8 take fewer
# instructions a report with sensitivity (bench/instructions.py: 78.5 against 91.5 M on the
# examples) but showed no CPU gain beside 24 (bench/sensitivity.py, alternating runs: with /
# without 2.71-2.80x against 2.69-2.74x) and register 29 MB of rulesets against 21 MB, so 24 stays.
AGAIN_RULES = 24
_MESSAGE_START = '{"'
_encode = json.JSONEncoder(ensure_ascii=False).encode
# One compiled ruleset: its name, the C core's handle, and the action of each rule id.
_Ruleset = tuple[str, int, dict[str, Callable[[dict[str, Any]], None]]]
# Each engine instance prefixes its ruleset names, so two engines in one process (a test run,
# a rule-diff) never register the same name with the C core.
_instances = itertools.count(1)


@functools.lru_cache(maxsize=4096)  # a few hundred fact names, looked up on every assertion
def engine_key(fact: str) -> str:
    """Fact names carry dots; durable-rules field names must not, so dots become '__'."""
    return fact.replace(".", "__")


@functools.lru_cache(maxsize=4096)
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


def _equality_first(clause: CompiledClause) -> tuple[int, str]:
    # Equality tests are the most selective and share alpha nodes best; put them first.
    return (0 if clause.operator is Operator.equals else 1, clause.fact)


def rule_definition(rule: CompiledRule) -> dict[str, Any]:
    """One rule as a durable-rules definition: the type test, then its clauses."""
    tests: list[dict[str, Any]] = [{"t": FACT_TYPE}]
    tests.extend(clause_test(clause) for clause in sorted(rule.clauses, key=_equality_first))
    return {"all": [{"m": {"$and": tests}}]}


def sentinel_definition() -> dict[str, Any]:
    """The rule every ruleset carries so that each assertion stores its fact.

    It fires on every assertion. A sentinel that never fires (a second pattern waiting for a
    fact nobody asserts) also stores the fact, but deleting that state aborts the process."""
    return {"all": [{"m": {"t": FACT_TYPE}}]}


def ruleset_size(rules: Sequence[CompiledRule]) -> NetworkSize:
    """The alpha network durable-rules builds for these rules plus the sentinel."""
    network = AlphaNetwork()
    network.add_rule(sentinel_definition())
    for rule in rules:
        network.add_rule(rule_definition(rule))
    return network.size()


def fact_properties(rules: Sequence[CompiledRule]) -> int:
    """Properties of the largest fact a ruleset of these rules is sent (see ``tested_keys``)."""
    return len(FIXED_PROPERTIES) + len(tested_keys(rules))


class _Filling:
    """One ruleset being filled: its rules, alpha network and the keys its fact will carry."""

    def __init__(self) -> None:
        self.rules: list[CompiledRule] = []
        self.network = AlphaNetwork()
        self.network.add_rule(sentinel_definition())
        self.keys: set[str] = set()

    def add(self, rule: CompiledRule) -> list[str]:
        """Add a rule; return the limits the ruleset now breaks (then it must not be used)."""
        self.rules.append(rule)
        self.network.add_rule(rule_definition(rule))
        self.keys |= tested_keys([rule])
        problems = self.network.size().problems()
        properties = len(FIXED_PROPERTIES) + len(self.keys)
        if properties > PROPERTY_LIMIT:
            problems.append(f"{properties} fact properties (limit {PROPERTY_LIMIT})")
        return problems


def pack_rulesets(rules: CompiledRules) -> list[list[list[CompiledRule]]]:
    """Per round, split rules into as few rulesets as the C core's limits allow.

    Every ruleset costs one assertion per evaluation, so each is filled until the next rule
    would take its modelled alpha network (``alpha_network``) or its fact past a limit; adding
    a rule never shrinks either, so filling in order finds the longest run that fits."""
    packed: list[list[list[CompiledRule]]] = []
    oversized: list[str] = []
    for group in rules.rounds:
        rulesets: list[list[CompiledRule]] = []
        filling = _Filling()
        # Area order keeps related rules together, which shares alpha nodes.
        for rule in sorted(group, key=lambda item: (item.area, item.id)):
            if not filling.add(rule):
                continue
            # The network now holds a rule too many: close the ruleset without it.
            if len(filling.rules) > 1:
                rulesets.append(filling.rules[:-1])
            filling = _Filling()
            problems = filling.add(rule)
            if problems:
                oversized.append(f"{rule.id} ({'; '.join(problems)})")
                filling = _Filling()
        if filling.rules:
            rulesets.append(filling.rules)
        packed.append(rulesets)
    if oversized:
        raise CompileError(
            "rules exceed durable-rules' limits even alone in a ruleset: "
            f"{', '.join(oversized)}; split them into smaller rules"
        )
    return packed


def tested_keys(rules: Sequence[CompiledRule]) -> frozenset[str]:
    """Engine keys a ruleset's rules read: each tested fact, and each member flag tested."""
    keys: set[str] = set()
    for rule in rules:
        for clause in rule.clauses:
            keys.add(engine_key(clause.fact))
            if clause.operator is Operator.contains:
                keys.add(_member_key(clause.fact, str(clause.operand)))
    return frozenset(keys)


def required_facts(rule: CompiledRule) -> frozenset[str]:
    """Facts that must be present for the rule to hold."""
    return frozenset(
        clause.fact for clause in rule.clauses if needs_fact(clause.operator, clause.operand)
    )


def to_engine_fact(facts: Mapping[str, FactValue]) -> dict[str, Any]:
    """Flatten facts for durable-rules: dotted names become '__', sets become member flags."""
    fact: dict[str, Any] = {"sid": _SID, "t": FACT_TYPE}
    _flatten_into(fact, facts.items())
    return fact


def _flatten_into(fact: dict[str, Any], facts: Iterable[tuple[str, FactValue]]) -> None:
    for name, value in facts:
        if isinstance(value, tuple):
            for member in value:
                fact[_member_key(name, member)] = True
            fact[engine_key(name)] = list(value)
        else:
            fact[engine_key(name)] = value


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
        # The profile being evaluated and its engine form, flattened once for all rounds.
        self._profile: tuple[Facts, dict[str, Any]] | None = None
        # Firings are frozen and most profiles repeat the values earlier ones matched, so the
        # engine hands out one Firing per rule and matched values (a bounded cache).
        self._firings: dict[tuple[Any, ...], Firing] = {}
        self._packed = pack_rulesets(rules)
        self._rulesets: list[list[_Ruleset]] = []
        # Per round and ruleset: the engine keys its rules read, and for each rule the facts
        # it needs.
        self._keys: list[list[tuple[str, ...]]] = []
        self._needs: list[list[tuple[frozenset[str], ...]]] = []
        # For matching some rules only (``match_rules``): what each rule needs and reads, and
        # smaller rulesets, packed by slot, made the first time one of their rules is needed.
        self._index = RuleIndex(rules)
        self._rule_reads: dict[str, _Reads] = {
            rule.id: _reads(rule) for group in rules.rounds for rule in group}
        self._again_packed: list[list[list[CompiledRule]]] = []
        self._again: list[list[_Ruleset | None]] = []
        self._again_home: list[dict[str, int]] = []
        self._prefix = f"advisor{next(_instances)}"
        for round_index, rulesets in enumerate(self._packed):
            self._keys.append([tuple(sorted(tested_keys(chunk))) for chunk in rulesets])
            self._needs.append(
                [tuple(required_facts(rule) for rule in chunk) for chunk in rulesets]
            )
            self._rulesets.append([
                self._compile(f"{self._prefix}_round{round_index}_{chunk_index}", chunk)
                for chunk_index, chunk in enumerate(rulesets)])

    def _compile(self, name: str, chunk: Sequence[CompiledRule]) -> _Ruleset:
        """Register one ruleset of these rules (and the sentinel) with the C core."""
        definition = {rule.id: rule_definition(rule) for rule in chunk}
        definition[SENTINEL] = sentinel_definition()
        try:
            handle = core.create_ruleset(name, json.dumps(definition, ensure_ascii=False))
        except Exception as error:  # the C core reports bad definitions this way
            raise CompileError(f"durable-rules rejected ruleset {name}: {error}") from None
        actions = {rule.id: self._action(rule) for rule in chunk}
        actions[SENTINEL] = _store_only
        return (name, handle, actions)

    def _again_ruleset(self, round_index: int, position: int) -> _Ruleset:
        """One of the rulesets ``match_rules`` asserts into, registered on first use."""
        found = self._again[round_index][position]
        if found is None:
            found = self._again[round_index][position] = self._compile(
                f"{self._prefix}_again_round{round_index}_{position}",
                self._again_packed[round_index][position])
        return found

    def _pack_again(self) -> None:
        """Pack the rulesets ``match_rules`` uses: each of the evaluation's rulesets cut into
        pieces of at most ``AGAIN_RULES``, a slot's rules (and their guards) together. A piece
        of a ruleset is within the core's limits as the ruleset is: its alpha network and its
        fact are parts of the ruleset's (``pack_rulesets``)."""
        slot_of = {rule.id: rule.slot for group in self._rules.rounds for rule in group
                   if rule.slot is not None}

        def by_slot(rule: CompiledRule) -> tuple[str, str]:
            slot = slot_of.get(rule.id.partition(GUARD_MARK)[0])
            return ("" if slot is None else slot, rule.id)

        self._again_packed = [
            [ordered[start:start + AGAIN_RULES]
             for chunk in rulesets for ordered in [sorted(chunk, key=by_slot)]
             for start in range(0, len(ordered), AGAIN_RULES)]
            for rulesets in self._packed]
        self._again = [[None] * len(rulesets) for rulesets in self._again_packed]
        self._again_home = [
            {rule.id: position for position, chunk in enumerate(rulesets) for rule in chunk}
            for rulesets in self._again_packed]

    def _action(self, rule: CompiledRule) -> Callable[[dict[str, Any]], None]:
        """The action run when ``rule`` fires: record what it matched in the evaluation."""
        facts = [clause.fact for clause in rule.clauses]
        keys = [engine_key(fact) for fact in facts]
        remembered = self._firings

        def record(matched_fact: dict[str, Any]) -> None:
            firings = self._current
            if firings is None:  # pragma: no cover - only reachable if the lock is bypassed
                raise EngineError(f"{rule.id} fired outside an evaluation")
            if len(firings) >= self._budget:
                raise EngineError(f"firing budget of {self._budget} exceeded at {rule.id}")
            raw = [matched_fact.get(key) for key in keys]
            memo = (rule.id, *value_key(raw))
            firing = remembered.get(memo)
            if firing is None:
                values = [_plain(value) for value in raw]
                firing = Firing(
                    rule_id=rule.id,
                    round=rule.round,
                    priority=rule.priority,
                    matched=matched_values(rule, dict(zip(facts, values, strict=True)).__getitem__),
                    slot=rule.slot,
                    component=rule.component,
                )
                remember(remembered, memo, firing)
            firings.append(firing)

        return record

    def _run_ruleset(self, ruleset: _Ruleset, fact: dict[str, Any]) -> list[Firing]:
        """Assert one fact into one ruleset, run every action it triggers, delete the state.

        The C module is driven directly: durable-rules' Python host adds threads, timers and a
        JSON round trip of the state per action, none of which one synchronous assertion needs.
        """
        name, handle, _ = ruleset
        self._current = []
        try:
            try:
                result, state = core.assert_fact(handle, _encode(fact))
            except Exception as error:  # engine errors arrive as bare exceptions
                self._discard_state(handle)
                raise EngineError(f"durable-rules failed in ruleset {name}: {error}") from None
            if result != _STORED:
                # Never delete here: deleting a state with no fact is undefined behaviour.
                raise EngineError(
                    f"ruleset {name} did not store the fact (result {result}); its sentinel "
                    "rule is missing"
                )
            try:
                self._run_actions(ruleset, state, fact)
                return list(self._current)
            finally:
                core.delete_state(handle, _SID)
        finally:
            self._current = None

    @staticmethod
    def _run_actions(
        ruleset: _Ruleset, state: int, fact: dict[str, Any]
    ) -> None:
        """Run the actions the assertion queued, in the core's order, until none is left.

        Each action message is ``{"<rule id>":{"m":<the stored fact>}}``. The state holds the
        one fact just asserted, so only the rule id is read from it and the action gets the
        asserted fact itself, rather than decoding the same fact again for every firing.
        A failing action does not stop the queue (the core must complete every action before
        the state is deleted); the first failure is raised once the queue is empty."""
        name, handle, actions = ruleset
        failure: EngineError | None = None
        try:
            started = core.start_action_for_state(handle, state)
            messages = started[1] if started else None
            while messages:
                if not messages.startswith(_MESSAGE_START):
                    raise EngineError(f"unexpected action message from ruleset {name}: "
                                      f"{messages[:80]}")
                rule_id = messages[2:messages.index('"', 2)]
                if failure is None:
                    try:
                        actions[rule_id](fact)
                    except EngineError as error:
                        failure = error
                    except Exception as error:
                        failure = EngineError(f"action of {rule_id} failed in ruleset {name}: "
                                              f"{type(error).__name__}: {error}")
                messages = core.complete_and_start_action(handle, state)
        except EngineError:
            raise
        except Exception as error:  # the core's own errors arrive as bare exceptions
            raise EngineError(f"durable-rules failed in ruleset {name}: {error}") from None
        if failure is not None:
            raise failure

    @staticmethod
    def _discard_state(handle: int) -> None:
        # After a failed assertion there may be no state at all (error 309 on delete).
        try:
            core.delete_state(handle, _SID)
        except Exception:
            return

    def match_round(self, round_index: int, facts: dict[str, FactValue]) -> list[Firing]:
        """Assert the round's facts into each of its rulesets, one isolated state each."""
        fired: list[Firing] = []
        engine_fact = self._engine_fact(facts)
        if not self._prefilter:
            if len(engine_fact) + 1 > PROPERTY_LIMIT:  # the core adds an id
                raise EngineError(
                    f"the profile has {len(engine_fact) + 1} fact properties; durable-rules "
                    f"takes at most {PROPERTY_LIMIT}"
                )
            for ruleset in self._rulesets[round_index]:
                fired.extend(self._run_ruleset(ruleset, engine_fact))
        else:
            present = facts.keys()
            for ruleset, keys, needs in zip(self._rulesets[round_index],
                                            self._keys[round_index],
                                            self._needs[round_index], strict=True):
                if not any(need <= present for need in needs):
                    continue
                subset = {"sid": _SID, "t": FACT_TYPE}
                subset.update((key, engine_fact[key]) for key in keys if key in engine_fact)
                fired.extend(self._run_ruleset(ruleset, subset))
        seen: set[str] = set()
        for firing in fired:
            if firing.rule_id in seen:
                raise EngineError(f"{firing.rule_id} fired twice for one fact")
            seen.add(firing.rule_id)
        return fired

    def match_rules(self, round_index: int, facts: dict[str, FactValue],
                    rule_ids: frozenset[str]) -> list[Firing]:
        """The firings ``match_round`` reports for just the named rules of one round.

        They are matched in smaller rulesets than an evaluation's (``_pack_again``): each one
        holding a named rule is asserted a fact carrying only what the named rules read (the
        whole profile without the prefilter), the prefilter's indexing made finer, since a
        rule's match depends only on the keys it tests. Other rules of the ruleset may fire
        over the smaller fact (an ``exists: false`` clause, say): their firings are not asked
        for and are dropped."""
        if not self._again_packed:
            self._pack_again()
        if not self._prefilter:
            whole = self._engine_fact(facts)
            if len(whole) + 1 > PROPERTY_LIMIT:  # as ``match_round`` refuses it
                raise EngineError(
                    f"the profile has {len(whole) + 1} fact properties; durable-rules "
                    f"takes at most {PROPERTY_LIMIT}"
                )
        by_ruleset: dict[int, list[str]] = {}
        home = self._again_home[round_index]
        for rule_id in rule_ids:
            by_ruleset.setdefault(home[rule_id], []).append(rule_id)
        fired: list[Firing] = []
        present = facts.keys()
        for position, ids in sorted(by_ruleset.items()):
            if self._prefilter:
                reads = [self._rule_reads[rule_id] for rule_id in ids]
                reads = [read for read in reads if read[0] <= present]
                if not reads:
                    continue
                fact = _subset(facts, reads)
            else:
                fact = whole
            wanted = set(ids)
            fired.extend(firing for firing in
                         self._run_ruleset(self._again_ruleset(round_index, position), fact)
                         if firing.rule_id in wanted)
        if len({firing.rule_id for firing in fired}) < len(fired):
            raise EngineError("a rule fired twice for one fact")  # as ``match_round`` checks
        return fired

    def evaluate(self, facts: Facts, choose: Chooser, rounds: int | None = None) -> Trace:
        """Evaluate every round (or the first ``rounds``) over ``facts``; one evaluation at a
        time per engine."""
        with self._lock:
            self._profile = (facts, to_engine_fact(facts))
            try:
                return run_chain(
                    self.name, self._rules, facts, choose, self.match_round, self._budget,
                    rounds
                )
            finally:
                self._profile = None

    def record(self, facts: Facts, choose: Chooser) -> Recorded:
        """Evaluate every round over ``facts``, keeping what each matched."""
        with self._lock:
            self._profile = (facts, to_engine_fact(facts))
            try:
                return record_chain(self.name, self._rules, facts, choose, self.match_round,
                                    self._budget)
            finally:
                self._profile = None

    def reevaluate(self, base: Recorded, facts: Facts, choose: Chooser,
                   rounds: int | None = None, slots: Iterable[str] | None = None) -> Trace:
        """``evaluate(facts, choose, rounds)``, asserting again only for the rules that read a
        fact that differs from ``base``'s (``match_rules``)."""
        with self._lock:
            # Only the facts the rules matched again read are flattened (``_subset``).
            self._profile = None
            return rerun_chain(self.name, self._rules, self._index, base, facts, choose,
                               self.match_rules, self._budget, rounds, slots)

    def _engine_fact(self, facts: dict[str, FactValue]) -> dict[str, Any]:
        """A round's facts in engine form: the profile's, flattened once per evaluation, plus
        the decisions made so far."""
        if self._profile is None:
            return to_engine_fact(facts)
        given, flattened = self._profile
        added = [(name, value) for name, value in facts.items() if name not in given]
        if not added:
            return flattened
        fact = dict(flattened)
        _flatten_into(fact, added)
        return fact

    def rulesets_for_matching_again(self) -> list[list[CompiledRule]]:
        """The rules of each ruleset ``match_rules`` asserts into, every round's in turn."""
        if not self._again_packed:
            self._pack_again()
        return [chunk for rulesets in self._again_packed for chunk in rulesets]

    def describe_rulesets(self) -> list[dict[str, Any]]:
        """Name, rule ids, stack bound and largest fact of each compiled ruleset."""
        out = []
        for round_index, rulesets in enumerate(self._packed):
            for (name, _, _), chunk in zip(self._rulesets[round_index], rulesets, strict=True):
                out.append(
                    {
                        "name": name,
                        "rules": [rule.id for rule in chunk],
                        "stack_bound": ruleset_size(chunk).stack,
                        "fact_properties": fact_properties(chunk),
                    }
                )
        return out


# What one rule reads: the facts it needs present, every fact it tests, and each set member
# it tests as (fact, member).
_Reads = tuple[frozenset[str], frozenset[str], frozenset[tuple[str, str]]]


def _reads(rule: CompiledRule) -> _Reads:
    members = frozenset((clause.fact, str(clause.operand)) for clause in rule.clauses
                        if clause.operator is Operator.contains)
    return (required_facts(rule), frozenset(clause.fact for clause in rule.clauses), members)


def _subset(facts: Mapping[str, FactValue], reads: Sequence[_Reads]) -> dict[str, Any]:
    """The engine fact carrying what the rules whose ``reads`` are given test, as
    ``match_round``'s prefilter sends it: each tested fact, and each tested member a set
    holds."""
    fact: dict[str, Any] = {"sid": _SID, "t": FACT_TYPE}
    for _, names, members in reads:
        for name in names:
            value = facts.get(name)
            if value is not None:
                fact[engine_key(name)] = list(value) if isinstance(value, tuple) else value
        for name, member in members:
            value = facts.get(name)
            if isinstance(value, tuple) and member in value:
                fact[_member_key(name, member)] = True
    return fact


def _store_only(matched: dict[str, Any]) -> None:
    """Sentinel action: the fact is stored so its state can be deleted safely; nothing else."""


def _plain(value: Any) -> MatchedValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    raise EngineError(f"durable-rules returned an unexpected value {value!r}")
