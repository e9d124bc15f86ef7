"""The questionnaire in a browser: a real ``advisor serve`` process, driven by headless Chromium,
and the endpoints the page calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from advisor.ask import Prompt, display, run
from advisor.questions import Answers, questionnaire_schema, questions
from advisor.web import STATIC_DIR
from advisor.web.state import questionnaire_state
from support import example_files, serving

CHROMIUM = Path("/usr/bin/chromium")
# Flags that keep Chromium off the network (and working as root in a container).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ANSWERS: dict[str, dict[str, Any]] = {
    "workload": {"kind": "api", "pillar_priorities": ["reliability"]},
    "traffic": {"peak_rps": 800},
    "data": {"model": "key_value"},
    "operations": {"prefer_serverless": True},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("browser") / "server.log"
    with serving(log) as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as session:
        yield session


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM} (Debian/Ubuntu: apt-get "
                    "install chromium); Playwright's own browser download is not used")
    with sync_playwright() as playwright:
        # Playwright gives each launch a new empty profile of its own.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    requested: list[str] = []
    opened.on("request", lambda request: requested.append(request.url))
    opened.goto(f"{server}/")
    expect(opened.locator("form[data-ready=true]")).to_be_attached()
    yield opened
    context.close()
    outside = [url for url in requested if not url.startswith(f"{server}/")
               and not url.startswith("blob:")]
    assert not outside, f"the page loaded from outside its server: {outside}"


def _question(page: Page, ident: str) -> Any:
    return page.locator(f'[data-question="{ident}"]')


def _fill_answers(page: Page) -> None:
    page.select_option('select[name="workload.kind"]', "api")
    page.check('input[name="workload.pillar_priorities"][value="reliability"]')
    page.fill('input[name="traffic.peak_rps"]', "800")
    page.select_option('select[name="data.model"]', "key_value")
    page.select_option('select[name="operations.prefer_serverless"]', "true")


def _submit(page: Page) -> Any:
    """Submit the form; the requirements the page sent for the report."""
    with page.expect_response(lambda response: "/v1/recommendations" in response.url) as info:
        page.click("#recommend")
    assert info.value.status == 200
    return info.value.request.post_data_json


# --- in the browser ----------------------------------------------------------------------


def test_submitted_answers_show_the_report_with_its_diagram(page: Page,
                                                            client: httpx.Client) -> None:
    _fill_answers(page)
    sent = _submit(page)
    # What was typed, plus the defaults of the questions those answers ask.
    assert all(sent[section][field] == value for section, fields in ANSWERS.items()
               for field, value in fields.items())
    assert sent["messaging"]["priority_levels"] == 1
    expected = client.post("/v1/recommendations", json=sent).json()
    report = page.locator("#report article.report")
    expect(report.locator("svg.architecture")).to_be_visible()
    node_titles = report.locator("svg.architecture g.node > title").all_text_contents()
    assert expected["graph"]["nodes"]
    for node in expected["graph"]["nodes"]:
        assert any(title.startswith(f"{node['label']} (") for title in node_titles), node
    edges = report.locator("svg.architecture g.edge")
    expect(edges).to_have_count(len(expected["graph"]["edges"]))
    assert expected["graph"]["edges"]
    headings = report.locator("h3").all_text_contents()
    for decision in expected["decisions"]:
        assert any(heading.endswith(f": {decision['label']}") for heading in headings), decision
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#result").screenshot(path=str(ARTIFACTS / "browser-report.png"))
    assert (ARTIFACTS / "browser-report.png").stat().st_size > 10_000


def test_downloads_are_the_reports_of_the_answers(page: Page, client: httpx.Client) -> None:
    _fill_answers(page)
    sent = _submit(page)
    expect(page.locator("#report svg.architecture")).to_be_visible()

    def downloaded(kind: str) -> tuple[str, str]:
        with page.expect_download() as info:
            page.click(f'[data-download="{kind}"]')
        path = info.value.path()
        return info.value.suggested_filename, Path(path).read_text(encoding="utf-8")

    markdown = client.post("/v1/recommendations", json=sent,
                           headers={"Accept": "text/markdown"}).text
    assert downloaded("markdown") == ("report.md", markdown)
    name, text = downloaded("json")
    report = client.post("/v1/recommendations", json=sent).json()
    del report["markdown"]
    assert name == "report.json" and yaml.safe_load(text) == report
    design = client.post("/v1/design-docs", json=sent).text
    assert downloaded("design-doc") == ("design.md", design)


def test_an_existing_system_and_its_constraints_reach_the_report(page: Page) -> None:
    _fill_answers(page)
    page.select_option('select[name="existing.front_door"]', "alb")
    page.check('input[name="constraints.keep"][value="front_door"]')
    page.fill('textarea[name="constraints.must_not_use"]',
              "eks: no Kubernetes until the platform team supports it\n")
    sent = _submit(page)
    assert sent["existing"] == {"front_door": "alb"}
    assert sent["constraints"]["keep"] == ["front_door"]
    assert sent["constraints"]["must_not_use"] == [
        {"component": "eks", "reason": "no Kubernetes until the platform team supports it"}]
    report = page.locator("#report article.report")
    expect(report.locator('svg.architecture rect[data-existing="true"]')).to_have_count(1)
    expect(report).to_contain_text("Existing system and constraints")
    expect(report).to_contain_text("no Kubernetes until the platform team supports it")


def test_a_component_without_a_reason_is_explained_beside_its_field(page: Page) -> None:
    _fill_answers(page)
    page.fill('textarea[name="constraints.must_use"]', "aurora")
    page.click("#recommend")
    error = _question(page, "constraints.must_use").locator(".error")
    expect(error).to_contain_text("at least 3 characters")
    expect(page.locator("#result")).to_be_hidden()


def test_a_bad_value_is_explained_beside_its_field(page: Page) -> None:
    page.select_option('select[name="workload.kind"]', "api")
    page.fill('input[name="traffic.peak_rps"]', "-5")
    error = _question(page, "traffic.peak_rps").locator(".error")
    expect(error).to_contain_text("input should be greater than or equal to 0, got -5")
    page.select_option('select[name="messaging.async_processing"]', "true")
    page.fill('input[name="messaging.priority_levels"]', "2.5")
    page.click("#recommend")
    expect(page.locator("#status")).to_have_text("2 answers need attention.")
    expect(_question(page, "messaging.priority_levels").locator(".error")).to_contain_text(
        "input should be a valid integer")
    expect(page.locator("#result")).to_be_hidden()
    expect(_question(page, "traffic.peak_rps")).to_have_class("question invalid")
    expect(page.locator('input[name="traffic.peak_rps"]')).to_be_focused()
    page.fill('input[name="traffic.peak_rps"]', "50")
    expect(error).to_be_empty()


def test_questions_appear_and_disappear_as_answers_change(page: Page) -> None:
    consumers = _question(page, "messaging.consumers")
    replay = _question(page, "messaging.replay")
    expect(consumers).to_be_visible()  # unknown never hides a question
    page.select_option('select[name="workload.kind"]', "api")  # replay: not a stream workload
    page.select_option('select[name="messaging.async_processing"]', "false")
    expect(consumers).to_be_hidden()
    expect(replay).to_be_hidden()
    page.select_option('select[name="messaging.async_processing"]', "true")
    expect(consumers).to_be_visible()
    expect(replay).to_be_visible()
    page.select_option('select[name="messaging.async_processing"]', "false")
    expect(replay).to_be_hidden()


def test_a_hidden_answer_is_not_sent(page: Page, client: httpx.Client) -> None:
    page.select_option('select[name="messaging.async_processing"]', "true")
    page.select_option('select[name="messaging.consumers"]', "many")
    page.select_option('select[name="messaging.async_processing"]', "false")
    expect(_question(page, "messaging.consumers")).to_be_hidden()
    sent = _submit(page)
    # Defaults fill the hidden messaging questions too; they are left out as well.
    assert sent["messaging"] == {"async_processing": False}


# --- the endpoints the page calls --------------------------------------------------------


def test_questionnaire_is_the_one_advisor_ask_asks(client: httpx.Client) -> None:
    assert client.get("/v1/questionnaire").json() == questionnaire_schema()


class _Replies:
    """A terminal that answers from a requirements document and records what it was asked."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def show(self, text: str) -> None:
        pass

    def ask(self, prompt: Prompt) -> str | None:
        question = prompt.question
        self.asked.append(question.id)
        section = self.answers.get(question.section) or {}
        value = section.get(question.field)
        return "-" if value is None else display(value)


