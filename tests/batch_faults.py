"""Faults injected into batch workers: ``run_batch(..., evaluate="batch_faults:<name>")``.

A profile opts in by its workload name; every other profile is evaluated for real. Spawned
workers import this module because the tests directory is on the parent's ``sys.path``.
"""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path

from advisor.batch import evaluate_profile
from advisor.batch_profiles import Profile
from advisor.batch_worker import Evaluation
from advisor.pipeline import Advisor

# Set by a test to a directory where crash_once_then_evaluate leaves its marks.
MARKS = "BATCH_FAULTS_MARKS"


def _text(profile: Profile) -> str:
    return Path(profile.path).read_text() if profile.path is not None else profile.text or ""


def hang_holding_the_gil(advisor: Advisor, profile: Profile, output_format: str) -> Evaluation:
    """Profiles named HANG block in C code without releasing the GIL, as the engine's core can."""
    if "HANG" in _text(profile):
        ctypes.PyDLL(None).sleep(120)  # PyDLL keeps the GIL held for the whole call
    return evaluate_profile(advisor, profile, output_format)


def crash(advisor: Advisor, profile: Profile, output_format: str) -> Evaluation:
    """Profiles named CRASH kill their worker every time; CRASH-ONCE only the first time."""
    text = _text(profile)
    if "CRASH-ONCE" in text:
        mark = Path(os.environ[MARKS]) / profile.name
        if not mark.exists():
            mark.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    elif "CRASH" in text:
        os.kill(os.getpid(), signal.SIGKILL)
    return evaluate_profile(advisor, profile, output_format)
