"""The HTTP API as a client meets it: a real ``advisor serve`` process on a loopback port."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.catalog import Catalog
from advisor.engine.base import EngineError
from advisor.inputs import parse_requirements
from advisor.models.report import Report
from advisor.models.requirements import Requirements, WorkloadKind
from advisor.pipeline import Advisor, given_requirements, input_hash, tool_version
from advisor.render import render
from advisor.server import create_app
from support import example_files, serving, start_server

MAX_BODY = 65_536  # small, so the oversized-body tests stay cheap
EXAMPLE = Path("examples/serverless-api.yaml")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with serving(log, "--max-body-bytes", str(MAX_BODY)) as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as session:
        yield session


def _example(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _in_process(advisor: Advisor, body: dict[str, Any]) -> Report:
    return advisor.recommend(parse_requirements(body), sensitivity=True)


def _recommend(client: httpx.Client, body: Any, **headers: str) -> httpx.Response:
    return client.post("/v1/recommendations", json=body, headers=headers)


# --- what a good request returns ---------------------------------------------------------


def test_health_names_version_rule_count_and_ruleset(client: httpx.Client,
                                                     catalog: Catalog) -> None:
    health = client.get("/healthz").json()
    assert health == {"status": "ok", "version": tool_version(), "engine": "durable",
                      "rule_count": len(catalog.rules), "ruleset_hash": catalog.digest}


@pytest.mark.parametrize("path", example_files(), ids=lambda path: path.stem)
def test_every_example_gives_the_in_process_report(client: httpx.Client, durable: Advisor,
                                                   path: Path) -> None:
    response = _recommend(client, _example(path))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    got = response.json()
    expected = _in_process(durable, _example(path))
    assert got.pop("markdown") == render(expected, "md")
    assert got == expected.model_dump(mode="json")
    assert got["decisions"] and got["graph"]["nodes"]


def test_what_would_change_each_decision_can_be_left_out(client: httpx.Client) -> None:
    body = _example(example_files()[0])
    full = _recommend(client, body).json()
    assert all(item["sensitivity"] is not None for item in full["decisions"])
    assert "What would change this decision" in full["markdown"]
    short = client.post("/v1/recommendations?sensitivity=false", json=body).json()
    assert all(item["sensitivity"] is None for item in short["decisions"])
    assert "What would change this decision" not in short["markdown"]
    assert [item["component"] for item in short["decisions"]] == \
        [item["component"] for item in full["decisions"]]
    wrong = client.post("/v1/recommendations?sensitivity=maybe", json=body)
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["query", "sensitivity"]


def test_api_and_command_line_give_the_same_decisions(client: httpx.Client) -> None:
    cli = subprocess.run([sys.executable, "-m", "advisor", "recommend", str(EXAMPLE),
                          "--format", "json"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    api = _recommend(client, _example(EXAMPLE)).json()
    assert api["decisions"] == json.loads(cli.stdout)["decisions"]
    assert api["input_hash"] == json.loads(cli.stdout)["input_hash"]


def test_same_request_gives_byte_identical_responses(client: httpx.Client) -> None:
    first = _recommend(client, _example(EXAMPLE))
    second = _recommend(client, _example(EXAMPLE))
    assert first.status_code == 200
    assert first.content == second.content


def test_accept_markdown_returns_the_report_alone(client: httpx.Client, durable: Advisor) -> None:
    response = _recommend(client, _example(EXAMPLE), accept="text/markdown")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["vary"] == "Accept"
    assert response.text == render(_in_process(durable, _example(EXAMPLE)), "md")
    assert response.text.startswith("# Serverless API")


@pytest.mark.parametrize(("accept", "media"), [
    ("application/json", "application/json"),
    ("*/*", "application/json"),
    ("text/markdown, */*;q=0.1", "text/markdown; charset=utf-8"),
    ("text/*", "text/markdown; charset=utf-8"),
    ("application/json;q=0.2, text/markdown;q=0.9", "text/markdown; charset=utf-8"),
    ("text/markdown;q=0, */*", "application/json"),
])
def test_accept_header_chooses_the_format(client: httpx.Client, accept: str, media: str) -> None:
    response = _recommend(client, {"workload": {"name": "negotiated"}}, accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == media


def test_unacceptable_accept_header_is_406(client: httpx.Client) -> None:
    response = _recommend(client, {}, accept="text/html")
    assert response.status_code == 406
    assert "application/json or text/markdown" in response.json()["detail"]


def test_engine_query_selects_the_backend(client: httpx.Client, durable: Advisor) -> None:
    response = client.post("/v1/recommendations", params={"engine": "python"},
                           json=_example(EXAMPLE))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["engine"] == "python"
    expected = _in_process(durable, _example(EXAMPLE)).model_dump(mode="json")
    assert report["decisions"] == expected["decisions"]


def test_unknown_engine_is_422_naming_the_allowed_ones(client: httpx.Client) -> None:
    response = client.post("/v1/recommendations", params={"engine": "drools"}, json={})
    assert response.status_code == 422
    assert response.json()["detail"] == [{
        "loc": ["query", "engine"], "type": "enum",
        "msg": 'unknown engine "drools" (allowed: durable, python)'}]


def test_design_doc_is_markdown_for_the_same_report(client: httpx.Client,
                                                    durable: Advisor) -> None:
    from advisor.design_doc import design_doc

    response = client.post("/v1/design-docs", json=_example(EXAMPLE))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.text == design_doc(_in_process(durable, _example(EXAMPLE)))


def test_design_doc_refuses_invalid_input_like_recommendations(client: httpx.Client) -> None:
    response = client.post("/v1/design-docs", json={"traffic": {"peak_rps": "lots"}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "traffic", "peak_rps"]


# --- the other endpoints -----------------------------------------------------------------


def test_schema_is_what_advisor_schema_prints(client: httpx.Client) -> None:
    response = client.get("/v1/schema")
    assert response.status_code == 200
    assert response.text == json.dumps(Requirements.model_json_schema(), indent=2,
                                       sort_keys=True) + "\n"


def test_rules_list_has_every_rule(client: httpx.Client, catalog: Catalog) -> None:
    rules = client.get("/v1/rules").json()
    assert [rule["id"] for rule in rules] == [rule.id for rule in catalog.rules]
    first = next(rule for rule in rules if rule["id"] == "DATA-001")
    assert first == {"id": "DATA-001", "area": "data", "title": catalog.rule("DATA-001").title,
                     "slot": "primary_datastore", "component": "aurora", "strength": "strong",
                     "priority": catalog.rule("DATA-001").priority,
                     "file": catalog.rule_files["DATA-001"]}


def test_one_rule_as_its_file_states_it(client: httpx.Client, catalog: Catalog) -> None:
    response = client.get("/v1/rules/data-001")  # ids are case-insensitive, as on the CLI
    assert response.status_code == 200
    rule = response.json()
    assert rule == catalog.rule("DATA-001").model_dump(mode="json", by_alias=True,
                                                       exclude_none=True)
    assert rule["when"] and rule["citations"] and rule["examples"]["fires"]


def test_unknown_rule_is_404_with_a_message(client: httpx.Client) -> None:
    response = client.get("/v1/rules/DATA-999")
    assert response.status_code == 404
    assert response.json()["detail"].startswith('no rule with id "DATA-999" (GET /v1/rules')


def test_openapi_document_describes_the_requests_and_responses(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert set(document["paths"]) == {"/v1/recommendations", "/v1/design-docs", "/v1/schema",
                                      "/v1/rules", "/v1/rules/{rule_id}", "/healthz",
                                      "/v1/questionnaire", "/v1/questionnaire/state"}
    schemas = document["components"]["schemas"]
    post = document["paths"]["/v1/recommendations"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Requirements"}
    assert set(schemas["Requirements"]["properties"]) == set(Requirements.model_fields)
    ok = post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert {"markdown", "decisions", "graph"} <= set(schemas[ok.rsplit("/", 1)[1]]["properties"])
    assert post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/InvalidInputOut")

    def references(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield from [value] if key == "$ref" else references(value)
        elif isinstance(node, list):
            for value in node:
                yield from references(value)

    for reference in references(document):
        assert reference.removeprefix("#/components/schemas/") in schemas, reference


def test_the_questionnaire_page_is_served_at_the_root(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "loc", "message"), [
    ({"data": {"modle": "relational"}}, ["body", "data", "modle"],
     "unknown key (allowed keys in data: model,"),
    ({"dataa": {}}, ["body", "dataa"], "unknown key (allowed sections: workload, traffic,"),
    ({"data": {"needs_joins": "yes"}}, ["body", "data", "needs_joins"],
     'input should be a valid boolean, got "yes" (true or false)'),
    ({"workload": {"kind": "website"}}, ["body", "workload", "kind"],
     "(one of: web_app, api, event_processing, messaging, data_pipeline, analytics, batch)"),
    ({"workload": {"pillar_priorities": ["security", "speed"]}},
     ["body", "workload", "pillar_priorities", 1], 'got "speed"'),
    ({"traffic": {"peak_rps": -1}}, ["body", "traffic", "peak_rps"],
     "greater than or equal to 0, got -1"),
    ([1, 2], ["body"], "expected a mapping of sections, got list"),
])
def test_invalid_requirements_are_422_with_the_field_path(
        client: httpx.Client, body: Any, loc: list[str | int], message: str) -> None:
    response = _recommend(client, body)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == loc
    assert message in problem["msg"]
    assert problem["type"] == "invalid_requirements"


def test_every_problem_is_reported_at_once(client: httpx.Client) -> None:
    response = _recommend(client, {"data": {"modle": 1}, "traffic": {"peak_rps": "x"}})
    locations = [problem["loc"] for problem in response.json()["detail"]]
    assert locations == [["body", "traffic", "peak_rps"], ["body", "data", "modle"]]


@pytest.mark.parametrize(("content", "status", "message"), [
    (b'{"data": {"model": "relational",}}', 400, "not valid JSON: "),
    (b'{"data": ', 400, "not valid JSON: Expecting value (line 1, column 10)"),
    (b"", 400, "request body is empty"),
    (b"   \n", 400, "request body is empty"),
    (b'{"data": {"model": "relational"}, "data": {}}', 400, 'duplicate key "data"'),
    (b'{"w": "\xff\xfe"}', 400, "not UTF-8 text (bad byte at offset 7)"),
    (b"[" * 100_000 + b"]" * 100_000, 413, "larger than"),
    (b"[" * 5_000 + b"]" * 5_000, 400, "nests deeper than 32 levels"),
    (b'{"a": ' * 40 + b"1" + b"}" * 40, 400, "nests deeper than 32 levels"),
    (b'{"traffic": {"peak_rps": ' + b"9" * 5000 + b"}}", 400, "more than 100 digits"),
    (b'{"traffic": {"peak_rps": 1e400}}', 422, "finite number, got Infinity"),
    (b'{"traffic": {"peak_rps": NaN}}', 422, "finite number, got NaN"),
    (b'{"traffic": {"peak_rps": -Infinity}}', 422, "finite number, got -Infinity"),
    (b'{"traffic": {"peak_rps": 1' + b"0" * 60 + b"}}", 422, "less than or equal to"),
    (b'"requirements"', 422, "expected a mapping of sections, got str"),
    (b"42", 422, "expected a mapping of sections, got int"),
    (b"true", 422, "expected a mapping of sections, got bool"),
    (b'{"traffic": [1, {"x": [null, {}]}]}', 422, "input should be an object"),
    (b'{"traffic": {"peak_rps": {"a": [{"b": null}]}}}', 422, "valid number"),
    (b'{"\\u0000": {"x": 1}}', 422, "unknown key"),
    ('{"\u00b2": {"\u0661": 1}}'.encode(), 422, "unknown key"),
    (b'{"workload": {"name": "\\ud800"}}', 400, "unpaired surrogate escape"),
    (b'{"\\udfff": 1}', 400, "unpaired surrogate escape"),
    (b'{"workload": {"name": "' + b"x" * 5000 + b'"}}', 422, "at most 200 characters"),
])
def test_odd_bodies_get_a_4xx_with_a_message_never_a_500(
        client: httpx.Client, content: bytes, status: int, message: str) -> None:
    response = client.post("/v1/recommendations", content=content,
                           headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    text = detail if isinstance(detail, str) else " ".join(item["msg"] for item in detail)
    assert message in text


def test_null_body_means_nothing_is_known(client: httpx.Client) -> None:
    response = client.post("/v1/recommendations", content=b"null",
                           headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["requirements"] == {}


def test_a_body_that_is_not_json_by_content_type_is_415(client: httpx.Client) -> None:
    response = client.post("/v1/recommendations", content=b"workload: {kind: api}",
                           headers={"content-type": "application/yaml"})
    assert response.status_code == 415
    assert response.json()["detail"] == (
        "send the requirements as JSON with Content-Type: application/json "
        "(got application/yaml)")


_FIELDS = {section: list(model.model_fields)
           for section, model in ((name, Requirements.model_fields[name].annotation)
                                  for name in Requirements.model_fields)
           if isinstance(model, type)}
_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(_FIELDS)),
                       st.dictionaries(st.sampled_from(sorted({f for fs in _FIELDS.values()
                                                               for f in fs})),
                                       _ANY_JSON, max_size=4),
                       max_size=4) | _ANY_JSON)
def test_any_json_document_gets_a_report_or_a_422(client: httpx.Client, body: Any) -> None:
    content = json.dumps(body).encode()  # NaN and Infinity included, as Python writes them
    response = client.post("/v1/recommendations", content=content,
                           headers={"content-type": "application/json"})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert all(problem["loc"][0] == "body" for problem in response.json()["detail"])


# --- limits ------------------------------------------------------------------------------


def test_body_over_the_limit_by_content_length_is_413(client: httpx.Client) -> None:
    response = client.post("/v1/recommendations", content=b"{}" + b" " * MAX_BODY,
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["detail"] == f"request body is larger than {MAX_BODY} bytes"


def test_chunked_body_over_the_limit_is_413(server: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"{"
        for _ in range(40):
            yield b" " * 4096

    with httpx.Client(base_url=server, timeout=60) as fresh:
        response = fresh.post("/v1/recommendations", content=chunks(),
                              headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_body_exactly_at_the_limit_is_accepted(client: httpx.Client) -> None:
    content = b"{}".ljust(MAX_BODY, b" ")
    response = client.post("/v1/recommendations", content=content,
                           headers={"content-type": "application/json"})
    assert response.status_code == 200


# --- concurrency -------------------------------------------------------------------------


def _varied(index: int) -> dict[str, Any]:
    kinds = list(WorkloadKind)
    models = ["relational", "key_value", "document", "time_series"]
    return {
        "workload": {"name": f"system {index}", "kind": kinds[index % len(kinds)].value},
        "traffic": {"peak_rps": 50 + index * 397, "pattern": ("spiky", "steady")[index % 2]},
        "data": {"model": models[index % len(models)], "needs_joins": index % 3 == 0},
        "availability": {"multi_az": index % 2 == 0},
    }


def test_fifty_concurrent_requests_each_get_their_own_report(server: str,
                                                             durable: Advisor) -> None:
    bodies = [_varied(index) for index in range(50)]

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=server, timeout=120, limits=limits) as session:
            return await asyncio.gather(*(session.post("/v1/recommendations", json=body)
                                          for body in bodies))

    responses = asyncio.run(send_all())
    distinct_decisions = set()
    for body, response in zip(bodies, responses, strict=True):
        assert response.status_code == 200, response.text
        report = response.json()
        requirements = parse_requirements(body)
        assert report["title"] == body["workload"]["name"]
        assert report["input_hash"] == input_hash(given_requirements(requirements))
        expected = durable.recommend(requirements, sensitivity=True).model_dump(mode="json")
        assert report["decisions"] == expected["decisions"]
        distinct_decisions.add(json.dumps(report["decisions"]))
    assert len(distinct_decisions) > 5  # the inputs really lead to different reports


# --- the command ---------------------------------------------------------------------------


def test_a_port_in_use_is_a_clear_error(server: str, tmp_path: Path) -> None:
    port = server.rsplit(":", 1)[1]
    log = tmp_path / "second.log"
    second = start_server("--port", port, log=log)
    assert second.wait(timeout=120) == 2
    text = log.read_text()
    assert f"advisor: cannot listen on 127.0.0.1:{port}: address already in use" in text
    assert "Traceback" not in text


@pytest.mark.parametrize(("args", "message"), [
    (("--host", "192.0.2.1", "--port", "0"),
     "advisor: cannot listen on 192.0.2.1:0: cannot assign requested address"),
    (("--port", "70000"), "advisor: --port 70000: not a TCP port (0 to 65535)"),
    (("--max-body-bytes", "0"), "advisor: --max-body-bytes 0: must be at least 1"),
])
def test_bad_options_exit_2_without_a_traceback(tmp_path: Path, args: tuple[str, ...],
                                                message: str) -> None:
    log = tmp_path / "serve.log"
    process = start_server(*args, log=log)
    assert process.wait(timeout=120) == 2
    assert message in log.read_text()
    assert "Traceback" not in log.read_text()


# --- faults inside the server --------------------------------------------------------------


class _FailingAdvisor(Advisor):
    def recommend(self, requirements: Requirements, sensitivity: bool = False) -> Report:
        raise EngineError("rule DATA-001: the core returned no result")


def test_an_engine_failure_is_a_json_500_naming_the_engine(catalog: Catalog) -> None:
    failing = _FailingAdvisor(engine="python", catalog=catalog)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(failing))
        async with httpx.AsyncClient(transport=transport, base_url="http://advisor") as app:
            return await app.post("/v1/recommendations", json={})

    response = asyncio.run(post())
    assert response.status_code == 500
    assert response.json() == {
        "detail": "engine 'python' failed: rule DATA-001: the core returned no result"}


def test_a_constraint_naming_an_unknown_component_is_a_422(client: httpx.Client) -> None:
    response = _recommend(client, {"constraints": {"must_not_use": [
        {"component": "ekss", "reason": "No Kubernetes yet"}]}})
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"][-4:] == ["constraints", "must_not_use", 0, "component"]
    assert "unknown component 'ekss'" in problem["msg"] and "eks" in problem["msg"]