@pytest.mark.parametrize("path", example_files()[:8], ids=lambda path: path.stem)
def test_state_asks_what_advisor_ask_asks(path: Path) -> None:
    answers = yaml.safe_load(path.read_text(encoding="utf-8"))
    terminal = _Replies(answers)
    result = run(questions(), {}, terminal)
    state = questionnaire_state(answers)
    assert state.asked == terminal.asked
    assert not state.errors
    known: Answers = {section: {field: value for field, value in fields.items()
                                if value is not None}
                      for section, fields in result.answers.items()}
    assert state.requirements == {section: fields for section, fields in known.items() if fields}


def test_state_reports_each_bad_answer_and_keeps_the_good_ones(client: httpx.Client) -> None:
    response = client.post("/v1/questionnaire/state", json={
        "workload": {"kind": "api"},
        "traffic": {"peak_rps": -1, "average_rps": 10},
        "messaging": {"async_processing": False, "consumers": "many"},
        "data": {"model": "graph-ish"},
    })
    assert response.status_code == 200
    state = response.json()
    assert state["errors"] == {
        "traffic.peak_rps": ["input should be greater than or equal to 0, got -1 "
                             "(a number >= 0 and <= 1e+12)"],
        "data.model": [state["errors"]["data.model"][0]],
    }
    assert 'got "graph-ish" (one of: ' in state["errors"]["data.model"][0]
    assert "messaging.consumers" not in state["asked"]
    assert state["requirements"] == {"workload": {"kind": "api"},
                                     "traffic": {"average_rps": 10},
                                     "messaging": {"async_processing": False}}


