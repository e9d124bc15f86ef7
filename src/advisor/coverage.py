"""Catalogue coverage: which rules encode each decision unit of the seed catalogue.

``rules/_coverage.yaml`` lists every catalogue entry with either the rule ids that encode it or
the reason it is out of scope. Loading checks that every listed rule exists; ``missing_kinds``
are the entry kinds that may not be left unaccounted for.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from advisor.catalog import Catalog, CatalogError, LoadProblem
from advisor.yamlio import YamlError, parse_yaml

COVERAGE_FILE = "_coverage.yaml"
KINDS = ("tradeoff", "rule", "formula", "limit", "pattern", "checklist")
# Entry kinds that must be encoded or explicitly out of scope (the others too, but these are
# the decision units the product is judged on).
REQUIRED_KINDS = ("rule", "tradeoff", "formula", "limit")


class CoverageEntry(BaseModel):
    """One catalogue entry and how the knowledge base accounts for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z]+(-[A-Z]+)?-[0-9]{2}$")
    kind: str
    topic: str = Field(pattern=r"^[a-z_]+$")
    title: str = Field(min_length=3)
    rules: list[str] = Field(default_factory=list)
    out_of_scope: str | None = Field(None, min_length=15)
    note: str | None = None

    @model_validator(mode="after")
    def _one_status(self) -> CoverageEntry:
        if self.kind not in KINDS:
            raise ValueError(f"kind '{self.kind}' is not one of {', '.join(KINDS)}")
        if bool(self.rules) == (self.out_of_scope is not None):
            raise ValueError("give either 'rules' (the rule ids that encode the entry) or "
                             "'out_of_scope' (why it is not encoded), not both or neither")
        return self

    @property
    def status(self) -> str:
        """'encoded' or 'out of scope'."""
        return "encoded" if self.rules else "out of scope"


class Coverage(BaseModel):
    """The whole coverage file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    catalogue: str = Field(min_length=3)
    entries: list[CoverageEntry]

    def counts(self) -> dict[str, Counter[str]]:
        """Per kind, how many entries are encoded and how many are out of scope."""
        out: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
        for entry in self.entries:
            out[entry.kind][entry.status] += 1
        return out


def load_coverage(catalog: Catalog) -> Coverage:
    """Read and check ``_coverage.yaml`` beside the rules; CatalogError lists every problem."""
    path = catalog.root / COVERAGE_FILE
    file = f"{catalog.root.name}/{COVERAGE_FILE}"
    try:
        doc = parse_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(
            [LoadProblem(file, 1, "-", "(document)", "coverage file is missing")]
        ) from None
    except YamlError as error:
        raise CatalogError(
            [LoadProblem(file, error.line, "-", "(document)", error.problem)]
        ) from None
    try:
        coverage = Coverage.model_validate(doc.data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = tuple(item["loc"])
            entry_id = "-"
            if len(loc) >= 2 and loc[0] == "entries" and isinstance(doc.data, dict):
                raw = doc.data["entries"][loc[1]]
                entry_id = str(raw.get("id", f"#{loc[1]}")) if isinstance(raw, dict) else "-"
            problems.append(LoadProblem(file, doc.line_of(loc), entry_id,
                                        ".".join(str(part) for part in loc) or "(document)",
                                        item["msg"].removeprefix("Value error, ")))
        raise CatalogError(problems) from None
    problems = []
    seen: set[str] = set()
    for index, entry in enumerate(coverage.entries):
        if entry.id in seen:
            problems.append(LoadProblem(file, doc.line_of(("entries", index)), entry.id, "id",
                                        "listed twice"))
        seen.add(entry.id)
        for position, rule_id in enumerate(entry.rules):
            if rule_id not in catalog.rule_files:
                problems.append(LoadProblem(file, doc.line_of(("entries", index, "rules",
                                                               position)),
                                            entry.id, f"rules[{position}]",
                                            f"unknown rule '{rule_id}'"))
    if problems:
        raise CatalogError(problems)
    return coverage
