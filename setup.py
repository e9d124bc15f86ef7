"""Build hook: ship the top-level rules/ and templates/ inside the wheel.

The repository keeps knowledge (rules/) and presentation (templates/) beside the code so rule
authors never edit the package; a non-editable install still needs them, so they are copied into
``advisor/data/`` at build time. Editable installs read them from the checkout directly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent.resolve()
BUNDLED = ("rules", "templates", "examples")


class BuildWithData(build_py):
    """Copy the bundled data directories into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "advisor" / "data"
        for name in BUNDLED:
            destination = target / name
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(ROOT / name, destination)


setup(cmdclass={"build_py": BuildWithData})
