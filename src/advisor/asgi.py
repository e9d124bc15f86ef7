"""The HTTP API for any ASGI server, configured by environment variables.

    uvicorn --factory advisor.asgi:create_app --workers 4
    gunicorn -k uvicorn_worker.UvicornWorker 'advisor.asgi:create_app()'

The same application ``advisor serve`` runs (``advisor.server.create_app``). Connection limits
and timeouts are then the hosting server's settings, not ``advisor serve``'s options.
``create_app`` is the servers' factory: a wrong variable stops the process with a message and
exit status 2, as a wrong ``advisor serve`` option does. ``build_app`` is the same for callers
that want the ``SettingsError`` instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from advisor.catalog import CatalogError, load_catalog
from advisor.engine import ENGINE_NAMES
from advisor.engine.base import CompileError, EngineError
from advisor.paths import rules_dir
from advisor.pipeline import Advisor
from advisor.server import DEFAULT_MAX_BODY_BYTES
from advisor.server import create_app as create_api
from advisor.yamlio import clip

RULES = "ADVISOR_RULES"
ENGINE = "ADVISOR_ENGINE"
MAX_BODY_BYTES = "ADVISOR_MAX_BODY_BYTES"
ALLOWED_HOSTS = "ADVISOR_ALLOWED_HOSTS"
DEFAULT_ENGINE = "durable"
SHOWN_CHARACTERS = 80  # of a bad value, quoted in the message
MAX_DIGITS = 15  # of ADVISOR_MAX_BODY_BYTES: up to a petabyte
USAGE_EXIT = 2  # the status a wrong command-line option exits with


class SettingsError(ValueError):
    """An environment variable the API cannot run with: which one, what was wrong, what is
    allowed."""


@dataclass(frozen=True)
class Settings:
    """What the environment asks of the API; None where it leaves the default."""

    rules: Path | None
    engine: str
    max_body_bytes: int
    allowed_hosts: frozenset[str] | None


def read_settings(environment: Mapping[str, str]) -> Settings:
    """The settings in ``environment`` (an empty or unset variable keeps its default); a
    ``SettingsError`` for the first variable that is wrong."""
    return Settings(rules=_rules(environment.get(RULES, "")),
                    engine=_engine(environment.get(ENGINE, "")),
                    max_body_bytes=_max_body_bytes(environment.get(MAX_BODY_BYTES, "")),
                    allowed_hosts=_allowed_hosts(environment.get(ALLOWED_HOSTS, "")))


def create_app() -> FastAPI:
    """The HTTP API configured by the environment (see ``build_app``), for an ASGI server's
    factory: a ``SettingsError`` is printed to stderr as ``advisor: <message>`` and the process
    exits with status 2, so a server reports a configuration mistake without a traceback."""
    try:
        return build_app(os.environ)
    except SettingsError as error:
        print(f"advisor: {error}", file=sys.stderr)
        raise SystemExit(USAGE_EXIT) from None


def build_app(environment: Mapping[str, str]) -> FastAPI:
    """The HTTP API configured by ``ADVISOR_RULES`` (rules directory; default the bundled
    rules), ``ADVISOR_ENGINE`` (durable or python; default durable), ``ADVISOR_MAX_BODY_BYTES``
    (default 1000000) and ``ADVISOR_ALLOWED_HOSTS`` (comma-separated Host header values, each
    other one answered with 421; default: any) in ``environment``. A ``SettingsError`` names a
    variable that is wrong, rules that do not load, or an engine that cannot compile them."""
    settings = read_settings(environment)
    directory = settings.rules or rules_dir()
    try:
        catalog = load_catalog(directory)
    except CatalogError as error:
        raise SettingsError(f"{RULES}={_shown(str(directory))}: the rules do not load "
                            f"({len(error.problems)} problem(s)):\n{error}") from None
    try:
        advisor = Advisor(engine=settings.engine, catalog=catalog)
    except (EngineError, CompileError) as error:
        raise SettingsError(f"{ENGINE}={settings.engine}: the engine cannot compile the rules "
                            f"in {directory}: {error}") from None
    return create_api(advisor, max_body_bytes=settings.max_body_bytes,
                      allowed_hosts=settings.allowed_hosts)


def _shown(value: str) -> str:
    """``value`` quoted for a message, cut short when long (``advisor.yamlio.clip``)."""
    return repr(clip(value, SHOWN_CHARACTERS))


def _rules(value: str) -> Path | None:
    if not value:
        return None
    path = Path(value)
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise SettingsError(f"{RULES}={_shown(value)}: {what} (allowed: a rules directory, as "
                            "for advisor serve --rules; unset: the bundled rules)")
    return path


def _engine(value: str) -> str:
    if not value:
        return DEFAULT_ENGINE
    if value not in ENGINE_NAMES:
        raise SettingsError(f"{ENGINE}={_shown(value)}: not an engine (allowed: "
                            f"{', '.join(ENGINE_NAMES)}; unset: {DEFAULT_ENGINE})")
    return value


def _max_body_bytes(value: str) -> int:
    if not value:
        return DEFAULT_MAX_BODY_BYTES
    allowed = f"allowed: a whole number of bytes, at least 1; unset: {DEFAULT_MAX_BODY_BYTES}"
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise SettingsError(f"{MAX_BODY_BYTES}={_shown(value)}: not a whole number of bytes "
                            f"({allowed})")
    if len(text.lstrip("0")) > MAX_DIGITS:
        raise SettingsError(f"{MAX_BODY_BYTES}={_shown(value)}: more than {MAX_DIGITS} digits, "
                            f"larger than any request body could be ({allowed})")
    if int(text) < 1:
        raise SettingsError(f"{MAX_BODY_BYTES}={_shown(value)}: must be at least 1 ({allowed})")
    return int(text)


def _allowed_hosts(value: str) -> frozenset[str] | None:
    if not value.strip():
        return None
    names = [name.strip() for name in value.split(",")]
    for name in names:
        if not name or any(character.isspace() or not character.isprintable()
                           for character in name) or not name.isascii():
            raise SettingsError(
                f"{ALLOWED_HOSTS}={_shown(value)}: {_shown(name)} is not a Host header value "
                "(allowed: names such as localhost:8000 or api.example.com, separated by "
                "commas; unset: any Host)")
    return frozenset(names)
