"""Schema of the knowledge files under ``rules/``: rules, components, slots and sources.

These models check shape only. Cross-references (a clause's fact exists, a component is in the
vocabulary, a citation's source is registered) are checked by ``catalog.py``, which has the
registries at hand.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from advisor.models.requirements import ExistingPart

RULE_ID_PATTERN = r"^[A-Z]{2,8}-[0-9]{3}$"
SLUG_PATTERN = r"^[a-z][a-z0-9_]*$"
Scalar = bool | int | float | str


class Strict(BaseModel):
    """Knowledge files reject unknown keys so a typo never silently disables a rule."""

    # Validators are built on first use: a run that loads the catalog from the cache never
    # validates a rule, so it skips building them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# The keys that give a rule its purpose; a rule has at most one (none: a wiring rule).
_PURPOSE_FIELDS = ("recommend", "warn", "capacity", "conflict", "review")


class Strength(str, Enum):
    strong = "strong"
    moderate = "moderate"
    advisory = "advisory"


class EdgeKind(str, Enum):
    """How two components talk; drawn differently in the diagram."""

    sync_request = "sync_request"
    async_message = "async_message"
    replication = "replication"
    read_write = "read_write"
    read = "read"
    write = "write"
    event = "event"


class Operator(str, Enum):
    equals = "equals"
    not_equals = "not_equals"
    one_of = "one_of"
    gt = "gt"
    gte = "gte"
    lt = "lt"
    lte = "lte"
    contains = "contains"
    exists = "exists"


OPERATORS = tuple(op.value for op in Operator)


class Clause(Strict):
    """One test on one fact. Exactly one operator key may be given."""

    fact: str = Field(pattern=r"^[a-z_]+(\.[a-z_0-9]+)+$")
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    one_of: list[Scalar] | None = Field(None, min_length=2)
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    contains: str | None = None
    exists: bool | None = None

    _operator: Operator = PrivateAttr()

    @model_validator(mode="after")
    def _exactly_one_operator(self) -> Clause:
        given = [op for op in OPERATORS if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a clause needs exactly one operator, found {len(given)} "
                f"({', '.join(given) or 'none'}); allowed: {', '.join(OPERATORS)}"
            )
        self._operator = Operator(given[0])
        return self

    # Both read the private attribute from pydantic's own store: ``self._operator`` goes
    # through ``BaseModel.__getattr__``, which cost compiling the rules about 40 of its 64 ms
    # at each start (docs/benchmarks.md, *Cold start*).
    @property
    def operator(self) -> Operator:
        """The single operator this clause uses."""
        operator: Operator = self.__pydantic_private__["_operator"]  # type: ignore[index]
        return operator

    @property
    def operand(self) -> Any:
        """The value the operator compares with."""
        return self.__dict__[self.__pydantic_private__["_operator"].value]  # type: ignore[index]


class Connection(Strict):
    """An edge the rule adds; endpoints are slot ids, or ``self`` for the rule's own slot."""

    from_: str = Field(alias="from", pattern=SLUG_PATTERN)
    to: str = Field(pattern=SLUG_PATTERN)
    kind: EdgeKind
    label: str = Field(min_length=1, max_length=80)


class Reroute(Strict):
    """A direct edge the rule's component now sits in the middle of; it is not drawn."""

    from_: str = Field(alias="from", pattern=SLUG_PATTERN)
    to: str = Field(pattern=SLUG_PATTERN)


class Recommendation(Strict):
    slot: str = Field(pattern=SLUG_PATTERN)
    component: str = Field(pattern=SLUG_PATTERN)
    settings: list[str] = Field(default_factory=list)
    # The part of the `existing` section this recommendation keeps in place: the component is
    # what already runs. Such a rule always wins its slot when the part is listed under
    # constraints.keep; a rule that disagrees then shows as a conflict.
    existing: ExistingPart | None = None


class Warning_(Strict):
    """A documented limit the requirements break, and what to do about it."""

    message: str = Field(min_length=10)
    remedy: str = Field(min_length=10)


class CapacityLimit(Strict):
    """A documented ceiling on the computed figure and what to do when it is passed."""

    above: float
    message: str = Field(min_length=10)
    remedy: str = Field(min_length=10)


class Capacity(Strict):
    """A sizing figure computed from requirement values with a cited formula."""

    figure: str = Field(min_length=3, max_length=80)
    unit: str = Field(min_length=1, max_length=40)
    formula: str = Field(min_length=1, max_length=300)
    # formula variable name (lower_snake_case) -> the number fact it reads
    inputs: dict[Annotated[str, Field(pattern=SLUG_PATTERN)], str] = Field(min_length=1)
    explanation: str = Field(min_length=10)
    limits: list[CapacityLimit] = Field(default_factory=list)


