"""Where the bundled knowledge, templates and examples live."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """The checkout's top-level ``name`` directory, else the copy shipped in the wheel."""
    checkout = _PACKAGE.parent.parent / name
    if checkout.is_dir():
        return checkout
    return _PACKAGE / "data" / name


def rules_dir() -> Path:
    """The bundled rules directory."""
    return bundled("rules")


def templates_dir() -> Path:
    """The bundled templates directory."""
    return bundled("templates")


def examples_dir() -> Path:
    """The bundled example requirement files."""
    return bundled("examples")