@pytest.mark.parametrize(("body", "content_type", "status", "detail"), [
    (b"{", "application/json", 400, "request body is not valid JSON"),
    (b"", "application/json", 400, "request body is empty"),
    (b"[1, 2]", "application/json", 422, "expected a mapping of sections to answers, got list"),
    (b'{"traffic": 3}', "application/json", 422, "expected a mapping of fields to answers"),
    (b'{"trafic": {}}', "application/json", 422, "not a section (sections: workload, traffic,"),
    (b'{"traffic": {"peak": 1}}', "application/json", 422,
     "not a question (questions of traffic: peak_rps,"),
    (b'{"a": 1, "a": 2}', "application/json", 400, 'duplicate key "a"'),
    (b"workload: {}", "text/yaml", 415, "send the requirements as JSON"),
])
def test_state_refuses_a_bad_body_with_a_client_error(client: httpx.Client, body: bytes,
                                                       content_type: str, status: int,
                                                       detail: str) -> None:
    response = client.post("/v1/questionnaire/state", content=body,
                           headers={"Content-Type": content_type})
    assert response.status_code == status
    found = response.json()["detail"]
    text = found if isinstance(found, str) else " ".join(item["msg"] for item in found)
    assert detail in text


def test_html_report_escapes_what_the_user_typed(client: httpx.Client) -> None:
    name = '<img src=x onerror="alert(1)"> shop'
    response = client.post("/v1/recommendations?html=true",
                           json={"workload": {"kind": "api", "name": name}})
    assert response.status_code == 200
    html = response.json()["html"]
    assert html.startswith('<article class="report">') and "<svg" in html
    assert "<img" not in html and "&lt;img" in html
    assert "```mermaid" not in html and "flowchart LR" not in html


@pytest.mark.parametrize("value", ["yes", "1", ""])
def test_html_flag_takes_true_or_false_only(client: httpx.Client, value: str) -> None:
    response = client.post(f"/v1/recommendations?html={value}", json={})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "html"]


def test_json_report_has_html_only_when_asked(client: httpx.Client) -> None:
    assert "html" not in client.post("/v1/recommendations", json={}).json()
    assert "html" not in client.post("/v1/recommendations?html=false", json={}).json()


def test_page_and_its_files_are_served_from_the_package(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/web/app.js").text == (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    assert client.get("/web/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/web/index.html").status_code == 404
    assert client.get("/web/..%2Fstate.py").status_code == 404
    for file in STATIC_DIR.iterdir():
        text = file.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, file


def test_openapi_describes_the_questionnaire_endpoints(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    state = paths["/v1/questionnaire/state"]["post"]
    assert state["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/QuestionnaireState")
    assert "422" in state["responses"]
    assert "get" in paths["/v1/questionnaire"]
    parameters = {item["name"] for item in paths["/v1/recommendations"]["post"]["parameters"]}
    assert parameters == {"engine", "html", "sensitivity"}
