"""The HTTP API: requirements JSON in, the report out (served by ``advisor serve``).

Every request is validated by the same code as a requirements file (``parse_requirements``) and
evaluated by one shared ``Advisor`` per engine, so the API gives exactly the CLI's decisions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from advisor.engine import ENGINE_NAMES
from advisor.engine.base import CompileError, EngineError
from advisor.inputs import InputError, parse_requirements
from advisor.models.report import Report
from advisor.models.requirements import Requirements
from advisor.models.rule import Rule
from advisor.pipeline import Advisor, AdvisorPool, tool_version
from advisor.questions import questionnaire_schema
from advisor.render import compact_json, render
from advisor.web import ASSETS, STATIC_DIR
from advisor.web.report_html import report_html
from advisor.web.state import QuestionnaireState, questionnaire_state
from advisor.yamlio import clip

JSON = "application/json"
MARKDOWN = "text/markdown"
MARKDOWN_UTF8 = "text/markdown; charset=utf-8"
ORIGIN = "body"  # how validation messages name the request body
MAX_DEPTH = 32  # requirements nest three levels; deeper bodies are refused before validation
MAX_DIGITS = 100  # the largest allowed requirement value has 13 digits
# Every key, item and scalar counts; a requirements document with every field and list filled
# holds about a thousand, and validation work and the 422 grow with the count.
MAX_VALUES = 5_000
MAX_PROBLEMS = 50  # problems listed in a 422; the rest are counted
DEFAULT_MAX_BODY_BYTES = 1_000_000
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")


class RecommendationOut(Report):
    """The report (as ``advisor recommend --format json`` prints it) plus its Markdown."""

    markdown: str
    html: str | None = Field(
        None, description="with ?html=true only: the Markdown as an HTML <article> fragment, "
        "the architecture diagram drawn as inline SVG")


class RuleSummary(BaseModel):
    """One rule as ``advisor rules list --format json`` lists it."""

    model_config = ConfigDict(frozen=True)

    id: str
    area: str
    title: str
    slot: str | None
    component: str | None
    strength: str
    priority: int
    file: str


class Health(BaseModel):
    """The server is up, and which tool version and rule set it serves."""

    status: str
    version: str
    engine: str
    rule_count: int
    ruleset_hash: str


class ErrorOut(BaseModel):
    """Every error except invalid input: what was wrong and what to do."""

    detail: str


class Problem(BaseModel):
    """One invalid input: where (``["body", section, field]``), what was wrong, what is allowed."""

    loc: list[str | int]
    msg: str
    type: str


class InvalidInputOut(BaseModel):
    """Invalid requirements or query parameters (HTTP 422), one entry per problem."""

    detail: list[Problem]


class _App(FastAPI):
    """FastAPI whose OpenAPI document also describes the requirements body.

    The body is read and validated by ``parse_requirements`` (strict, with its own messages),
    not by FastAPI, so its schema is added to the generated document here.
    """

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = get_openapi(title=self.title, version=self.version,
                                   description=self.description, routes=self.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            body = Requirements.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, schema in {**body.pop("$defs", {}), "Requirements": body}.items():
                if schemas.setdefault(name, schema) != schema:
                    raise RuntimeError(f"two OpenAPI schemas are named {name}")
            self.openapi_schema = document
        return self.openapi_schema


class _BodyError(ValueError):
    pass


def _problem(status: int, detail: str, **headers: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail, headers=headers or None)


def _too_large(limit: int) -> HTTPException:
    # The rest of an oversized body is never read, so the connection cannot be reused.
    return _problem(413, f"request body is larger than {limit} bytes", Connection="close")


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with HTTP 413 as soon as it is known to exceed ``limit``.

    Read before any other check, so every other answer leaves the connection reusable.
    """
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    received = bytearray()
    try:
        async for chunk in request.stream():  # a chunked body has no Content-Length to trust
            received += chunk
            if len(received) > limit:
                raise _too_large(limit)
    except ClientDisconnect:
        raise _problem(400, "the client disconnected before sending the whole body") from None
    given = request.headers.get("content-type")
    media = (given or "").split(";", 1)[0].strip().lower()
    if media != JSON and not media.endswith("+json"):
        got = media or ("no Content-Type header" if given is None else "an empty Content-Type")
        raise _problem(415, f"send the requirements as JSON with Content-Type: {JSON} "
                            f"(got {got})")
    return bytes(received)


