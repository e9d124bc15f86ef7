"""`advisor ask`: questions generated from the model, skip logic as data, and the questionnaire
run for real through a pipe and through a pseudo-terminal."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any, get_args

import pexpect
import pytest
import yaml
from pexpect.popen_spawn import PopenSpawn
from pydantic import BaseModel

from advisor.ask import Prompt, interpret, run
from advisor.inputs import parse_requirements
from advisor.models.requirements import Requirements
from advisor.paths import examples_dir
from advisor.pipeline import Advisor
from advisor.questions import (
    Answers,
    Question,
    QuestionnaireError,
    answer_facts,
    check_answer,
    is_asked,
    questionnaire_path,
    questionnaire_schema,
    questions,
)

ASK = [sys.executable, "-m", "advisor", "ask"]
QUESTIONS = {question.id: question for question in questions()}
PROMPT = r"\[\d+/\d+\] ([a-z_]+\.[a-z0-9_]+)"


def ask(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ASK, *args], capture_output=True, text=True, input=stdin,
                          timeout=120)


def asked_ids(transcript: str) -> list[str]:
    """The question ids in the order prompted (a re-asked question appears twice)."""
    import re

    return re.findall(PROMPT, transcript)


# --- questions generated from the model -------------------------------------------------------


def _model_fields() -> list[tuple[str, str, Any]]:
    out = []
    for section, info in Requirements.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        out += [(section, name, field) for name, field in model.model_fields.items()]
    return out


def _enum_in(annotation: Any) -> type[Enum] | None:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    for arg in get_args(annotation):
        found = _enum_in(arg)
        if found is not None:
            return found
    return None


def test_every_model_field_is_one_question_with_its_description_and_choices() -> None:
    fields = _model_fields()
    assert sorted(QUESTIONS) == sorted(f"{section}.{name}" for section, name, _ in fields)
    for section, name, field in fields:
        question = QUESTIONS[f"{section}.{name}"]
        assert (question.section, question.field) == (section, name)
        assert question.help == field.description
        enum = _enum_in(field.annotation)
        if enum is not None:
            assert question.choices == tuple(item.value for item in enum)
            assert question.kind == ("multi" if "list" in str(field.annotation) else "enum")


def test_kinds_and_bounds_come_from_the_model() -> None:
    assert QUESTIONS["traffic.global_users"].kind == "bool"
    assert QUESTIONS["workload.name"].kind == "text"
    assert QUESTIONS["security.compliance"].kind == "multi"
    levels = QUESTIONS["messaging.priority_levels"]
    assert (levels.kind, levels.minimum, levels.maximum) == ("integer", 1, 100)
    consumers = QUESTIONS["streaming.consumer_count"]
    assert (consumers.kind, consumers.minimum, consumers.maximum) == ("integer", 0, 1000)
    p99 = QUESTIONS["latency.p99_ms"]
    assert (p99.kind, p99.minimum, p99.minimum_exclusive) == ("number", 0, True)
    assert QUESTIONS["traffic.peak_rps"].minimum == 0


def test_sections_are_asked_together_in_the_order_the_file_gives() -> None:
    order = yaml.safe_load(questionnaire_path().read_text())["sections"]
    seen = list(dict.fromkeys(question.section for question in questions()))
    assert seen == order


def test_the_schema_is_plain_json_that_rebuilds_every_question() -> None:
    schema = json.loads(json.dumps(questionnaire_schema()))
    assert [item["id"] for item in schema["sections"]][:2] == ["workload", "traffic"]
    rebuilt = [Question.model_validate(item) for item in schema["questions"]]
    assert rebuilt == questions()
    replay = next(item for item in schema["questions"] if item["id"] == "messaging.replay")
    assert replay["ask_when"][0]["when"] == [
        {"fact": "messaging.async_processing", "equals": True},
    ]


# --- skip logic --------------------------------------------------------------------------------


def test_every_condition_names_a_real_question_asked_earlier() -> None:
    position = {question.id: index for index, question in enumerate(questions())}
    conditions = 0
    for question in questions():
        for condition in question.ask_when:
            conditions += 1
            for clause in condition.when:
                assert clause.fact in position, (question.id, clause.fact)
                assert position[clause.fact] < position[question.id], (question.id, clause.fact)
    assert conditions >= 10


@pytest.mark.parametrize(("facts", "question", "expected"), [
    ({"messaging.async_processing": False}, "messaging.consumers", False),
    ({"messaging.async_processing": True}, "messaging.consumers", True),
    ({}, "messaging.consumers", True),  # not known: asked
    # One consumer may still need to reprocess history (MSG-008), so replay is asked.
    ({"workload.kind": "api", "messaging.async_processing": True, "messaging.consumers": "one"},
     "messaging.replay", True),
    ({"workload.kind": "api", "messaging.async_processing": False}, "messaging.replay", False),
    ({"workload.kind": "api", "messaging.async_processing": True, "messaging.consumers": "many"},
     "messaging.replay", True),
    ({"workload.kind": "api", "messaging.async_processing": True}, "messaging.replay", True),
    ({"messaging.async_processing": True, "messaging.consumers": "one"}, "messaging.replay",
     True),  # the workload kind is not known, and it could make replay relevant
    ({"workload.kind": "analytics", "messaging.async_processing": False}, "messaging.replay", True),
    ({"caching.hot_reads": False, "data.shared_session_state": False}, "caching.persistence", False),
    ({"caching.hot_reads": False, "data.shared_session_state": True}, "caching.persistence", True),
    ({"workload.kind": "batch"}, "api.auth", False),
    ({"workload.kind": "api"}, "api.auth", True),
    ({"workload.kind": "web_app"}, "analytics.ingest", False),
    ({"workload.kind": "web_app"}, "analytics.search", True),
    ({"workload.kind": "web_app", "analytics.ingest": "streaming"}, "streaming.consumer_count", True),
    ({"workload.kind": "web_app", "messaging.async_processing": False, "data.change_capture": False,
      "analytics.ingest": "batch"}, "streaming.consumer_count", False),
    ({"workload.kind": "web_app", "messaging.async_processing": False}, "streaming.consumer_count",
     True),  # change capture and ingest are not known, and either could make it relevant
    ({"storage.kind": "object"}, "storage.file_protocol", False),
    ({"storage.kind": "file"}, "storage.file_protocol", True),
    ({"availability.multi_region": False}, "availability.active_active", False),
])
def test_skip_conditions(facts: dict[str, Any], question: str, expected: bool) -> None:
    assert is_asked(QUESTIONS[question], facts) is expected


# A rule example the questionnaire cannot reproduce, and why that is intended.
NOT_REACHABLE = {
    ("CONF-007", "contradiction"): "active_active is not asked without multi_region, so the "
    "contradiction this rule reports cannot be stated",
}


def _without_hidden(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every answer the questionnaire would not have asked for removed."""
    kept: Answers = {}
    for question in questions():
        fields = data.get(question.section) or {}
        if question.field in fields and is_asked(question, answer_facts(kept)):
            kept.setdefault(question.section, {})[question.field] = fields[question.field]
    return kept


