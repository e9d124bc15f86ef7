"""The server's log, bounded: a flood of requests or faults cannot fill the disk.

uvicorn logs a line per request and per malformed request, and asyncio a traceback each time
``accept`` fails; thousands of clients at once turned that into tens of megabytes a minute.
``LogLimiter`` lets a few lines of each kind through per interval and counts the rest, and the
server writes one summary line per interval for what was left out.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import Counter
from typing import Any

from uvicorn.config import LOGGING_CONFIG

SUMMARY = "advisor_summary"  # a record carrying this attribute is never held back
LINES_PER_KIND = 50  # lines of one kind (logger, level and message template) per interval
LINES_IN_ALL = 200  # lines of every kind together per interval
TRACEBACKS = 5  # of those, lines carrying a traceback
SUMMARY_KINDS = 5  # kinds named in a summary; the others are counted together


class LogLimiter(logging.Filter):
    """Passes at most ``per_kind`` records of each kind, ``in_all`` records and ``tracebacks``
    records with a traceback until the next ``summary()``; counts what it holds back."""

    def __init__(self, per_kind: int = LINES_PER_KIND, in_all: int = LINES_IN_ALL,
                 tracebacks: int = TRACEBACKS) -> None:
        super().__init__()
        self._per_kind = per_kind
        self._in_all = in_all
        self._tracebacks = tracebacks
        self._lock = threading.Lock()  # records also come from the request threads
        self._passed: Counter[tuple[str, int, str]] = Counter()
        self._held: Counter[tuple[str, int, str]] = Counter()
        self._examples: dict[tuple[str, int, str], str] = {}  # a held line of each kind
        self._passed_in_all = 0
        self._passed_tracebacks = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, SUMMARY, False):
            return True
        # The template, not the formatted line: one access-log line is one kind.
        kind = (record.name, record.levelno, str(record.msg)[:200])
        with self._lock:
            if (self._passed[kind] >= self._per_kind or self._passed_in_all >= self._in_all
                    or (record.exc_info and self._passed_tracebacks >= self._tracebacks)):
                self._held[kind] += 1
                if kind not in self._examples:
                    self._examples[kind] = record.getMessage()[:80]
                return False
            self._passed[kind] += 1
            self._passed_in_all += 1
            self._passed_tracebacks += bool(record.exc_info)
            return True

    def summary(self, seconds: float) -> str | None:
        """One line saying what was held back since the last call (None if nothing was), and
        a fresh allowance for the next interval."""
        with self._lock:
            held, examples = self._held, self._examples
            self._passed, self._held, self._examples = Counter(), Counter(), {}
            self._passed_in_all = self._passed_tracebacks = 0
        if not held:
            return None
        named = [f"{count:,} like {examples[kind]!r}"
                 for kind, count in held.most_common(SUMMARY_KINDS)]
        rest = sum(held.values()) - sum(count for _, count in held.most_common(SUMMARY_KINDS))
        if rest:
            named.append(f"{rest:,} of {len(held) - SUMMARY_KINDS} other kinds")
        return (f"advisor: left out {sum(held.values()):,} log lines in the last {seconds:.0f} s "
                f"(at most {self._per_kind} of a kind, {self._in_all} in all): "
                + "; ".join(named))


def logging_config(limiter: LogLimiter) -> dict[str, Any]:
    """uvicorn's logging configuration with ``limiter`` on every handler, and asyncio's
    messages (a failed ``accept``, say) sent through it too."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"limit": {"()": lambda: limiter}}
    for handler in config["handlers"].values():
        handler["filters"] = ["limit"]
    config["loggers"]["asyncio"] = {"handlers": ["default"], "level": "WARNING",
                                    "propagate": False}
    return config