def _too_many_values() -> str:
    return (f"more than {MAX_VALUES} values (keys, list items and scalars together); a "
            "requirements document holds far fewer")


class _UniqueKeys:
    """``json.loads``'s object hook: refuses a duplicate key, and stops parsing as soon as the
    keys alone exceed ``MAX_VALUES``."""

    def __init__(self) -> None:
        self.keys = 0

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        self.keys += len(pairs)
        if self.keys > MAX_VALUES:
            raise _BodyError(_too_many_values())
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _BodyError(f"duplicate key {_quote(key)} (each key may appear once)")
            out[key] = value
        return out


def _quote(text: str) -> str:
    return json.dumps(clip(text))


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _BodyError(f"a number has more than {MAX_DIGITS} digits")
    return int(text)


def _check_values(data: Any) -> None:
    """HTTP 400 for what JSON parses but no requirements document holds: deep nesting, more
    than ``MAX_VALUES`` values, and unpaired surrogate escapes (not Unicode text, so no message
    could echo them)."""
    pending = [(data, 1)]
    count = 0
    while pending:
        value, level = pending.pop()
        count += 1
        if count > MAX_VALUES:
            raise _problem(400, f"request body: {_too_many_values()}")
        if level > MAX_DEPTH:
            raise _problem(400, f"request body nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            pending.extend((key, level + 1) for key in value)
            pending.extend((child, level + 1) for child in value.values())
        elif isinstance(value, list):
            pending.extend((child, level + 1) for child in value)
        elif isinstance(value, str) and _SURROGATE.search(value):
            raise _problem(400, "request body: a string holds an unpaired surrogate escape "
                                "(\\ud800 to \\udfff), which is not Unicode text")


def _decode(body: bytes) -> Any:
    """The JSON document in ``body``; HTTP 400 naming what keeps it from being one."""
    # A byte-order mark is allowed, as in a requirements file; offsets still count it.
    skipped = len(_BOM) if body.startswith(_BOM) else 0
    if not body[skipped:].strip():
        raise _problem(400, "request body is empty: send a JSON object of requirements "
                            "({} when nothing is known)")
    try:
        data = json.loads(body[skipped:].decode("utf-8"), object_pairs_hook=_UniqueKeys(),
                          parse_int=_bounded_int)
    except UnicodeDecodeError as error:
        raise _problem(400, "request body is not UTF-8 text (bad byte at offset "
                            f"{error.start + skipped})") from None
    except json.JSONDecodeError as error:
        raise _problem(400, f"request body is not valid JSON: {error.msg} (line {error.lineno}, "
                            f"column {error.colno})") from None
    except _BodyError as error:
        raise _problem(400, f"request body: {error}") from None
    except RecursionError:
        raise _problem(400, f"request body nests deeper than {MAX_DEPTH} levels") from None
    _check_values(data)
    return data


def _invalid(error: InputError) -> HTTPException:
    """HTTP 422 in FastAPI's shape, one entry per ``InputError`` problem: at most
    ``MAX_PROBLEMS`` of them, then one entry counting the rest."""
    detail: list[dict[str, Any]] = [
        {"loc": [ORIGIN, *(problem.field or ())], "msg": problem.message,
         "type": "invalid_requirements"}
        for problem in error.details[:MAX_PROBLEMS]]
    # InputError has already clipped every echoed key and value, and counted what it dropped.
    left = len(error.details) + error.omitted - MAX_PROBLEMS
    if left > 0:
        detail.append({"loc": [ORIGIN], "type": "more_problems",
                       "msg": f"{left:,} more problems not listed (the first {MAX_PROBLEMS} "
                              "are); correct these and send again"})
    return HTTPException(status_code=422, detail=detail)


def _answers_state(body: bytes) -> QuestionnaireState:
    try:
        return questionnaire_state(_decode(body), ORIGIN)
    except InputError as error:
        raise _invalid(error) from None


def _requirements(body: bytes) -> Requirements:
    try:
        return parse_requirements(_decode(body), ORIGIN)
    except InputError as error:
        raise _invalid(error) from None


def _check_engine(engine: str | None) -> None:
    if engine is not None and engine not in ENGINE_NAMES:
        raise HTTPException(status_code=422, detail=[{
            "loc": ["query", "engine"],
            "msg": f"unknown engine {_quote(engine)} (allowed: {', '.join(ENGINE_NAMES)})",
            "type": "enum",
        }])


def _flag(name: str, value: str | None, default: bool = False) -> bool:
    """A true/false query parameter (absent: ``default``), checked after the body is read."""
    if value is None:
        return default
    if value == "false":
        return False
    if value == "true":
        return True
    raise HTTPException(status_code=422, detail=[{
        "loc": ["query", name], "msg": f"expected true or false, got {_quote(value)}",
        "type": "bool"}])


def _accept_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for item in accept.split(","):
        media, *parameters = item.split(";")
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:  # also refuses nan
                    quality = 0.0
        ranges.append((media.strip().lower(), quality))
    return ranges


def _negotiate(accept: str | None) -> str:
    """JSON or Markdown, whichever the Accept header prefers (JSON on a tie or no header)."""
    if not accept:
        return JSON
    ranges = _accept_ranges(accept)
    offers = (JSON, MARKDOWN)

    def preference(offer: str) -> tuple[float, int]:
        # The most specific range that matches decides the offer's quality (RFC 9110 12.5.1).
        best = (0.0, -1)
        for media, quality in ranges:
            specificity = (2 if media == offer else 1 if media == offer.split("/")[0] + "/*"
                           else 0 if media == "*/*" else -1)
            if specificity > best[1]:
                best = (quality, specificity)
        return best

    (quality, _), _, chosen = max((preference(offer), -rank, offer)
                                  for rank, offer in enumerate(offers))
    if quality <= 0.0:
        raise _problem(406, f"the report is available as {JSON} or {MARKDOWN}; the Accept "
                            f"header allows neither")
    return chosen


def _engine_failure(engine: str, error: Exception) -> HTTPException:
    return _problem(500, f"engine '{engine}' failed: {error}")


_ENGINE_QUERY = Query(None, description="rule engine backend (default: the server's)",
                      json_schema_extra={"enum": list(ENGINE_NAMES)})
_BODY = {"requestBody": {
    "required": True,
    "description": "the requirements, as in a requirements file (every field optional)",
    "content": {JSON: {"schema": {"$ref": "#/components/schemas/Requirements"}}},
}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the body is not a JSON document"},
    413: {"model": ErrorOut, "description": "the body is larger than the server accepts"},
    415: {"model": ErrorOut, "description": "the body is not sent as JSON"},
    422: {"model": InvalidInputOut, "description": "invalid requirements or engine"},
    500: {"model": ErrorOut, "description": "the engine failed"},
}
_SENSITIVITY_QUERY = Query(None, description="false: leave out what would change each decision "
                          "(default true; it re-evaluates changed requirements)",
                          json_schema_extra={"enum": ["true", "false"]})
_MARKDOWN_BODY = {"content": {MARKDOWN: {"schema": {"type": "string"}}}}
_HTML_QUERY = Query(None, description="true: add the report as HTML (field `html`) to the JSON "
                    "answer", json_schema_extra={"enum": ["true", "false"]})
_ANSWERS_BODY = {"requestBody": {
    "required": True,
    "description": "the answers so far, nested like a requirements file; values are not "
                   "checked here but reported per question",
    "content": {JSON: {"schema": {"type": "object", "additionalProperties": {"type": "object"}}}},
}}
# The page and its script come from this server only; its HTML report holds no script.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                            "frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff"}


def loopback_hosts(port: int) -> frozenset[str]:
    """The Host header values naming a server that listens on loopback ``port``."""
    hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:  # a client leaves out the default port
        hosts.update(LOOPBACK_NAMES)
    return frozenset(hosts)


class _HostCheck:
    """HTTP 421 for a request whose Host header is not one of ``allowed``.

    A web page can make a browser send requests to a loopback server under a name the page's
    site controls (DNS rebinding); the Host header still carries that name, so a server bound
    to loopback answers only requests that name loopback. A request without a Host header
    (HTTP/1.0) cannot come from a browser and is let through.
    """

    def __init__(self, app: ASGIApp, allowed: Collection[str]) -> None:
        self.app = app
        self.allowed = frozenset(host.lower() for host in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                host = value.decode("latin-1").lower()
                if name == b"host" and host not in self.allowed:
                    shown = ", ".join(sorted(self.allowed))
                    response = JSONResponse(
                        {"detail": f"Host {_quote(host)} does not name this server, which "
                                   f"listens on loopback and answers only Host {shown} (a "
                                   "guard against DNS rebinding)"},
                        status_code=421, headers={"Connection": "close"})
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def warm_up(advisor: Advisor) -> None:
    """Evaluate and render one report (for empty requirements) and throw it away, so that what
    the first request would build lazily (tables derived from the rule set, compiled
    templates) exists now. Done before forking workers, it is built once and shared."""
    report = advisor.recommend(Requirements(), sensitivity=True)
    render(report, "md")
    report.model_dump(mode="json")


def create_app(advisor: Advisor | None = None, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               allowed_hosts: Collection[str] | None = None) -> FastAPI:
    """The HTTP API over one shared ``advisor`` (default: the bundled rules, durable engine);
    with ``allowed_hosts``, a request naming any other Host gets HTTP 421."""
    if max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be at least 1, got {max_body_bytes}")
    default = advisor if advisor is not None else Advisor()
    catalog = default.catalog
    advisors = AdvisorPool(catalog, [default])
    summaries = [RuleSummary(**row).model_dump() for row in catalog.summaries()]
    schema_text = json.dumps(Requirements.model_json_schema(), indent=2, sort_keys=True) + "\n"
    app = _App(
        title="advisor",
        version=tool_version(),
        description="Recommend an AWS architecture from stated requirements: every decision "
        "names its rule, the requirement values that fired it, the alternatives it rejected "
        "and its sources.",
        docs_url=None,  # the interactive pages load their scripts from a CDN
        redoc_url=None,
    )

    def evaluate(body: bytes, engine: str | None, sensitivity: bool) -> Report:
        requirements = _requirements(body)
        chosen = advisors.get(engine or default.engine.name)
        try:
            return chosen.recommend(requirements, sensitivity=sensitivity)
        except InputError as error:
            raise _invalid(error) from None
        except (EngineError, CompileError) as error:
            raise _engine_failure(chosen.engine.name, error) from None

    @app.post("/v1/recommendations", response_model=RecommendationOut, openapi_extra=_BODY,
              responses={200: _MARKDOWN_BODY, 406: {"model": ErrorOut}, **_ERRORS},
              summary="Recommend an architecture")
    async def recommendations(request: Request, engine: str | None = _ENGINE_QUERY,
                              html: str | None = _HTML_QUERY,
                              sensitivity: str | None = _SENSITIVITY_QUERY) -> Response:
        """The report as JSON with its Markdown (and with ``?html=true`` its HTML);
        ``Accept: text/markdown`` for the Markdown alone."""
        body = await _read_body(request, max_body_bytes)
        _check_engine(engine)
        with_html = _flag("html", html)
        with_sensitivity = _flag("sensitivity", sensitivity, default=True)
        media = _negotiate(request.headers.get("accept"))

        def answer() -> Response:
            report = evaluate(body, engine, with_sensitivity)
            markdown = render(report, "md")
            if media == MARKDOWN:
                return Response(markdown, media_type=MARKDOWN_UTF8, headers={"Vary": "Accept"})
            extra = {"markdown": markdown}
            if with_html:
                extra["html"] = report_html(report, markdown)
            return Response(compact_json(report, extra), media_type="application/json",
                            headers={"Vary": "Accept"})

        return await run_in_threadpool(answer)

    @app.post("/v1/design-docs", response_class=Response, openapi_extra=_BODY,
              responses={200: _MARKDOWN_BODY, **_ERRORS}, summary="Draft a design document")
    async def design_docs(request: Request, engine: str | None = _ENGINE_QUERY,
                          sensitivity: str | None = _SENSITIVITY_QUERY) -> Response:
        """A design-document draft in Markdown for the requirements."""
        body = await _read_body(request, max_body_bytes)
        _check_engine(engine)
        with_sensitivity = _flag("sensitivity", sensitivity, default=True)

        def answer() -> Response:
            from advisor.design_doc import design_doc

            report = evaluate(body, engine, with_sensitivity)
            return Response(design_doc(report), media_type=MARKDOWN_UTF8)

        return await run_in_threadpool(answer)

    @app.get("/v1/schema", response_model=dict[str, Any], summary="Requirements JSON Schema")
    def schema() -> Response:
        """The JSON Schema of the requirements, as ``advisor schema`` prints it."""
        return Response(schema_text, media_type=JSON)

    @app.get("/v1/rules", response_model=list[RuleSummary], summary="List the rules")
    def rules() -> Response:
        """Every rule: id, area, title, slot, component, strength, priority and file."""
        return JSONResponse(summaries)

    @app.get("/v1/rules/{rule_id}", response_model=Rule, summary="One rule",
             responses={404: {"model": ErrorOut}})
    def rule(rule_id: str) -> Response:
        """One rule as its file states it (id is case-insensitive)."""
        try:
            found = catalog.rule(rule_id.upper())
        except KeyError:
            raise _problem(404, f"no rule with id {_quote(rule_id)} (GET /v1/rules lists "
                                f"all {len(catalog.rules)} rules)") from None
        return JSONResponse(found.model_dump(mode="json", by_alias=True, exclude_none=True))

    questionnaire = questionnaire_schema()

    @app.get("/v1/questionnaire", response_model=dict[str, Any], summary="The questionnaire")
    def questionnaire_document() -> Response:
        """Sections in order, then every question with its help, kind, choices, bounds,
        default and skip conditions, as ``advisor ask`` asks them."""
        return JSONResponse(questionnaire)

    @app.post("/v1/questionnaire/state", response_model=QuestionnaireState,
              openapi_extra=_ANSWERS_BODY, summary="Where a partly filled questionnaire stands",
              responses={422: {"model": InvalidInputOut,
                               "description": "a section or question that does not exist"},
                         **{code: _ERRORS[code] for code in (400, 413, 415)}})
    async def questionnaire_progress(request: Request) -> Response:
        """The questions asked given these answers, the problems with each answer, and the
        requirements the valid answers to asked questions make."""
        body = await _read_body(request, max_body_bytes)
        state = await run_in_threadpool(_answers_state, body)
        return JSONResponse(state.model_dump(mode="json"))

    page = (STATIC_DIR / "index.html").read_bytes()
    assets = {name: (STATIC_DIR / name).read_bytes() for name in ASSETS}

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    @app.get("/web/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in assets:
            raise _problem(404, f"no file {_quote(name)} (files: {', '.join(ASSETS)})")
        return Response(assets[name], media_type=ASSETS[name], headers=_PAGE_HEADERS)

    @app.get("/healthz", response_model=Health, summary="Liveness and what is served")
    def healthz() -> Health:
        """Status, tool version, engine, rule count and rule-set hash."""
        return Health(status="ok", version=tool_version(), engine=default.engine.name,
                      rule_count=len(catalog.rules), ruleset_hash=catalog.digest)

    @app.exception_handler(Exception)
    async def internal_fault(request: Request, error: Exception) -> Response:
        # Called for faults only (client errors are HTTPExceptions); uvicorn logs the traceback.
        return JSONResponse({"detail": "internal error; the server log has the details"},
                            status_code=500)

    if allowed_hosts is not None:
        app.add_middleware(_HostCheck, allowed=allowed_hosts)
    return app
