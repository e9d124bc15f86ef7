"""Load and validate ``rules/``: the registries and one YAML file per rule.

Loading fails closed: every problem in every file is collected and raised at once as a
``CatalogError`` whose lines read ``<file>:<line>: <rule id>: <field>: <problem> (<hint>)``.
"""

from __future__ import annotations

import difflib
import gc
import hashlib
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from advisor import cache
from advisor.conditions import needs_fact
from advisor.facts import FactSpec, derived_fact_specs, requirement_fact_specs
from advisor.formulas import Formula, FormulaError, parse_formula
from advisor.models.requirements import Requirements
from advisor.models.rule import (
    Area,
    Clause,
    Component,
    ComponentCategory,
    Invariant,
    Operator,
    Pillar,
    Rule,
    Slot,
    Source,
)
from advisor.yamlio import (
    LocatedDocument,
    Path_,
    YamlError,
    clip,
    decode_utf8,
    parse_yaml,
    read_bounded,
)

ClauseTuple = tuple[str, Operator, Any]
REGISTRY_FILES = ("_areas.yaml", "_components.yaml", "_slots.yaml", "_sources.yaml")
# Registries a rule set may leave out (it then cannot use what they define).
OPTIONAL_REGISTRY_FILES = ("_pillars.yaml", "_invariants.yaml")
DECISION_PREFIX = "decision."
# Decisions may build on decisions; deeper chains than this are a modelling error. Each level
# is one more chaining round, which costs little when it holds few rules (the bundled rules
# add rounds as companions build on companions); the bound keeps a rule directory from
# asking for an unbounded number of rounds.
MAX_CHAIN_DEPTH = 12
# Ten times the largest bundled file (_sources.yaml); a rules directory given with --rules
# may hold anything, and a file is read whole before it is parsed.
MAX_FILE_BYTES = 2_000_000
# A file changed this recently is keyed by its bytes, not its times (``_fingerprint``).
_SETTLING_NS = 2_000_000_000


@dataclass(frozen=True)
class LoadProblem:
    """One thing wrong in one knowledge file."""

    file: str
    line: int
    rule_id: str
    field: str
    problem: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}: {self.rule_id}: {self.field}: {self.problem}{hint}"


