"""Accuracy on design questions the rules were not written from: clean share per category for
the dev and holdout splits of eval/questions.

A question is *clean* when every component a correct answer needs is among the report's
decisions (any one of a list of acceptable components counts) and no component that only a
wrong answer has is. Its *score* is the needs met over the needs plus the wrong components
chosen.

    python bench/accuracy.py                  # both splits, per category (Markdown)
    python bench/accuracy.py --split dev      # the dev split alone (while tuning rules)
    python bench/accuracy.py --details        # and, for the dev split only, each miss
    python bench/accuracy.py --check          # validate the question files only

The split is fixed by each question's id (see eval/README.md). The holdout split is only ever
reported in aggregate: this script never prints what a holdout question got wrong. Holdout
questions listed in eval/exposed.yaml (read while rules were tuned) are scored apart.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor.catalog import load_catalog
from advisor.inputs import InputError, parse_requirements
from advisor.models.requirements import Requirements
from advisor.paths import rules_dir
from advisor.pipeline import Advisor
from advisor.yamlio import YamlError, parse_yaml

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions"
EXPOSED = ROOT / "eval" / "exposed.yaml"
CATEGORIES = ("database", "caching", "messaging", "decoupling", "front_door", "realtime",
              "compute", "dr", "storage", "analytics", "security")
Category = Literal["database", "caching", "messaging", "decoupling", "front_door", "realtime",
                   "compute", "dr", "storage", "analytics", "security"]
# A fifth of the id space twice over: about 40 % of the questions are held out.
HOLDOUT_SHARE = (0, 1)


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    needs: list[str | list[str]] = Field(min_length=1)
    wrong: list[str] = Field(default_factory=list)


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    # When it was written: 1 the first set, before any rule read the new inputs; 2 replacements
    # for exposed holdout questions; every later batch before the round of rule changes that
    # follows it (docs/accuracy.md lists which). The holdout is reported per batch.
    batch: int = Field(default=1, ge=1, le=99)
    category: Category
    brownfield: bool
    source: str = Field(pattern=r"^https://(docs|aws|repost|d1\.awsstatic)\.")
    question: str = Field(min_length=40)
    answer: str = Field(min_length=20)
    requirements: dict[str, object]
    expect: Expectation


def split_of(question_id: str) -> str:
    """'holdout' or 'dev', fixed by the id alone."""
    bucket = int(hashlib.sha256(question_id.encode()).hexdigest()[:8], 16) % 5
    return "holdout" if bucket in HOLDOUT_SHARE else "dev"


def exposed_ids() -> set[str]:
    """Holdout questions read while rules were tuned (eval/exposed.yaml)."""
    if not EXPOSED.is_file():
        return set()
    data = parse_yaml(EXPOSED.read_text(encoding="utf-8")).data or {}
    return {str(entry["id"]) for entry in data.get("exposed", [])}


@dataclass(frozen=True)
class Loaded:
    question: Question
    requirements: Requirements
    split: str


def load(paths: Sequence[Path], components: set[str]) -> tuple[list[Loaded], list[str]]:
    """Every valid question, and one line per problem found in the files."""
    loaded: list[Loaded] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in paths:
        where = path.relative_to(ROOT)
        try:
            raw = parse_yaml(path.read_text(encoding="utf-8")).data
            question = Question.model_validate(raw)
        except YamlError as error:
            problems.append(f"{where}:{error.line}: {error.problem}")
            continue
        except ValidationError as error:
            problems.extend(f"{where}: {'.'.join(map(str, item['loc']))}: {item['msg']}"
                            for item in error.errors())
            continue
        if question.id in seen:
            problems.append(f"{where}: id {question.id} is also used by {seen[question.id]}")
            continue
        seen[question.id] = where
        if path.stem != question.id or path.parent.name != question.category:
            problems.append(f"{where}: file must be {question.category}/{question.id}.yaml")
        named = [item for need in question.expect.needs
                 for item in (need if isinstance(need, list) else [need])]
        for component in [*named, *question.expect.wrong]:
            if component not in components:
                problems.append(f"{where}: expect: unknown component '{component}'")
        try:
            requirements = parse_requirements(question.requirements, str(where))
        except InputError as error:
            problems.extend(error.problems)
            continue
        loaded.append(Loaded(question, requirements, split_of(question.id)))
    exposed = exposed_ids()
    for unknown in sorted(exposed - set(seen)):
        problems.append(f"eval/exposed.yaml: no question '{unknown}'")
    return [item if item.question.id not in exposed or item.split != "holdout"
            else Loaded(item.question, item.requirements, "exposed") for item in loaded], problems


@dataclass(frozen=True)
class Outcome:
    loaded: Loaded
    missing: list[str]
    wrong: list[str]
    chosen: list[str]

    @property
    def clean(self) -> bool:
        return not self.missing and not self.wrong

    @property
    def score(self) -> float:
        needs = len(self.loaded.question.expect.needs)
        met = needs - len(self.missing)
        return met / (needs + len(self.wrong))


def judge(advisor: Advisor, loaded: Loaded) -> Outcome:
    """Whether the report's decisions contain what the question needs and nothing wrong."""
    report = advisor.recommend(loaded.requirements, sensitivity=False)
    chosen = sorted({decision.component for decision in report.decisions})
    expect = loaded.question.expect
    missing = []
    for need in expect.needs:
        options = need if isinstance(need, list) else [need]
        if not any(option in chosen for option in options):
            missing.append(" or ".join(options))
    wrong = [component for component in expect.wrong if component in chosen]
    return Outcome(loaded, missing, wrong, chosen)


