"""The summary of a batch run, built from its journal entries: totals, how often each component
was chosen for each slot, the profiles with conflicts or warnings, and the failures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from pydantic import BaseModel, ConfigDict

from advisor.batch_journal import JournalEntry, Status
from advisor.render import environment, render_json, tidy_markdown

TEMPLATE = "batch-summary.md.j2"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Totals(_Out):
    """``succeeded + failed == profiles``; ``timed_out`` counts the failures that ran out of
    time, ``resumed`` the successes taken from an earlier run's journal."""

    profiles: int
    succeeded: int
    failed: int
    timed_out: int
    resumed: int


class Flagged(_Out):
    """A profile whose report has conflicts or warnings, with their rule ids."""

    name: str
    conflicts: list[str]
    warnings: list[str]


class FailedProfile(_Out):
    name: str
    status: Status
    error: str


class SkippedInput(_Out):
    """An entry of the input directory that was not read (not a regular file, or a name that
    is not UTF-8), and why."""

    name: str
    reason: str


class RemovedReport(_Out):
    """A file an earlier run left in ``reports/`` that this run removed, and why (its profile
    failed, is gone from the input, or the file is in another format)."""

    file: str
    reason: str


class BatchSummary(_Out):
    """Everything the batch summary says; identical for identical inputs and settings.

    ``decisions`` maps each slot to the number of successful profiles that got each component
    for it."""

    source: str
    engine: str
    format: str
    ruleset_hash: str
    totals: Totals
    decisions: dict[str, dict[str, int]]
    flagged: list[Flagged]
    failures: list[FailedProfile]
    skipped: list[SkippedInput] = []
    removed_reports: list[RemovedReport] = []


def summarize(entries: Sequence[JournalEntry], resumed: Collection[str], *, source: str,
              engine: str, output_format: str, ruleset_hash: str,
              skipped: Sequence[SkippedInput] = (),
              removed_reports: Sequence[RemovedReport] = ()) -> BatchSummary:
    """The summary of one entry per profile; ``resumed`` names those taken from the journal,
    ``skipped`` the input entries not read, ``removed_reports`` the stale reports removed."""
    ordered = sorted(entries, key=lambda entry: entry.name)
    succeeded = [entry for entry in ordered if entry.status == "succeeded"]
    tallies: dict[str, Counter[str]] = {}
    for entry in succeeded:
        for slot, component in entry.decisions.items():
            tallies.setdefault(slot, Counter())[component] += 1
    # Slots by name, and in each the most chosen component first.
    decisions = {slot: dict(sorted(tallies[slot].items(), key=lambda item: (-item[1], item[0])))
                 for slot in sorted(tallies)}
    return BatchSummary(
        source=source,
        engine=engine,
        format=output_format,
        ruleset_hash=ruleset_hash,
        totals=Totals(profiles=len(ordered), succeeded=len(succeeded),
                      failed=len(ordered) - len(succeeded),
                      timed_out=sum(entry.status == "timed_out" for entry in ordered),
                      resumed=sum(entry.name in resumed for entry in succeeded)),
        decisions=decisions,
        flagged=[Flagged(name=entry.name, conflicts=entry.conflicts, warnings=entry.warnings)
                 for entry in succeeded if entry.conflicts or entry.warnings],
        failures=[FailedProfile(name=entry.name, status=entry.status, error=entry.error or "")
                  for entry in ordered if entry.status != "succeeded"],
        skipped=sorted(skipped, key=lambda item: item.name),
        removed_reports=sorted(removed_reports, key=lambda item: item.file),
    )


def render_summary(summary: BatchSummary, output_format: str) -> str:
    """The summary as Markdown (``md``, from the template) or JSON (``json``)."""
    if output_format == "json":
        return render_json(summary)
    template = environment().get_template(TEMPLATE)
    return tidy_markdown(template.render(summary=summary))