def test_skipping_never_changes_the_advice_for_the_bundled_examples(reference: Advisor) -> None:
    for path in sorted(examples_dir().glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        kept = _without_hidden(data)
        full = reference.recommend(parse_requirements(data))
        asked = reference.recommend(parse_requirements(kept))
        assert [f.rule_id for f in full.trace] == [f.rule_id for f in asked.trace], path.name
    # The comparison is not vacuous: answers the questionnaire would not ask for are dropped.
    stated = {"workload": {"kind": "web_app"},
              "messaging": {"async_processing": False, "consumers": "many"}}
    assert _without_hidden(stated) == {"workload": {"kind": "web_app"},
                                       "messaging": {"async_processing": False}}


def test_skipping_never_silences_a_rule_example(reference: Advisor) -> None:
    silenced = set()
    for rule in reference.catalog.rules:
        for example in rule.examples.fires:
            kept = _without_hidden(example.requirements)
            if kept == example.requirements:
                continue
            report = reference.recommend(parse_requirements(kept))
            if all(firing.rule_id != rule.id for firing in report.trace):
                silenced.add((rule.id, example.name))
    assert silenced == set(NOT_REACHABLE)


def _flow_file(tmp_path: Path, text: str) -> Path:
    sections = yaml.safe_load(questionnaire_path().read_text())["sections"]
    path = tmp_path / "questionnaire.yaml"
    path.write_text(f"sections: {json.dumps(sections)}\n" + text)
    return path


def test_a_bad_questionnaire_file_names_every_problem_and_its_line(tmp_path: Path) -> None:
    path = _flow_file(tmp_path, """\
defaults:
  messaging.priority_levels: 0
  traffic.peak: 5
conditions:
  - ask: [messaging.consumers]
    when: [{fact: messaging.asynch, equals: true}]
    because: A typo in the fact name.
  - ask: [traffic.peak_rps]
    when: [{fact: traffic.pattern, equals: spiky}]
    because: Pattern comes after the peak.
  - ask: [data.size_gb]
    when: [{fact: data.model, equals: tabular}]
    because: Not a value of the data model.
  - ask: [data.size_gb, data.nope]
    when: [{fact: workload.kind, exists: true}]
    because: Exists is meaningless here.
""")
    with pytest.raises(QuestionnaireError) as caught:
        questions(path)
    assert caught.value.problems == [
        f"{path}:3: defaults: messaging.priority_levels: input should be greater than or equal to 1, got 0 (a whole number >= 1 and <= 100)",
        f"{path}:4: defaults: 'traffic.peak' is not a question (questions are named section.field)",
        f"{path}:7: conditions.0.when.0.fact: unknown fact 'messaging.asynch' (did you mean 'messaging.replay'?)",
        f"{path}:10: conditions.1.when.0.fact: 'traffic.pattern' is not asked before traffic.peak_rps (a condition may only name an earlier question; see `sections` for the order)",
        f"{path}:13: conditions.2.when.0.equals: 'tabular' is not a value of data.model (allowed: relational, key_value, document, wide_column, time_series, graph, blob)",
        f"{path}:15: conditions.3.ask: 'data.nope' is not a question (questions are named section.field)",
        f"{path}:16: conditions.3.when.0: exists: not allowed in a questionnaire condition (an unanswered question counts as holding)",
    ]


def test_sections_must_all_be_listed_once(tmp_path: Path) -> None:
    path = tmp_path / "questionnaire.yaml"
    path.write_text("sections: [workload, traffic, traffic]\n")
    with pytest.raises(QuestionnaireError, match=r"missing: analytics, api, .*repeated: traffic"):
        questions(path)


# --- replies and the run, without a terminal ---------------------------------------------------


@pytest.mark.parametrize(("question", "reply", "value"), [
    ("traffic.global_users", "Yes", True),
    ("traffic.global_users", "n", False),
    ("traffic.global_users", "maybe", "maybe"),  # left for the model to refuse
    ("workload.kind", "2", "api"),
    ("workload.kind", "batch", "batch"),
    ("workload.kind", "9", "9"),
    ("security.compliance", "1, hipaa", ["pci_dss", "hipaa"]),
    ("security.compliance", "none", []),
    ("traffic.peak_rps", "1e3", 1000.0),
    ("traffic.peak_rps", "250", 250),
    ("traffic.peak_rps", "inf", "inf"),
    ("traffic.peak_rps", "", None),
    ("traffic.peak_rps", " skip ", None),
    ("messaging.priority_levels", "", 1),  # the file's default
    ("messaging.priority_levels", "-", None),
    ("workload.name", "Shop", "Shop"),
])
def test_replies_become_values(question: str, reply: str, value: Any) -> None:
    assert interpret(QUESTIONS[question], reply) == value


def test_a_refused_answer_gets_the_message_recommend_gives(tmp_path: Path) -> None:
    source = tmp_path / "requirements.yaml"
    source.write_text("messaging:\n  priority_levels: 0\n")
    result = subprocess.run([sys.executable, "-m", "advisor", "recommend", str(source)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    expected = result.stderr.split("messaging.priority_levels: ", 1)[1].strip()
    (problem,) = check_answer({}, QUESTIONS["messaging.priority_levels"], 0)
    assert str(problem) == f"answer: messaging.priority_levels: {expected}"


class Scripted:
    """A terminal that replies from a script and records what it was asked."""

    def __init__(self, replies: dict[str, list[str]]) -> None:
        self.replies = replies
        self.prompts: list[Prompt] = []

    def show(self, text: str) -> None:
        pass

    def ask(self, prompt: Prompt) -> str | None:
        self.prompts.append(prompt)
        queue = self.replies.get(prompt.question.id)
        if queue is None:
            return None
        return queue.pop(0) if queue else "-"


def test_run_re_asks_skips_and_stops_at_the_end_of_input() -> None:
    terminal = Scripted({"workload.name": ["Shop"], "workload.kind": ["spreadsheet", "messaging"],
                         "workload.description": [], "workload.pillar_priorities": []})
    states: list[Answers] = []
    result = run(questions(), {}, terminal, states.append)
    assert not result.finished
    assert [p.question.id for p in terminal.prompts] == [
        "workload.name", "workload.kind", "workload.kind", "workload.description",
        "workload.pillar_priorities", "traffic.peak_rps"]
    problem = terminal.prompts[2].problem
    assert problem is not None and "workload.kind" in problem and "spreadsheet" in problem
    assert result.answers == {"workload": {"name": "Shop", "kind": "messaging",
                                           "description": None, "pillar_priorities": None}}
    assert len(states) == 4 and states[-1] == result.answers


def test_run_asks_nothing_already_answered() -> None:
    every: Answers = {}
    for question in questions():
        every.setdefault(question.section, {})[question.field] = None
    terminal = Scripted({})
    assert run(questions(), every, terminal).finished
    assert terminal.prompts == []


# --- the real process, piped -------------------------------------------------------------------

# What the user means, and what they type for it. `kind: 2` picks the second choice.
PROFILE: dict[str, Any] = {
    "workload": {"name": "Order service", "kind": "api",
                 "pillar_priorities": ["reliability", "security"]},
    "traffic": {"peak_rps": 3000, "average_rps": 300, "pattern": "spiky"},
    "data": {"model": "key_value", "needs_joins": False, "access_patterns_known": True,
             "item_size_kb": 2, "shared_session_state": False},
    "messaging": {"async_processing": False},
    "storage": {"kind": "object"},
    "caching": {"hot_reads": False},
    "api": {"rate_limiting": True, "auth": "cognito", "plain_http": False},
    "operations": {"prefer_serverless": True},
    "security": {"compliance": []},
}
TYPED = {
    "workload.name": ["Order service"], "workload.kind": ["2"],
    "workload.pillar_priorities": ["reliability, 2"],
    "traffic.peak_rps": ["3000"], "traffic.average_rps": ["lots", "300"],
    "traffic.pattern": ["spiky"], "data.model": ["key_value"], "data.needs_joins": ["no"],
    "data.access_patterns_known": ["yes"], "data.item_size_kb": ["2"],
    "data.shared_session_state": ["no"], "storage.kind": ["3"],
    "messaging.async_processing": ["n"], "caching.hot_reads": ["no"],
    "api.rate_limiting": ["y"], "api.auth": ["cognito"], "api.plain_http": [""],
    "operations.prefer_serverless": ["yes"], "security.compliance": ["none"],
}


def test_a_full_questionnaire_through_a_pipe(tmp_path: Path, durable: Advisor) -> None:
    saved, report = tmp_path / "answers.yaml", tmp_path / "report.json"
    transcript = io.StringIO()
    child = PopenSpawn([*ASK, "--save", str(saved), "-o", str(report), "--format", "json"],
                       encoding="utf-8", timeout=60, logfile=transcript)
    replies = {key: list(value) for key, value in TYPED.items()}
    try:
        while child.expect([PROMPT, pexpect.EOF]) == 0:
            ident = child.match.group(1)
            child.expect("> ")
            queue = replies.get(ident, [])
            child.sendline(queue.pop(0) if queue else "-")
        assert child.wait() == 0, transcript.getvalue()[-2000:]
    finally:
        for stream in (child.proc.stdin, child.proc.stdout):
            if stream is not None:
                stream.close()
    asked = asked_ids(transcript.getvalue())

    # Everything was asked once, the refused answer twice, the skipped sections never.
    assert asked.count("traffic.average_rps") == 2
    assert 'traffic.average_rps: input should be a valid number, got "lots"' in transcript.getvalue()
    assert not any(replies.values()), "a typed answer was never asked for"
    for ident in ("messaging.consumers", "messaging.replay", "caching.persistence",
                  "caching.item_count", "analytics.ingest", "storage.file_protocol"):
        assert ident not in transcript.getvalue()
    assert "messaging.async_processing" in asked and "api.auth" in asked

    answers = yaml.safe_load(saved.read_text())
    expected: Answers = {}
    for ident in dict.fromkeys(asked):
        section, field = ident.split(".")
        expected.setdefault(section, {})[field] = PROFILE.get(section, {}).get(field)
    assert answers == expected
    assert parse_requirements(answers) == parse_requirements(PROFILE)

    decisions = json.loads(report.read_text())["decisions"]
    mine = durable.recommend(parse_requirements(PROFILE), sensitivity=True).model_dump(
        mode="json")["decisions"]
    assert decisions == mine and decisions
    recommend = subprocess.run([sys.executable, "-m", "advisor", "recommend", str(saved),
                                "--format", "json"], capture_output=True, text=True, timeout=120)
    assert json.loads(recommend.stdout)["decisions"] == decisions


def test_resume_asks_only_the_rest_and_keeps_what_was_given(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("workload: {name: Shop, kind: web_app, description: null, "
                       "pillar_priorities: null}\ntraffic: {peak_rps: 100}\n")
    result = ask("--answers", str(answers), "--save", str(answers), "-o",
                 str(tmp_path / "report.md"), stdin="50\nspiky\n")
    assert result.returncode == 0, result.stderr
    asked = asked_ids(result.stderr)
    assert asked == ["traffic.average_rps", "traffic.pattern", "traffic.reads_per_write"]
    saved = yaml.safe_load(answers.read_text())
    assert saved == {"workload": {"name": "Shop", "kind": "web_app", "description": None,
                                  "pillar_priorities": None},
                     "traffic": {"peak_rps": 100, "average_rps": 50, "pattern": "spiky"}}
    assert (tmp_path / "report.md").read_text().startswith("# Shop")


def test_no_input_gives_the_report_recommend_gives() -> None:
    example = str(examples_dir() / "serverless-api.yaml")
    asked = ask("--answers", example, "--no-input")
    recommended = subprocess.run([sys.executable, "-m", "advisor", "recommend", example],
                                 capture_output=True, text=True, timeout=120)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == recommended.stdout
    assert asked.stderr == ""


def test_a_bad_answers_file_fails_before_any_question(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("traffic:\n  peak_rps: lots\n")
    out = tmp_path / "report.md"
    result = ask("--answers", str(answers), "-o", str(out), stdin="x\n")
    assert result.returncode == 2
    assert f'{answers}:2: traffic.peak_rps: input should be a valid number, got "lots"' in result.stderr
    assert "Traceback" not in result.stderr and not asked_ids(result.stderr)
    assert not out.exists()


def test_an_output_in_a_missing_directory_fails_before_any_question(tmp_path: Path) -> None:
    result = ask("--save", str(tmp_path / "nowhere" / "answers.yaml"), stdin="Shop\n")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and not asked_ids(result.stderr)


# --- the real process, on a pseudo-terminal ----------------------------------------------------


def _spawn(*args: str) -> pexpect.spawn:
    return pexpect.spawn(ASK[0], [*ASK[1:], *args], encoding="utf-8", timeout=30,
                         dimensions=(50, 200))


def test_a_terminal_session_with_a_choice_a_refusal_and_ctrl_d(tmp_path: Path) -> None:
    saved, report = tmp_path / "answers.yaml", tmp_path / "report.md"
    child = _spawn("--save", str(saved), "-o", str(report))
    child.expect("workload.name")
    child.sendline("Shop")
    child.expect("workload.kind")
    child.expect("skip / don't know")  # the list is drawn
    child.send("2")  # the second choice's shortcut, then Enter
    child.send("\r")
    child.expect("workload.description")
    child.send("\r")  # nothing typed: skip
    child.expect("workload.pillar_priorities")
    child.expect("none of these")
    child.send(" \r")  # pick the first pillar
    child.expect("traffic.peak_rps")
    child.sendline("lots")
    child.expect('input should be a valid number, got "lots"')
    child.expect("traffic.peak_rps")
    child.sendline("2000")
    child.expect("traffic.average_rps")
    child.sendcontrol("d")  # no more answers: report on what is known
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert yaml.safe_load(saved.read_text()) == {
        "workload": {"name": "Shop", "kind": "api", "description": None,
                     "pillar_priorities": ["operational_excellence"]},
        "traffic": {"peak_rps": 2000}}
    assert report.read_text().startswith("# Shop")


def test_ctrl_c_keeps_the_answers_so_far(tmp_path: Path) -> None:
    saved, report = tmp_path / "answers.yaml", tmp_path / "report.md"
    child = _spawn("--save", str(saved), "-o", str(report))
    child.expect("workload.name")
    child.sendline("Shop")
    child.expect("workload.kind")
    child.expect("skip / don't know")
    child.sendcontrol("c")
    child.expect("interrupted; answers so far saved to")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert yaml.safe_load(saved.read_text()) == {"workload": {"name": "Shop"}}
    assert not report.exists()