def table(outcomes: Sequence[Outcome], split: str) -> list[str]:
    """One Markdown table: per category, questions, clean, share and mean score."""
    lines = [f"### {split} ({len(outcomes)} questions)", "",
             "| category | questions | brownfield | clean | clean share | mean score |",
             "|---|---|---|---|---|---|"]
    for category in (*CATEGORIES, "all"):
        chosen = [item for item in outcomes
                  if category == "all" or item.loaded.question.category == category]
        if not chosen:
            continue
        clean = sum(item.clean for item in chosen)
        brown = sum(item.loaded.question.brownfield for item in chosen)
        name = f"**{category}**" if category == "all" else category
        lines.append(f"| {name} | {len(chosen)} | {brown} | {clean} | "
                     f"{100 * clean / len(chosen):.0f} % | "
                     f"{statistics.fmean(item.score for item in chosen):.2f} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="validate the question files only")
    parser.add_argument("--details", action="store_true",
                        help="list each dev-split question that is not clean")
    parser.add_argument("--engine", default="python", choices=("python", "durable"))
    parser.add_argument("--only", help="judge only the dev question with this id")
    parser.add_argument("--split", choices=("dev", "holdout", "both"), default="both",
                        help="which split to judge (default: both)")
    args = parser.parse_args(argv)

    catalog = load_catalog(rules_dir())
    paths = sorted(QUESTIONS.rglob("*.yaml"))
    loaded, problems = load(paths, set(catalog.components))
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.check:
        counts = {split: sum(item.split == split for item in loaded)
                  for split in ("dev", "holdout", "exposed")}
        print(f"{len(loaded)} valid questions ({counts['dev']} dev, {counts['holdout']} "
              f"holdout, {counts['exposed']} exposed holdout); {len(problems)} problem(s)")
        return 1 if problems else 0
    if problems:
        return 1
    if args.split != "both":
        loaded = [item for item in loaded if item.split == args.split
                  or (args.split == "holdout" and item.split == "exposed")]
    advisor = Advisor(engine=args.engine, catalog=catalog)
    if args.only:
        chosen = [item for item in loaded if item.question.id == args.only]
        if not chosen or chosen[0].split != "dev":
            print(f"no dev question '{args.only}'", file=sys.stderr)
            return 1
        loaded = chosen
    outcomes = [judge(advisor, item) for item in loaded]
    print(f"rules: {len(catalog.rules)}; engine: {args.engine}; questions: {len(outcomes)}\n")
    for split in ("dev", "holdout"):
        part = [item for item in outcomes if item.loaded.split == split]
        if part:
            print("\n".join(table(part, split)))
            print()
    holdout = [item for item in outcomes if item.loaded.split == "holdout"]
    batches = sorted({item.loaded.question.batch for item in holdout})
    if len(batches) > 1:
        print("Holdout by batch (when the questions were written): " + "; ".join(
            f"batch {batch}: {sum(item.clean for item in part)} of {len(part)} clean"
            for batch in batches
            for part in [[item for item in holdout if item.loaded.question.batch == batch]]
        ) + ".\n")
    exposed = [item for item in outcomes if item.loaded.split == "exposed"]
    if exposed and args.split in ("holdout", "both"):
        print(f"Exposed holdout questions (read while rules were tuned; eval/exposed.yaml), "
              f"scored apart: {sum(item.clean for item in exposed)} of {len(exposed)} clean.\n")
    if args.details:
        for item in outcomes:
            if item.loaded.split != "dev" or item.clean:
                continue
            question = item.loaded.question
            print(f"- {question.category}/{question.id}: missing {item.missing or '-'}; "
                  f"wrong {item.wrong or '-'}")
            print(f"  chosen: {', '.join(item.chosen)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
