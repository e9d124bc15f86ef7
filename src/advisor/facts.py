"""Requirements -> facts: the one place where the engine's input is computed.

A fact is a flat ``section.field`` name with a scalar value. Unknown requirements are *absent*
(never a default), so a clause on them does not hold and the report lists them as assumptions.
Derived facts, computed here and nowhere else, keep every rule a conjunction of simple clauses.
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, TypeGuard, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from advisor.models.requirements import LatencyTarget, Requirements

FactValue = bool | int | float | str | tuple[str, ...]
Facts = Mapping[str, FactValue]
FactType = Literal["bool", "number", "enum", "string", "set"]


@dataclass(frozen=True)
class FactSpec:
    """What a fact can hold, so rule clauses can be checked against it when rules load."""

    name: str
    type: FactType
    description: str
    values: tuple[str, ...] = ()
    derived: bool = False
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    minimum_exclusive: bool = False


# latency.band values, fastest first, and the largest p99 in ms that falls in each.
LATENCY_BANDS = tuple(item.value for item in LatencyTarget)
_BAND_CEILINGS_MS = (10.0, 1_000.0, 10_000.0, 60_000.0, 3_600_000.0)


@dataclass(frozen=True)
class _Derived:
    spec: FactSpec
    inputs: tuple[str, ...]


# Derived facts: each names the requirement fields it is computed from (shown in the report).
DERIVED_FACTS: tuple[_Derived, ...] = (
    _Derived(
        FactSpec(
            "traffic.peak_to_average",
            "number",
            "Peak requests/s divided by average requests/s (how bursty the load is).",
            derived=True,
        ),
        ("traffic.peak_rps", "traffic.average_rps"),
    ),
    _Derived(
        FactSpec(
            "security.regulated",
            "bool",
            "At least one compliance regime is in scope.",
            derived=True,
        ),
        ("security.compliance",),
    ),
    _Derived(
        FactSpec(
            "recovery.rto_target_minutes",
            "number",
            "The recovery time objective in minutes: recovery.rto_minutes, or 0 when recovery "
            "must be as fast as possible.",
            derived=True,
            minimum=0,
        ),
        ("recovery.rto_minutes", "recovery.rto_as_low_as_possible"),
    ),
    _Derived(
        FactSpec(
            "recovery.rpo_target_minutes",
            "number",
            "The recovery point objective in minutes: recovery.rpo_minutes, or 0 when data loss "
            "must be as small as possible.",
            derived=True,
            minimum=0,
        ),
        ("recovery.rpo_minutes", "recovery.rpo_as_low_as_possible"),
    ),
    _Derived(
        FactSpec(
            "jobs.serial_work_seconds",
            "number",
            "How long one run of a batch job would take with its items processed one after "
            "another: jobs.item_count times compute.max_duration_seconds (the longest item), in "
            "seconds.",
            derived=True,
            minimum=0,
        ),
        ("jobs.item_count", "compute.max_duration_seconds"),
    ),
    _Derived(
        FactSpec(
            "latency.band",
            "enum",
            "How fast results must arrive: latency.target, or the band latency.p99_ms falls in "
            "(up to 10 ms: lowest_possible; 1 s: real_time; 10 s: seconds; 60 s: "
            "near_real_time; 1 h: minutes; longer: hours); the faster when both are given.",
            values=LATENCY_BANDS,
            derived=True,
        ),
        ("latency.target", "latency.p99_ms"),
    ),
)


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return _unwrap_optional(args[0])
    origin = get_origin(annotation)
    # Constrained numbers arrive as Optional[Annotated[float, ...]]: unwrap to the base type.
    if origin is not None and getattr(origin, "__name__", "") == "Annotated":
        return _unwrap_optional(get_args(annotation)[0])
    return annotation


def _bounds(annotation: Any) -> tuple[float | None, float | None, bool]:
    """The range a constrained number allows, from its metadata; True if the low end is open."""
    low: float | None = None
    high: float | None = None
    open_low = False
    for arg in get_args(annotation):
        # Annotated[float, Field(ge=...)] keeps the bounds in the FieldInfo's own metadata.
        for field_info in getattr(arg, "__metadata__", ()):
            for meta in getattr(field_info, "metadata", [field_info]):
                if getattr(meta, "gt", None) is not None:
                    low, open_low = meta.gt, True
                if getattr(meta, "ge", None) is not None:
                    low = meta.ge
                if getattr(meta, "le", None) is not None:
                    high = meta.le
    return low, high, open_low


def _spec_for(name: str, annotation: Any, description: str) -> FactSpec | None:
    """The fact a field becomes; None for free text and structured entries (constraints
    naming components with a reason), which are carried into the report, never evaluated."""
    base = _unwrap_optional(annotation)
    if get_origin(base) is list:
        (member,) = get_args(base)
        member = _unwrap_optional(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            return None
        values = tuple(item.value for item in member)
        return FactSpec(name, "set", description, values)
    if isinstance(base, type) and issubclass(base, Enum):
        return FactSpec(name, "enum", description, tuple(item.value for item in base))
    if base is bool:
        return FactSpec(name, "bool", description)
    if base in (int, float):
        low, high, open_low = _bounds(annotation)
        return FactSpec(name, "number", description, integer=base is int, minimum=low,
                        maximum=high, minimum_exclusive=open_low)
    if base is str:
        return None
    raise TypeError(f"unsupported requirement field type for {name}: {annotation!r}")


def requirement_fields() -> Iterator[tuple[str, str, FieldInfo]]:
    """(section, field name, field) for every field of the requirements model, in model order."""
    for section_name, section_field in Requirements.model_fields.items():
        section_model = section_field.annotation
        assert isinstance(section_model, type) and issubclass(section_model, BaseModel)
        for field_name, field in section_model.model_fields.items():
            yield section_name, field_name, field


def requirement_fact_specs() -> dict[str, FactSpec]:
    """Every requirement field as a fact spec, generated from the requirements model."""
    specs: dict[str, FactSpec] = {}
    for section_name, field_name, field in requirement_fields():
        name = f"{section_name}.{field_name}"
        spec = _spec_for(name, field.annotation, field.description or "")
        if spec is not None:
            specs[name] = spec
    return specs


_REQUIREMENT_SPECS = requirement_fact_specs()


_DERIVED_NAMES = frozenset(item.spec.name for item in DERIVED_FACTS)


# Facts that state what already runs: a part left out means none is in place (never an
# assumption), and what-if analysis never changes them (they are not the user's to choose).
FIXED_PREFIX = "existing."


def is_fixed(fact: str) -> bool:
    """Whether ``fact`` describes what already runs rather than a requirement."""
    return fact.startswith(FIXED_PREFIX)


def derived_fact_specs() -> dict[str, FactSpec]:
    """The derived facts computed by ``build_facts``."""
    return {item.spec.name: item.spec for item in DERIVED_FACTS}


def derived_fact_inputs() -> dict[str, tuple[str, ...]]:
    """For each derived fact, the requirement fields it is computed from."""
    return {item.spec.name: item.inputs for item in DERIVED_FACTS}


# Numbers are compared at this many decimal places. Besides keeping reports tidy, it keeps
# every fact printable without an exponent (1e-05), which durable-rules cannot parse.
DECIMALS = 4


def _plain(value: Any) -> FactValue:
    if isinstance(value, float):
        rounded = round(value, DECIMALS)
        return int(rounded) if rounded.is_integer() else rounded
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return tuple(sorted(str(item.value if isinstance(item, Enum) else item) for item in value))
    if isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"unsupported fact value {value!r}")  # pragma: no cover


def requirement_facts(requirements: Requirements) -> dict[str, FactValue]:
    """The known requirement values as flat facts; unknown (None) fields are left out."""
    facts: dict[str, FactValue] = {}
    for section_name in Requirements.model_fields:
        facts.update(section_facts(section_name, getattr(requirements, section_name)))
    return facts


def section_facts(section_name: str, section: BaseModel) -> dict[str, FactValue]:
    """The known values of one requirements section as flat facts, in model order."""
    facts: dict[str, FactValue] = {}
    specs = _REQUIREMENT_SPECS
    # Only fields set when the model was built can hold a value (every default is None);
    # most profiles give a few of the ~150 fields, so this skips most of them.
    given = section.model_fields_set
    for field_name in type(section).model_fields:
        if field_name not in given:
            continue
        name = f"{section_name}.{field_name}"
        value = getattr(section, field_name)
        if value is not None and name in specs:
            facts[name] = _plain(value)
    return facts


def build_facts(requirements: Requirements) -> dict[str, FactValue]:
    """Requirement facts plus every derived fact whose inputs are known, in sorted key order."""
    return with_derived_facts(requirement_facts(requirements))


def with_derived_facts(given: Mapping[str, FactValue]) -> dict[str, FactValue]:
    """Requirement facts (as ``requirement_facts`` gives them) plus every derived fact whose
    inputs are known, in sorted key order; derived facts already in ``given`` are recomputed."""
    facts = {name: value for name, value in given.items() if name not in _DERIVED_NAMES}
    peak = facts.get("traffic.peak_rps")
    average = facts.get("traffic.average_rps")
    if isinstance(peak, int | float) and isinstance(average, int | float) and average > 0:
        facts["traffic.peak_to_average"] = _plain(float(peak) / float(average))
    compliance = facts.get("security.compliance")
    if isinstance(compliance, tuple):
        facts["security.regulated"] = len(compliance) > 0
    for kind in ("rto", "rpo"):
        minutes = facts.get(f"recovery.{kind}_minutes")
        if _is_number(minutes):
            facts[f"recovery.{kind}_target_minutes"] = minutes
        elif facts.get(f"recovery.{kind}_as_low_as_possible") is True:
            facts[f"recovery.{kind}_target_minutes"] = 0
    items = facts.get("jobs.item_count")
    longest = facts.get("compute.max_duration_seconds")
    if _is_number(items) and _is_number(longest):
        facts["jobs.serial_work_seconds"] = _plain(float(items) * float(longest))
    bands = []
    target = facts.get("latency.target")
    if isinstance(target, str):
        bands.append(LATENCY_BANDS.index(target))
    p99 = facts.get("latency.p99_ms")
    if _is_number(p99):
        bands.append(sum(float(p99) > ceiling for ceiling in _BAND_CEILINGS_MS))
    if bands:
        facts["latency.band"] = LATENCY_BANDS[min(bands)]
    return dict(sorted(facts.items()))


def inputs_for_derived(
    fact: str, value: FactValue, given: Mapping[str, FactValue]
) -> dict[str, FactValue] | None:
    """Requirement values that would give the derived ``fact`` this ``value``, changing one of its
    inputs and keeping the others as ``given``; None when no single input can."""
    if fact == "traffic.peak_to_average":
        if not _is_number(value) or float(value) <= 0:
            return None
        average = given.get("traffic.average_rps")
        if _is_number(average) and float(average) > 0:
            return {"traffic.peak_rps": _plain(float(value) * float(average))}
        peak = given.get("traffic.peak_rps")
        if _is_number(peak) and float(peak) > 0:
            return {"traffic.average_rps": _plain(float(peak) / float(value))}
        return None
    if fact in ("recovery.rto_target_minutes", "recovery.rpo_target_minutes"):
        kind = fact.split(".")[1][:3]
        if not _is_number(value) or given.get(f"recovery.{kind}_as_low_as_possible") is True:
            return None
        return {f"recovery.{kind}_minutes": _plain(float(value))}
    if fact == "jobs.serial_work_seconds":
        if not _is_number(value) or float(value) < 0:
            return None
        longest = given.get("compute.max_duration_seconds")
        if _is_number(longest) and float(longest) > 0:
            # A whole number of items at least as large as the value needs.
            return {"jobs.item_count": math.ceil(float(value) / float(longest))}
        items = given.get("jobs.item_count")
        if _is_number(items) and float(items) > 0:
            return {"compute.max_duration_seconds": _plain(float(value) / float(items))}
        return None
    if fact == "latency.band" and isinstance(value, str):
        # Only a stated target can be moved to a band; a measured p99 would have to change too.
        if "latency.p99_ms" in given or value not in LATENCY_BANDS:
            return None
        return {"latency.target": value}
    if fact == "security.regulated" and isinstance(value, bool):
        if not value:
            return {"security.compliance": ()}
        current = given.get("security.compliance")
        if isinstance(current, tuple) and current:
            return {}
        return {"security.compliance": _REQUIREMENT_SPECS["security.compliance"].values[:1]}
    return None


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def unknown_requirements(requirements: Requirements) -> list[str]:
    """Names of every requirement field the user did not give, in model order."""
    known = requirement_facts(requirements)
    return [name for name in requirement_fact_specs() if name not in known]
