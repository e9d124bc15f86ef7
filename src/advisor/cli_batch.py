"""``advisor batch``: many requirement profiles, one report each, in worker processes.

Argument parsing, messages and exit codes only; the work is ``advisor.batch.run_batch``. Exit 0
when every profile got a report, 1 when some failed, 2 on a bad invocation, 3 when the rules
do not compile, 130 when interrupted (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from advisor.batch_profiles import DEFAULT_TIMEOUT
from advisor.cli_common import EXIT_OK, add_engine_option, add_rules_option
from advisor.render import FORMATS

EXIT_SOME_FAILED = 1
EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``batch`` subcommand to an ``advisor`` argument parser."""
    batch = subparsers.add_parser(
        "batch", help="evaluate many requirement profiles (a directory of files or a JSON Lines "
                      "file) into one report each plus a summary; resumable")
    batch.add_argument("input", metavar="INPUT",
                       help="a directory of requirement files (*.yaml, *.yml, *.json; not "
                            "recursive) or a .jsonl file with one JSON object per line")
    batch.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                       help="directory for reports/, summary.md and summary.json (created "
                            "when missing; running again resumes an interrupted run)")
    batch.add_argument("--workers", type=int, metavar="N",
                       help="worker processes (default: one per CPU core)")
    batch.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help="time limit for one evaluation; a profile over it is reported as "
                            f"timed out (default: {DEFAULT_TIMEOUT:g})")
    batch.add_argument("--format", choices=FORMATS, default="md", help="report format")
    add_engine_option(batch)
    add_rules_option(batch)
    batch.add_argument("--restart", action="store_true",
                       help="ignore what an earlier run in OUT_DIR finished; evaluate everything")
    batch.set_defaults(handler=run_batch_command)


def run_batch_command(args: argparse.Namespace) -> int:
    """Handle ``advisor batch``; raises ``advisor.cli_common.Failure`` for a user's mistake."""
    # Imported here: the batch machinery (worker pool, progress bar) is not needed to start
    # the other subcommands.
    from advisor.batch import run_batch

    started = time.monotonic()
    result = run_batch(args.input, args.output, workers=args.workers, timeout=args.timeout,
                       output_format=args.format, engine=args.engine, rules=args.rules,
                       restart=args.restart)
    elapsed = time.monotonic() - started
    if result.summary is None:
        sys.stderr.write(f"interrupted: {result.done} of {result.profiles} done; run the same "
                         "command again to resume\n")
        return EXIT_INTERRUPTED
    totals = result.summary.totals
    evaluated = totals.profiles - totals.resumed
    rate = f" ({evaluated / elapsed:.0f} profiles/s)" if evaluated and elapsed > 0 else ""
    notes = "".join(
        f"; {count} {what} (see the summary)" for count, what in (
            (len(result.summary.skipped), "input entries skipped"),
            (len(result.summary.removed_reports), "stale reports removed from reports/"))
        if count)
    sys.stderr.write(
        f"{totals.profiles} profiles: {totals.succeeded} succeeded, {totals.failed} failed "
        f"({totals.timed_out} timed out); {totals.resumed} resumed from an earlier run, "
        f"{evaluated} evaluated in {elapsed:.1f} s{rate}{notes}; summary: "
        f"{Path(args.output) / 'summary.md'}\n")
    return EXIT_OK if totals.failed == 0 else EXIT_SOME_FAILED
