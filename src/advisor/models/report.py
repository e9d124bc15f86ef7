"""The recommendation as data: what the JSON output carries and the templates render."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from advisor.engine.base import Firing, MatchedValue
from advisor.models.frozen import FrozenMapping


class Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(Out):
    """A requirement value a rule tested, and what it means."""

    fact: str
    value: MatchedValue
    test: str
    description: str
    derived_from: tuple[str, ...] = ()


class Reference(Out):
    """A numbered entry of the report's source list."""

    number: int
    source: str
    kind: str
    title: str
    location: str


class CitationOut(Out):
    number: int
    source: str
    quote: str | None
    note: str | None


class Alternative(Out):
    """A component the decision rejected, with the reason its rule gives.

    ``constraint`` says when the reason is the requirements' own rather than a rule's:
    'must_not_use' (``because`` is the user's reason; ``rule_id`` the rule that proposed it) or
    'existing' (the component already runs and was not kept; ``because`` is the title of the
    deciding rule ``rule_id``)."""

    component: str
    label: str
    because: str
    rule_id: str
    constraint: str | None = None


class Contender(Out):
    """A rule that fired for the same slot but did not decide it."""

    rule_id: str
    title: str
    component: str
    label: str
    priority: int
    strength: str
    evidence: tuple[Evidence, ...]
    agrees: bool


class Change(Out):
    """One requirement value a flip changes, and the rule clause that asked for it."""

    fact: str
    before: MatchedValue
    after: MatchedValue
    # 'meets': the change makes this clause hold; 'fails': it makes it stop holding; 'lifts':
    # it makes an exception ('unless') of the rule stop holding; 'excepts': makes one hold.
    effect: str
    rule_id: str
    tested_fact: str
    test: str


class Flip(Out):
    """Requirement changes that, re-evaluated, give this slot another component."""

    changes: tuple[Change, ...]
    component: str
    label: str
    rule_id: str
    rule_title: str
    # At least one change gives a value to a requirement that was not given.
    assumed: bool


class Sensitivity(Out):
    """What would change a decision: every confirmed flip (assumptions first, then the
    smallest), the unknown requirements the slot's rules read, and how many candidate changes
    were re-evaluated to find them."""

    flips: tuple[Flip, ...]
    unknown: tuple[str, ...]
    evaluated: int


class Decision(Out):
    """One filled slot: the component, the rule that chose it, why, and what lost."""

    id: str
    slot: str
    slot_title: str
    component: str
    label: str
    service: str
    rule_id: str
    rule_title: str
    strength: str
    priority: int
    round: int
    rationale: str
    not_when: str | None
    settings: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    alternatives: tuple[Alternative, ...]
    contenders: tuple[Contender, ...]
    citations: tuple[CitationOut, ...]
    # None when the sensitivity analysis was not asked for.
    sensitivity: Sensitivity | None = None
    # The component already runs (the deciding rule keeps an existing part in place).
    existing: bool = False
    # 'keep' or 'must_use' when a constraint, not priority, made this rule the winner;
    # ``constraint_reason`` is the user's reason for a must_use.
    constrained_by: str | None = None
    constraint_reason: str | None = None


class Undecided(Out):
    """A slot the requirements make relevant but no rule could fill."""

    slot: str
    slot_title: str
    description: str
    missing: tuple[str, ...]
    candidate_rules: tuple[str, ...]
    # Components a rule proposed for the slot that the constraints forbid.
    excluded: tuple[str, ...] = ()


class WarningOut(Out):
    rule_id: str
    title: str
    strength: str
    message: str
    remedy: str
    evidence: tuple[Evidence, ...]
    citations: tuple[CitationOut, ...]


class WiringOut(Out):
    """A rule that connected components other rules chose, and why."""

    rule_id: str
    title: str
    rationale: str
    edges: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    citations: tuple[CitationOut, ...]


class CapacityInput(Out):
    """One named value a capacity formula reads, and the requirement it comes from."""

    name: str
    fact: str
    value: float | int
    description: str


class CapacityFinding(Out):
    """A documented ceiling the computed figure passes, and the remedy."""

    above: float | int
    message: str
    remedy: str


class CapacityOut(Out):
    """A sizing figure: formula, the inputs it used, the result and any limit it passes."""

    rule_id: str
    title: str
    figure: str
    unit: str
    formula: str
    inputs: tuple[CapacityInput, ...]
    result: float | int | None
    error: str | None
    explanation: str
    findings: tuple[CapacityFinding, ...]
    evidence: tuple[Evidence, ...]
    citations: tuple[CitationOut, ...]


class ConflictSideOut(Out):
    """One side of a conflict: the requirement values and what they ask for."""

    requirements: tuple[Evidence, ...]
    wants: str


class RuleRef(Out):
    rule_id: str
    title: str


class ConflictOut(Out):
    """Requirements that cannot all hold, the rules whose advice collides, and a way out."""

    rule_id: str
    title: str
    sides: tuple[ConflictSideOut, ...]
    explanation: str
    resolution: str
    involves: tuple[RuleRef, ...]
    citations: tuple[CitationOut, ...]