class CatalogError(Exception):
    """The knowledge base is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[LoadProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.field, p.problem))
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class Catalog:
    """A validated knowledge base, ready to compile into an engine."""

    root: Path
    rules: tuple[Rule, ...]
    rule_files: dict[str, str]
    components: dict[str, Component]
    slots: dict[str, Slot]
    sources: dict[str, Source]
    areas: dict[str, Area]
    facts: dict[str, FactSpec]
    strata: tuple[tuple[str, ...], ...]
    digest: str
    slot_levels: dict[str, int] = field(default_factory=dict)
    pillars: dict[str, Pillar] = field(default_factory=dict)
    formulas: dict[str, Formula] = field(default_factory=dict)
    invariants: dict[str, Invariant] = field(default_factory=dict)
    _by_id: dict[str, Rule] = field(init=False, repr=False, compare=False)
    _clauses: dict[str, tuple[ClauseTuple, ...]] = field(init=False, repr=False, compare=False)
    _exceptions: dict[str, tuple[ClauseTuple, ...]] = field(init=False, repr=False,
                                                            compare=False)
    _by_slot: dict[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)
    _relevance: dict[str, tuple[ClauseTuple, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_slot: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.slot is not None:
                by_slot.setdefault(rule.slot, []).append(rule)
        object.__setattr__(self, "_by_slot", {k: tuple(v) for k, v in by_slot.items()})
        object.__setattr__(self, "_relevance", {
            slot.id: tuple((c.fact, c.operator, c.operand) for c in slot.relevant_when_any)
            for slot in self.slots.values()
        })
        object.__setattr__(self, "_by_id", {rule.id: rule for rule in self.rules})
        object.__setattr__(self, "_clauses", {
            rule.id: tuple((c.fact, c.operator, c.operand) for c in rule.when)
            for rule in self.rules
        })
        object.__setattr__(self, "_exceptions", {
            rule.id: tuple((c.fact, c.operator, c.operand) for c in rule.unless)
            for rule in self.rules
        })

    def clauses(self, rule_id: str) -> tuple[ClauseTuple, ...]:
        """A rule's clauses as plain (fact, operator, operand) tuples, for hot loops."""
        return self._clauses[rule_id]

    def exceptions(self, rule_id: str) -> tuple[ClauseTuple, ...]:
        """A rule's ``unless`` clauses as plain tuples: any one holding keeps it from firing."""
        return self._exceptions[rule_id]

    def relevance(self, slot_id: str) -> tuple[ClauseTuple, ...]:
        """A slot's ``relevant_when_any`` clauses as plain tuples (empty: always relevant)."""
        return self._relevance[slot_id]

    def rules_for_slot(self, slot: str) -> tuple[Rule, ...]:
        """The rules that can fill ``slot``, in id order."""
        return self._by_slot.get(slot, ())

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError if absent)."""
        return self._by_id[rule_id]

    def summaries(self) -> list[dict[str, Any]]:
        """One row per rule, as ``advisor rules list`` and ``GET /v1/rules`` list them."""
        return [
            {"id": rule.id, "area": rule.area, "title": rule.title, "slot": rule.slot,
             "component": rule.recommend.component if rule.recommend else None,
             "strength": rule.strength.value, "priority": rule.priority,
             "file": self.rule_files[rule.id]}
            for rule in self.rules
        ]


def _location(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _pydantic_problems(
    error: ValidationError, file: str, doc: LocatedDocument, rule_id: str, base: Path_ = ()
) -> list[LoadProblem]:
    problems = []
    for item in error.errors():
        loc = (*base, *item["loc"])
        shown = ".".join(str(part) for part in loc) or "(document)"
        hint = _hint_for(item)
        # Only the first letter: the rest may name things whose case matters (AWS, rule ids).
        message = item["msg"][:1].lower() + item["msg"][1:]
        problems.append(LoadProblem(file, doc.line_of(loc), rule_id, shown, message, hint))
    return problems


def _hint_for(item: Any) -> str:
    kind = item.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key; check the spelling against docs/rule-format.md"
    if kind == "missing":
        return "required"
    if kind == "string_pattern_mismatch":
        return f"must match {item.get('ctx', {}).get('pattern', '')}"
    return ""


def _read(path: Path, root: Path, problems: list[LoadProblem]) -> LocatedDocument | None:
    """The document in a knowledge file, or None with its problem added: too large, not UTF-8,
    not YAML, or outside what ``parse_yaml`` accepts (anchors and aliases, deep nesting ...)."""
    file = _location(path, root)
    try:
        return parse_yaml(decode_utf8(read_bounded(path, MAX_FILE_BYTES)))
    except YamlError as error:
        field = ".".join(clip(str(part)) for part in error.path) if error.path else "(document)"
        problems.append(LoadProblem(file, error.line, "-", field or "(document)", error.problem))
    except OSError as error:
        problems.append(LoadProblem(file, 1, "-", "(document)", f"cannot read: {error}"))
    return None


def _load_registry(
    root: Path, name: str, key: str, model: type[BaseModel], problems: list[LoadProblem],
    optional: bool = False,
) -> dict[str, Any]:
    path = root / name
    file = _location(path, root)
    if not path.is_file():
        if not optional:
            problems.append(LoadProblem(file, 1, "-", key, "registry file is missing"))
        return {}
    doc = _read(path, root, problems)
    if doc is None:
        return {}
    if not isinstance(doc.data, dict) or set(doc.data) != {key}:
        problems.append(
            LoadProblem(file, 1, "-", "(document)", f"expected one top-level key '{key}'")
        )
        return {}
    items = doc.data[key]
    if not isinstance(items, list):
        problems.append(LoadProblem(file, doc.line_of((key,)), "-", key, "must be a list"))
        return {}
    found: dict[str, Any] = {}
    for index, raw in enumerate(items):
        ident = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
        try:
            item = model.model_validate(raw)
        except ValidationError as error:
            problems.extend(_pydantic_problems(error, file, doc, str(ident), (key, index)))
            continue
        item_id = getattr(item, "id")  # noqa: B009 - every registry model has an id
        if item_id in found:
            problems.append(
                LoadProblem(file, doc.line_of((key, index)), item_id, "id", "duplicate id")
            )
        found[item_id] = item
    return found


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


_OPERATORS_BY_TYPE: dict[str, set[Operator]] = {
    "bool": {Operator.equals, Operator.not_equals, Operator.exists},
    "number": {
        Operator.gt, Operator.gte, Operator.lt, Operator.lte, Operator.exists,
        Operator.equals, Operator.not_equals, Operator.one_of,
    },
    "enum": {Operator.equals, Operator.not_equals, Operator.one_of, Operator.exists},
    "set": {Operator.contains, Operator.exists},
    "string": set(),
}


def clause_problems(clause: Clause, facts: dict[str, FactSpec]) -> list[tuple[str, str, str]]:
    """(field suffix, problem, hint) for a clause that cannot be evaluated."""
    spec = facts.get(clause.fact)
    if spec is None:
        return [("fact", f"unknown fact '{clause.fact}'", _suggest(clause.fact, facts))]
    op = clause.operator
    allowed = _OPERATORS_BY_TYPE[spec.type]
    if op not in allowed:
        names = ", ".join(sorted(item.value for item in allowed)) or "none"
        article = "an" if spec.type[0] in "aeiou" else "a"
        return [(op.value, f"operator not allowed on {article} {spec.type} fact", f"use: {names}")]
    if op is Operator.exists:
        return []
    value = clause.operand
    out = []
    for item in value if isinstance(value, list) else [value]:
        if spec.type == "bool" and not isinstance(item, bool):
            out.append((op.value, f"{item!r} is not true/false", "this fact is a boolean"))
        elif spec.type == "number" and (
            isinstance(item, bool) or not isinstance(item, int | float)
        ):
            out.append((op.value, f"{item!r} is not a number", "this fact is numeric"))
        elif spec.type in ("enum", "set") and item not in spec.values:
            out.append(
                (
                    op.value,
                    f"'{item}' is not a value of {clause.fact}",
                    f"allowed: {', '.join(spec.values)}",
                )
            )
    return out


def _decision_specs(
    slots: dict[str, Slot], rules: Sequence[Rule], components: dict[str, Component]
) -> dict[str, FactSpec]:
    """One enum fact per slot: the components the rules may place there."""
    placed: dict[str, set[str]] = {slot: set() for slot in slots}
    for rule in rules:
        if rule.recommend and rule.recommend.slot in placed:
            placed[rule.recommend.slot].add(rule.recommend.component)
    return {
        f"{DECISION_PREFIX}{slot}": FactSpec(
            f"{DECISION_PREFIX}{slot}",
            "enum",
            f"The component chosen for the '{slot}' slot.",
            tuple(sorted(placed[slot] or set(components))),
        )
        for slot in slots
    }


def _stratify(
    rules: Sequence[Rule], rule_files: dict[str, str], problems: list[LoadProblem]
) -> tuple[tuple[tuple[str, ...], ...], dict[str, int]]:
    """Order rules into rounds so a rule runs only after every slot it reads is decided."""
    depends: dict[str, set[str]] = {}
    for rule in rules:
        key = rule.slot or f"!{rule.purpose}:{rule.id}"
        reads = {
            clause.fact[len(DECISION_PREFIX):]
            for clause in (*rule.when, *rule.unless)
            if clause.fact.startswith(DECISION_PREFIX)
        }
        depends.setdefault(key, set()).update(reads)
    levels: dict[str, int] = {}
    visiting: list[str] = []

    def level(slot: str) -> int:
        if slot in levels:
            return levels[slot]
        if slot in visiting:
            cycle = [*visiting[visiting.index(slot):], slot]
            involved = sorted(
                rule.id
                for rule in rules
                if (rule.slot or f"!{rule.purpose}:{rule.id}") in cycle
                and any(c.fact[len(DECISION_PREFIX):] in cycle
                        for c in (*rule.when, *rule.unless))
            )
            first = involved[0] if involved else "-"
            problems.append(
                LoadProblem(
                    rule_files.get(first, "rules"),
                    1,
                    first,
                    "when",
                    "decisions depend on each other in a cycle: " + " -> ".join(cycle),
                    f"rules involved: {', '.join(involved)}",
                )
            )
            levels[slot] = 0
            return 0
        visiting.append(slot)
        value = 0
        for needed in sorted(depends.get(slot, ())):
            value = max(value, level(needed) + 1)
        visiting.pop()
        levels[slot] = value
        return value

    for key in sorted(depends):
        level(key)
    deepest = max(levels.values(), default=0)
    if deepest >= MAX_CHAIN_DEPTH:
        problems.append(
            LoadProblem(
                "rules", 1, "-", "when",
                f"decision chain is {deepest + 1} rounds deep", f"at most {MAX_CHAIN_DEPTH}",
            )
        )
    strata: list[list[str]] = [[] for _ in range(deepest + 1)]
    for rule in sorted(rules, key=lambda item: item.id):
        strata[levels[rule.slot or f"!{rule.purpose}:{rule.id}"]].append(rule.id)
    slot_levels = {slot: lvl for slot, lvl in levels.items() if not slot.startswith("!")}
    return tuple(tuple(stratum) for stratum in strata if stratum), slot_levels


def _fingerprint(root: Path, files: Iterable[Path]) -> str | None:
    """What a cache entry of these files is keyed by: each file's name, size, inode and
    modification and change times, without reading a byte; None when a file cannot be read.

    Writing a file sets its change time to the clock, and no call sets it back (``touch`` and
    ``os.utime`` set the modification time only), so an edited file never matches an earlier
    entry. The kernel stamps files from a coarse clock, so two writes a few milliseconds apart
    may leave the same times: a file changed in the last ``_SETTLING_NS`` is keyed by its bytes
    instead (as git treats its "racy" entries). The content digest (``Catalog.digest``, which
    reports show) is computed when the files are loaded and kept in the entry. Reading every
    rule file instead cost about 45 ms of each start (docs/benchmarks.md, *Cold start*)."""
    hasher = hashlib.sha256()
    now = time.time_ns()
    try:
        for path in sorted(files):
            status = path.stat()
            hasher.update(path.relative_to(root).as_posix().encode() + b"\0")
            if now - status.st_ctime_ns < _SETTLING_NS:
                with path.open("rb") as stream:
                    hasher.update(b"bytes\0" + stream.read(MAX_FILE_BYTES + 1) + b"\0")
            else:
                hasher.update(f"{status.st_size}\0{status.st_ino}\0{status.st_mtime_ns}\0"
                              f"{status.st_ctime_ns}\0".encode())
    except OSError:
        return None
    return hasher.hexdigest()


def _digest(root: Path, files: Iterable[Path]) -> str:
    hasher = hashlib.sha256()
    for path in sorted(files):
        hasher.update(path.relative_to(root).as_posix().encode())
        hasher.update(b"\0")
        with path.open("rb") as stream:  # a larger file is refused when loaded, never cached
            hasher.update(stream.read(MAX_FILE_BYTES + 1))
        hasher.update(b"\0")
    return hasher.hexdigest()


def _example_problems(
    rule: Rule, file: str, doc: LocatedDocument
) -> list[LoadProblem]:
    problems = []
    for outcome in ("fires", "silent"):
        for index, example in enumerate(getattr(rule.examples, outcome)):
            try:
                Requirements.model_validate_json(json.dumps(example.requirements))
            except ValidationError as error:
                base: Path_ = ("examples", outcome, index, "requirements")
                problems.extend(_pydantic_problems(error, file, doc, rule.id, base))
            except (TypeError, ValueError) as error:
                loc: Path_ = ("examples", outcome, index)
                problems.append(
                    LoadProblem(file, doc.line_of(loc), rule.id, "examples", str(error))
                )
    return problems


def _exception_problems(rule: Rule, file: str, doc: LocatedDocument) -> list[LoadProblem]:
    """An exception that repeats, or can never hold beside, a clause of the rule's own ``when``
    decides nothing: it is a slip, refused with its line."""
    problems = []
    if rule.unless and not rule.not_when:
        problems.append(
            LoadProblem(file, doc.line_of(("unless",)), rule.id, "unless",
                        "exceptions need 'not_when': the prose the report shows for them",
                        "add not_when: the case in which the advice does not hold")
        )
    for index, exception in enumerate(rule.unless):
        for clause in rule.when:
            if clause.fact != exception.fact:
                continue
            if (clause.operator, clause.operand) == (exception.operator, exception.operand):
                problem = f"repeats a 'when' clause on {exception.fact}, so the rule never fires"
            elif clause.operator is Operator.equals and exception.operator is Operator.equals:
                problem = (f"{exception.fact} is already required to equal {clause.operand!r}, "
                           "so this exception can never hold")
            else:
                continue
            problems.append(
                LoadProblem(file, doc.line_of(("unless", index)), rule.id, f"unless[{index}]",
                            problem, "remove the exception or the clause")
            )
    return problems


def _given_when_fires(rule: Rule) -> set[str]:
    """Facts a rule can only fire with a value for."""
    return {clause.fact for clause in rule.when if needs_fact(clause.operator, clause.operand)}


def _purpose_problems(
    rule: Rule,
    file: str,
    doc: LocatedDocument,
    facts: dict[str, FactSpec],
    pillars: dict[str, Pillar],
    rule_ids: set[str],
    formulas: dict[str, Formula],
) -> list[LoadProblem]:
    """Cross-reference checks for capacity, conflict and review rules."""
    problems: list[LoadProblem] = []

    def problem(loc: Path_, where: str, text: str, hint: str = "") -> None:
        problems.append(LoadProblem(file, doc.line_of(loc), rule.id, where, text, hint))

    given = _given_when_fires(rule)
    if rule.capacity is not None:
        capacity = rule.capacity
        try:
            formula = parse_formula(capacity.formula)
        except FormulaError as error:
            problem(("capacity", "formula"), "capacity.formula", str(error))
        else:
            formulas[rule.id] = formula
            for name in sorted(formula.names - set(capacity.inputs)):
                problem(("capacity", "formula"), "capacity.formula",
                        f"'{name}' is not a declared input",
                        f"declared: {', '.join(sorted(capacity.inputs))}")
            for name in sorted(set(capacity.inputs) - formula.names):
                problem(("capacity", "inputs", name), f"capacity.inputs.{name}",
                        "declared but not used in the formula")
        for name, fact in capacity.inputs.items():
            loc: Path_ = ("capacity", "inputs", name)
            spec = facts.get(fact)
            if spec is None:
                problem(loc, f"capacity.inputs.{name}", f"unknown fact '{fact}'",
                        _suggest(fact, facts))
            elif spec.type != "number":
                problem(loc, f"capacity.inputs.{name}", f"'{fact}' is not a number")
            elif fact not in given:
                problem(loc, f"capacity.inputs.{name}",
                        f"'{fact}' may be unknown when the rule fires",
                        f"add a clause on it to 'when', e.g. {{fact: {fact}, exists: true}}")
    if rule.conflict is not None:
        for index, side in enumerate(rule.conflict.sides):
            for fact in side.facts:
                if fact not in given:
                    problem(("conflict", "sides", index, "facts"),
                            f"conflict.sides[{index}].facts",
                            f"'{fact}' is not tested by this rule's 'when'",
                            "a side names requirements the rule has matched")
        for index, other in enumerate(rule.conflict.involves):
            if other not in rule_ids:
                problem(("conflict", "involves", index), f"conflict.involves[{index}]",
                        f"unknown rule '{other}'", _suggest(other, rule_ids))
    if rule.review is not None and rule.review.pillar not in pillars:
        problem(("review", "pillar"), "review.pillar",
                f"unknown pillar '{rule.review.pillar}'",
                _suggest(rule.review.pillar, pillars) or "define it in rules/_pillars.yaml")
    return problems


def _invariant_problems(
    root: Path, invariants: dict[str, Invariant], components: dict[str, Component],
    slots: dict[str, Slot], sources: dict[str, Source], fact_specs: dict[str, FactSpec],
) -> list[LoadProblem]:
    """Names in the invariants that the rest of the knowledge base does not define."""
    path = root / "_invariants.yaml"
    file = _location(path, root)
    found: list[tuple[Path_, str, str, str, str]] = []
    for index, invariant in enumerate(invariants.values()):
        for position, clause in enumerate(invariant.when):
            where: Path_ = ("invariants", index, "when", position)
            if clause.fact.startswith(DECISION_PREFIX):
                found.append((where, invariant.id, f"when[{position}].fact",
                              "an invariant applies on requirements, not on decisions",
                              "test a requirement fact"))
                continue
            for suffix, problem, hint in clause_problems(clause, fact_specs):
                found.append((where, invariant.id, f"when[{position}].{suffix}", problem, hint))
        for name in ("components", "from_components", "to_components"):
            for position, component in enumerate(getattr(invariant, name)):
                if component not in components:
                    found.append((("invariants", index, name, position), invariant.id,
                                  f"{name}[{position}]", f"unknown component '{component}'",
                                  _suggest(component, components)
                                  or "define it in rules/_components.yaml"))
        for position, slot in enumerate(invariant.slots):
            if slot not in slots:
                found.append((("invariants", index, "slots", position), invariant.id,
                              f"slots[{position}]", f"unknown slot '{slot}'",
                              _suggest(slot, slots) or "define it in rules/_slots.yaml"))
        for position, citation in enumerate(invariant.citations):
            if citation.source not in sources:
                found.append((("invariants", index, "citations", position, "source"),
                              invariant.id, f"citations[{position}].source",
                              f"unknown source '{citation.source}'",
                              _suggest(citation.source, sources)
                              or "register it in rules/_sources.yaml"))
    if not found:
        return []
    # Only read again to point at the lines; the registry itself has already loaded.
    doc = _read(path, root, [])
    return [LoadProblem(file, doc.line_of(where) if doc else 1, ident, name, problem, hint)
            for where, ident, name, problem, hint in found]


def _knowledge_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*.yaml")
        if path.parent != root and not path.name.startswith("_")
    )


def load_catalog(root: Path, use_cache: bool = True) -> Catalog:
    """Load every knowledge file under ``root``; raise ``CatalogError`` listing all problems.

    A catalog validated before from the same, unchanged files is read from the user cache
    (``_fingerprint``).
    """
    root = root.resolve()
    entry = None
    if use_cache and root.is_dir() and all((root / name).is_file() for name in REGISTRY_FILES):
        files = [root / name for name in REGISTRY_FILES] + _knowledge_files(root)
        files += [root / name for name in OPTIONAL_REGISTRY_FILES if (root / name).is_file()]
        fingerprint = _fingerprint(root, files)
        if fingerprint is not None:
            entry = "catalog-" + cache.key(str(root), fingerprint)
            cached = _from_entry(cache.load(entry), root)
            if cached is not None:
                return cached
    catalog = _load_catalog(root)
    if entry is not None:
        cache.store(entry, _to_entry(catalog))
    return catalog


class _CatalogEntry(BaseModel):
    """A validated catalog as the cache keeps it: plain JSON data, which cannot run code when
    read, and is validated by the same models as the rule files when it is read back."""

    rules: tuple[Rule, ...]
    rule_files: dict[str, str]
    components: dict[str, Component]
    slots: dict[str, Slot]
    sources: dict[str, Source]
    areas: dict[str, Area]
    facts: dict[str, FactSpec]
    strata: tuple[tuple[str, ...], ...]
    digest: str
    slot_levels: dict[str, int]
    pillars: dict[str, Pillar]
    invariants: dict[str, Invariant]


def _to_entry(catalog: Catalog) -> bytes:
    fields = {name: getattr(catalog, name) for name in _CatalogEntry.model_fields}
    # exclude_unset: each model reads back with the same fields set as when it was loaded.
    entry = _CatalogEntry.model_construct(**fields)
    return entry.model_dump_json(by_alias=True, exclude_unset=True).encode()


def _from_entry(data: bytes | None, root: Path) -> Catalog | None:
    """The catalog in a cache entry, or None when there is none or it does not validate."""
    if data is None:
        return None
    # Validating builds about a hundred thousand objects, and the collector would walk the
    # growing heap again and again meanwhile (a third of the time); they hold no cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        entry = _CatalogEntry.model_validate_json(data)
        # Formulas are parsed again, through the same checks as when the rules loaded.
        formulas = {rule.id: parse_formula(rule.capacity.formula)
                    for rule in entry.rules if rule.capacity is not None}
        return Catalog(root=root, formulas=formulas,
                       **{name: getattr(entry, name) for name in _CatalogEntry.model_fields})
    except Exception:  # an entry that does not make a valid catalog is rebuilt
        return None
    finally:
        if collecting:
            gc.enable()


def _load_catalog(root: Path) -> Catalog:
    problems: list[LoadProblem] = []
    if not root.is_dir():
        raise CatalogError([LoadProblem(str(root), 1, "-", "(rules)", "not a directory")])
    areas: dict[str, Area] = _load_registry(root, "_areas.yaml", "areas", Area, problems)
    components: dict[str, Component] = _load_registry(
        root, "_components.yaml", "components", Component, problems
    )
    slots: dict[str, Slot] = _load_registry(root, "_slots.yaml", "slots", Slot, problems)
    sources: dict[str, Source] = _load_registry(
        root, "_sources.yaml", "sources", Source, problems
    )
    pillars: dict[str, Pillar] = _load_registry(
        root, "_pillars.yaml", "pillars", Pillar, problems, optional=True
    )
    invariants: dict[str, Invariant] = _load_registry(
        root, "_invariants.yaml", "invariants", Invariant, problems, optional=True
    )
    unknown_sources = [
        (index, position, pillar, citation.source)
        for index, pillar in enumerate(pillars.values())
        for position, citation in enumerate(pillar.citations)
        if citation.source not in sources
    ]
    if unknown_sources:
        # Only read again to point at the line; the registry itself has already loaded.
        pillars_doc = _read(root / "_pillars.yaml", root, problems)
        for index, position, pillar, source in unknown_sources:
            where: Path_ = ("pillars", index, "citations", position, "source")
            problems.append(
                LoadProblem(_location(root / "_pillars.yaml", root),
                            pillars_doc.line_of(where) if pillars_doc else 1, pillar.id,
                            f"citations[{position}].source", f"unknown source '{source}'",
                            _suggest(source, sources) or "register it in rules/_sources.yaml")
            )

    rule_paths = _knowledge_files(root)
    rules: list[Rule] = []
    rule_files: dict[str, str] = {}
    docs: dict[str, LocatedDocument] = {}
    for path in rule_paths:
        file = _location(path, root)
        doc = _read(path, root, problems)
        if doc is None:
            continue
        raw = doc.data
        rule_id = str(raw.get("id", "-")) if isinstance(raw, dict) else "-"
        try:
            rule = Rule.model_validate(raw)
        except ValidationError as error:
            problems.extend(_pydantic_problems(error, file, doc, rule_id))
            continue
        if rule.id in rule_files:
            problems.append(
                LoadProblem(file, doc.line_of(("id",)), rule.id, "id",
                            f"duplicate rule id, also in {rule_files[rule.id]}")
            )
            continue
        folder = path.parent.relative_to(root).as_posix()
        if not path.stem.startswith(f"{rule.id}-") or not re.fullmatch(
            r"[A-Z]+-[0-9]{3}-[a-z0-9-]+", path.stem
        ):
            problems.append(
                LoadProblem(file, doc.line_of(("id",)), rule.id, "id",
                            "file name does not match the rule id",
                            f"name it {rule.id}-<slug>.yaml")
            )
        if rule.area != folder:
            problems.append(
                LoadProblem(file, doc.line_of(("area",)), rule.id, "area",
                            f"area '{rule.area}' does not match folder '{folder}'",
                            f"move the file to rules/{rule.area}/ or set area: {folder}")
            )
        area = areas.get(rule.area)
        if area is None:
            problems.append(
                LoadProblem(file, doc.line_of(("area",)), rule.id, "area",
                            f"unknown area '{rule.area}'", _suggest(rule.area, areas))
            )
        elif not rule.id.startswith(f"{area.prefix}-"):
            problems.append(
                LoadProblem(file, doc.line_of(("id",)), rule.id, "id",
                            f"ids in area '{rule.area}' start with {area.prefix}-")
            )
        rules.append(rule)
        rule_files[rule.id] = file
        docs[rule.id] = doc

    fact_specs: dict[str, FactSpec] = {**requirement_fact_specs(), **derived_fact_specs()}
    fact_specs.update(_decision_specs(slots, rules, components))

    formulas: dict[str, Formula] = {}
    rule_ids = {rule.id for rule in rules}
    for rule in rules:
        file, doc = rule_files[rule.id], docs[rule.id]
        problems.extend(
            _purpose_problems(rule, file, doc, fact_specs, pillars, rule_ids, formulas)
        )
        for field_name in ("when", "unless"):
            for index, clause in enumerate(getattr(rule, field_name)):
                for suffix, problem, hint in clause_problems(clause, fact_specs):
                    loc: Path_ = (field_name, index, suffix)
                    problems.append(
                        LoadProblem(file, doc.line_of(loc), rule.id,
                                    f"{field_name}[{index}].{suffix}", problem, hint)
                    )
        problems.extend(_exception_problems(rule, file, doc))
        if rule.recommend is not None:
            if rule.recommend.slot not in slots:
                problems.append(
                    LoadProblem(file, doc.line_of(("recommend", "slot")), rule.id,
                                "recommend.slot", f"unknown slot '{rule.recommend.slot}'",
                                _suggest(rule.recommend.slot, slots))
                )
            chosen = components.get(rule.recommend.component)
            if chosen is not None and chosen.category is ComponentCategory.practice and (
                rule.connects or rule.reroutes
            ):
                problems.append(
                    LoadProblem(file, doc.line_of(("recommend", "component")), rule.id,
                                "connects",
                                f"'{chosen.id}' is a practice, which is not drawn, so its rule "
                                "cannot add or reroute edges", "remove 'connects'/'reroutes'")
                )
            part = rule.recommend.existing
            if part is not None and not any(
                    clause.fact == f"existing.{part.value}"
                    and clause.operator in (Operator.equals, Operator.one_of)
                    for clause in rule.when):
                problems.append(
                    LoadProblem(file, doc.line_of(("recommend", "existing")), rule.id,
                                "recommend.existing",
                                f"a rule that keeps the existing {part.value} must test what is "
                                "in place",
                                f"add a clause such as {{fact: existing.{part.value}, "
                                "equals: ...}")
                )
            if rule.recommend.component not in components:
                problems.append(
                    LoadProblem(file, doc.line_of(("recommend", "component")), rule.id,
                                "recommend.component",
                                f"unknown component '{rule.recommend.component}'",
                                _suggest(rule.recommend.component, components)
                                or "add it to rules/_components.yaml")
                )
        for index, edge in enumerate(rule.connects):
            for end_name, end in (("from", edge.from_), ("to", edge.to)):
                if end != "self" and end not in slots:
                    problems.append(
                        LoadProblem(file, doc.line_of(("connects", index, end_name)), rule.id,
                                    f"connects[{index}].{end_name}", f"unknown slot '{end}'",
                                    _suggest(end, [*slots, "self"]))
                    )
        for index, reroute in enumerate(rule.reroutes):
            for end_name, end in (("from", reroute.from_), ("to", reroute.to)):
                if end not in slots:
                    problems.append(
                        LoadProblem(file, doc.line_of(("reroutes", index, end_name)), rule.id,
                                    f"reroutes[{index}].{end_name}", f"unknown slot '{end}'",
                                    _suggest(end, slots))
                    )
        for index, rejection in enumerate(rule.rejects):
            if rejection.component not in components:
                problems.append(
                    LoadProblem(file, doc.line_of(("rejects", index, "component")), rule.id,
                                f"rejects[{index}].component",
                                f"unknown component '{rejection.component}'",
                                _suggest(rejection.component, components))
                )
            elif rule.recommend and rejection.component == rule.recommend.component:
                problems.append(
                    LoadProblem(file, doc.line_of(("rejects", index, "component")), rule.id,
                                f"rejects[{index}].component",
                                "a rule cannot reject the component it recommends")
                )
        for index, citation in enumerate(rule.citations):
            if citation.source not in sources:
                problems.append(
                    LoadProblem(file, doc.line_of(("citations", index, "source")), rule.id,
                                f"citations[{index}].source",
                                f"unknown source '{citation.source}'",
                                _suggest(citation.source, sources)
                                or "register it in rules/_sources.yaml")
                )
        problems.extend(_example_problems(rule, file, doc))

    for slot in slots.values():
        for index, clause in enumerate(slot.relevant_when_any):
            for suffix, problem, hint in clause_problems(clause, fact_specs):
                problems.append(
                    LoadProblem(_location(root / "_slots.yaml", root), 1, slot.id,
                                f"relevant_when_any[{index}].{suffix}", problem, hint)
                )
    problems.extend(_invariant_problems(root, invariants, components, slots, sources,
                                        fact_specs))
    entries = [slot.id for slot in slots.values() if slot.entry]
    if slots and not entries:
        problems.append(
            LoadProblem(_location(root / "_slots.yaml", root), 1, "-", "entry",
                        "no slot is marked 'entry: true'", "the graph needs a client entry")
        )

    strata, slot_levels = _stratify(rules, rule_files, problems)
    if problems:
        raise CatalogError(problems)
    all_files = [root / name for name in REGISTRY_FILES] + rule_paths
    all_files += [root / name for name in OPTIONAL_REGISTRY_FILES if (root / name).is_file()]
    return Catalog(
        root=root,
        rules=tuple(sorted(rules, key=lambda rule: rule.id)),
        rule_files=rule_files,
        components=components,
        slots=slots,
        sources=sources,
        areas=areas,
        facts=fact_specs,
        strata=strata,
        digest=_digest(root, all_files),
        slot_levels=slot_levels,
        pillars=pillars,
        formulas=formulas,
        invariants=invariants,
    )