class ConflictSide(Strict):
    """One requirement (or several) and what it asks of the design."""

    facts: list[str] = Field(min_length=1)
    wants: str = Field(min_length=10)


class Conflict(Strict):
    """Requirements that cannot all hold at once, the rules whose advice collides, a way out."""

    sides: list[ConflictSide] = Field(min_length=2)
    explanation: str = Field(min_length=20)
    resolution: str = Field(min_length=10)
    involves: list[str] = Field(default_factory=list)


class ReviewKind(str, Enum):
    strength = "strength"
    risk = "risk"


class Review(Strict):
    """A Well-Architected review finding about the recommended design."""

    pillar: str = Field(pattern=SLUG_PATTERN)
    kind: ReviewKind
    finding: str = Field(min_length=20)


class Rejection(Strict):
    component: str = Field(pattern=SLUG_PATTERN)
    because: str = Field(min_length=10)


class Citation(Strict):
    source: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    quote: str | None = Field(None, min_length=3, max_length=400)
    note: str | None = None

    @model_validator(mode="after")
    def _quote_or_note(self) -> Citation:
        if self.quote is None and self.note is None:
            raise ValueError("a citation needs a quote (seed text) or a note (what the page says)")
        return self


class Example(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    requirements: dict[str, Any]


class Examples(Strict):
    fires: list[Example] = Field(min_length=1)
    silent: list[Example] = Field(min_length=1)


class Rule(Strict):
    """One decision unit: when every clause holds, recommend a component or warn."""

    id: str = Field(pattern=RULE_ID_PATTERN)
    title: str = Field(min_length=10, max_length=120)
    area: str = Field(pattern=SLUG_PATTERN)
    strength: Strength
    priority: int = Field(ge=0, le=100)
    when: list[Clause] = Field(min_length=1)
    recommend: Recommendation | None = None
    warn: Warning_ | None = None
    capacity: Capacity | None = None
    conflict: Conflict | None = None
    review: Review | None = None
    connects: list[Connection] = Field(default_factory=list)
    reroutes: list[Reroute] = Field(default_factory=list)
    rejects: list[Rejection] = Field(default_factory=list)
    rationale: str = Field(min_length=20)
    not_when: str | None = None
    # The part of `not_when` that can be written as clauses: the rule never fires while any
    # of them holds. A clause on an unknown fact does not hold, so an exception only applies
    # when the requirements say so.
    unless: list[Clause] = Field(default_factory=list)
    citations: list[Citation] = Field(min_length=1)
    examples: Examples

    @model_validator(mode="after")
    def _one_purpose(self) -> Rule:
        # A rule fills a slot (recommend), flags a broken limit (warn), sizes something
        # (capacity), names requirements that cannot all hold (conflict), adds a review finding
        # (review), or only wires already-chosen components together (connects alone).
        purposes = [name for name in _PURPOSE_FIELDS if getattr(self, name) is not None]
        if len(purposes) > 1:
            raise ValueError(
                f"a rule has one purpose, found {', '.join(purposes)}; allowed: one of "
                f"{', '.join(_PURPOSE_FIELDS)}, or 'connects' alone"
            )
        if self.reroutes and self.recommend is None:
            raise ValueError("only a 'recommend' rule can reroute edges through its component")
        if purposes and purposes[0] != "recommend" and (self.connects or self.rejects):
            raise ValueError(f"a '{purposes[0]}' rule cannot add edges or reject components")
        if not purposes:
            if not self.connects:
                raise ValueError(
                    "a rule needs 'recommend' (fills a slot), 'warn' (a broken limit), "
                    "'capacity', 'conflict', 'review', or 'connects' alone (wires chosen "
                    "components)"
                )
            if self.rejects:
                raise ValueError("a wiring rule (connects only) cannot reject components")
            if any("self" in (edge.from_, edge.to) for edge in self.connects):
                raise ValueError("a wiring rule has no slot of its own: 'self' is not allowed")
        return self

    @property
    def purpose(self) -> str:
        """'recommend', 'warn', 'capacity', 'conflict', 'review' or 'wire'."""
        for name in _PURPOSE_FIELDS:
            if getattr(self, name) is not None:
                return name
        return "wire"

    @property
    def slot(self) -> str | None:
        """The slot this rule fills, or None for a warning rule."""
        return self.recommend.slot if self.recommend else None


class ComponentCategory(str, Enum):
    client = "client"
    edge = "edge"
    front_door = "front_door"
    compute = "compute"
    datastore = "datastore"
    cache = "cache"
    messaging = "messaging"
    storage = "storage"
    analytics = "analytics"
    security = "security"
    network = "network"
    replication = "replication"
    observability = "observability"
    # A configuration or process choice (scaling policy, deployment strategy, DR strategy):
    # reported as a decision, never drawn as a node.
    practice = "practice"


class Resilience(str, Enum):
    """How a component relates to Availability Zones, for the single-point-of-failure check."""

    regional = "regional"  # spans AZs by design (Lambda, DynamoDB, SQS, S3 ...)
    configurable = "configurable"  # Multi-AZ only when deployed so (Aurora, ASG, Redis ...)
    single_az = "single_az"  # cannot replicate across AZs (a Memcached node's data ...)
    external = "external"  # not an AWS resource (clients, producers)
    not_applicable = "not_applicable"  # a practice, not a deployed resource


class Component(Strict):
    id: str = Field(pattern=SLUG_PATTERN)
    service: str = Field(min_length=2)
    label: str = Field(min_length=2, max_length=80)
    category: ComponentCategory
    resilience: Resilience


class Slot(Strict):
    """A place in the architecture that at most one component fills."""

    id: str = Field(pattern=SLUG_PATTERN)
    title: str = Field(min_length=3)
    description: str = Field(min_length=10)
    entry: bool = False
    relevant_when_any: list[Clause] = Field(default_factory=list)


class SourceKind(str, Enum):
    seed = "seed"
    aws_docs = "aws_docs"


class Source(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: SourceKind
    title: str = Field(min_length=3)
    file: str | None = None
    url: str | None = Field(None, pattern=r"^https://")

    @model_validator(mode="after")
    def _locator(self) -> Source:
        if self.kind is SourceKind.seed and not self.file:
            raise ValueError("a seed source needs 'file' (the seed file name)")
        if self.kind is SourceKind.aws_docs and not self.url:
            raise ValueError("an AWS documentation source needs 'url'")
        return self


class Pillar(Strict):
    """A Well-Architected pillar: the review section's headings, with their design principles."""

    id: str = Field(pattern=SLUG_PATTERN)
    title: str = Field(min_length=3)
    principles: list[str] = Field(min_length=1)
    citations: list[Citation] = Field(min_length=1)


class InvariantKind(str, Enum):
    """What a design-wide invariant demands of every recommended design."""

    # None of ``components`` is chosen while ``when`` holds.
    forbidden = "forbidden"
    # At least one of ``components`` is chosen while ``when`` holds.
    required = "required"
    # No edge runs from a node holding one of ``from_components`` straight to a node holding
    # one of ``to_components`` (a connector belongs between them).
    no_direct_edge = "no_direct_edge"
    # No component fills more than one of ``slots`` (one node per role).
    distinct = "distinct"
    # When both of ``slots`` are drawn, the second is reached from the first along drawn
    # edges (requests from the clients arrive at the front door).
    reachable = "reachable"


class Invariant(Strict):
    """A property every recommended design must have, checked on every report. A report whose
    design breaks one lists it; the rule set is then at fault, not the requirements."""

    id: str = Field(pattern=r"^INV-[0-9]{3}$")
    title: str = Field(min_length=10)
    kind: InvariantKind
    # Requirement clauses, all of which must hold for the invariant to apply (none: always).
    when: list[Clause] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    from_components: list[str] = Field(default_factory=list)
    to_components: list[str] = Field(default_factory=list)
    slots: list[str] = Field(default_factory=list)
    # A forbidden component is allowed when a conflict in the same report involves the rule
    # that chose it: the contradiction is then reported, not silent.
    unless_conflict: bool = False
    rationale: str = Field(min_length=20)
    citations: list[Citation] = Field(min_length=1)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Invariant:
        wanted = {
            InvariantKind.forbidden: {"components"},
            InvariantKind.required: {"components"},
            InvariantKind.no_direct_edge: {"from_components", "to_components"},
            InvariantKind.distinct: {"slots"},
            InvariantKind.reachable: {"slots"},
        }[self.kind]
        for name in ("components", "from_components", "to_components", "slots"):
            given = bool(getattr(self, name))
            if name in wanted and not given:
                raise ValueError(f"a '{self.kind.value}' invariant needs '{name}'")
            if name not in wanted and given:
                raise ValueError(f"'{name}' has no meaning in a '{self.kind.value}' invariant")
        if self.kind is InvariantKind.distinct and len(self.slots) < 2:
            raise ValueError("a 'distinct' invariant names at least two slots")
        if self.kind is InvariantKind.reachable and len(self.slots) != 2:
            raise ValueError("a 'reachable' invariant names two slots: where paths start, "
                             "and the slot they must reach")
        if self.unless_conflict and self.kind is not InvariantKind.forbidden:
            raise ValueError("'unless_conflict' applies to 'forbidden' invariants only")
        return self


class Area(Strict):
    id: str = Field(pattern=SLUG_PATTERN)
    prefix: str = Field(pattern=r"^[A-Z]{2,8}$")
    title: str