class ConstraintConflict(Out):
    """A constraint that made the design go against a rule's advice: a kept existing part or a
    required component in a slot where the rule wants another component."""

    kind: str  # 'keep' or 'must_use'
    subject: str  # the existing part kept, or the component required
    slot: str
    slot_title: str
    component: str
    label: str
    # When the winner moved the kept part into another role (an API in front of a kept internal
    # load balancer): the kept part's label, while ``label`` names what took its place.
    kept_label: str | None = None
    reason: str | None
    kept_by: str  # the rule that placed the kept or required component
    # The requirement values on the constraint's side.
    constraint_evidence: tuple[Evidence, ...]
    rule_id: str  # the rule whose advice the constraint overrode
    rule_title: str
    wants: str
    wants_label: str
    strength: str
    rationale: str
    evidence: tuple[Evidence, ...]
    citations: tuple[CitationOut, ...]


class ConstraintOutcome(Out):
    """How one stated constraint or existing part was honoured.

    ``kind``: 'existing' (an existing part, neither kept nor replaceable), 'keep',
    'replaceable', 'must_use' or 'must_not_use'. ``status``: 'kept', 'replaced', 'used',
    'outranked' (proposed, but a kept part holds the slot), 'not_placed', 'excluded' or
    'not_proposed'."""

    kind: str
    subject: str
    component: str | None
    label: str | None
    reason: str | None
    status: str
    slots: tuple[str, ...]
    slot_titles: tuple[str, ...]
    chosen: tuple[str, ...]
    candidate_rules: tuple[str, ...]
    missing: tuple[str, ...]


class ReviewFinding(Out):
    rule_id: str
    title: str
    kind: str
    finding: str
    evidence: tuple[Evidence, ...]
    citations: tuple[CitationOut, ...]


class PillarReview(Out):
    """One Well-Architected pillar: its design principles and what the review found."""

    pillar: str
    title: str
    rank: int | None
    principles: tuple[str, ...]
    findings: tuple[ReviewFinding, ...]
    citations: tuple[CitationOut, ...]


class Assumption(Out):
    """A requirement the user did not give that at least one rule consults."""

    fact: str
    description: str
    consulted_by: tuple[str, ...]


class GraphNode(Out):
    id: str
    component: str
    label: str
    service: str
    category: str
    rule_id: str
    existing: bool = False


class GraphEdge(Out):
    source: str
    target: str
    kind: str
    label: str
    rule_id: str


class OmittedEdge(Out):
    source: str
    target: str
    label: str
    rule_id: str
    missing: tuple[str, ...]


class GraphChecks(Out):
    omitted_edges: tuple[OmittedEdge, ...]
    unreachable: tuple[str, ...]
    single_points_of_failure: tuple[str, ...]
    needs_multi_az_configuration: tuple[str, ...]
    multi_az_required: bool


class GraphOut(Out):
    """The component graph in node-link form plus its structural checks."""

    directed: bool
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    checks: GraphChecks
    mermaid: str


class InvariantCitation(Out):
    """A source an invariant rests on, printed with the invariant (it has no number)."""

    source: str
    title: str
    location: str
    quote: str | None
    note: str | None


class Inconsistency(Out):
    """A design-wide invariant the recommended design breaks: a fault of the rule set, reported
    so that no reader takes an incoherent design for advice."""

    invariant_id: str
    title: str
    kind: str
    rationale: str
    # The requirement values that made the invariant apply.
    requirements: tuple[Evidence, ...]
    # The slots, components (with labels) and deciding rules at fault, in slot order; for a
    # 'required' invariant, the components of which none was chosen (no slot, no rule).
    slots: tuple[str, ...]
    components: tuple[str, ...]
    labels: tuple[str, ...]
    rule_ids: tuple[str, ...]
    citations: tuple[InvariantCitation, ...]


class ExceptedRule(Out):
    """A rule whose conditions held but one of whose stated exceptions (``unless``) held too,
    so it did not fire: shown so a reader sees why the advice it gives is absent."""

    rule_id: str
    title: str
    slot: str | None
    component: str | None
    label: str | None
    not_when: str
    # What held: the values of the exception facts, each with the exception's test.
    exceptions: tuple[Evidence, ...]


class Report(Out):
    """Everything one recommendation says; rendered to Markdown or dumped as JSON."""

    tool: str
    version: str
    engine: str
    input_hash: str
    ruleset_hash: str
    rule_count: int
    title: str
    requirements: FrozenMapping
    decisions: tuple[Decision, ...]
    undecided: tuple[Undecided, ...]
    warnings: tuple[WarningOut, ...]
    conflicts: tuple[ConflictOut, ...]
    constraint_conflicts: tuple[ConstraintConflict, ...]
    constraints: tuple[ConstraintOutcome, ...]
    capacity: tuple[CapacityOut, ...]
    review: tuple[PillarReview, ...]
    connections: tuple[WiringOut, ...]
    assumptions: tuple[Assumption, ...]
    graph: GraphOut
    references: tuple[Reference, ...]
    trace: tuple[Firing, ...]
    inconsistencies: tuple[Inconsistency, ...] = ()
    excepted: tuple[ExceptedRule, ...] = ()


class ExplainedDecision(Out):
    """One decision and what would change it, as ``advisor explain`` prints it."""

    slot: str
    slot_title: str
    component: str
    label: str
    rule_id: str
    rule_title: str
    sensitivity: Sensitivity


class Explanation(Out):
    """What would change each decision of one recommendation (``advisor explain``)."""

    tool: str
    version: str
    engine: str
    input_hash: str
    ruleset_hash: str
    title: str
    decisions: tuple[ExplainedDecision, ...]
