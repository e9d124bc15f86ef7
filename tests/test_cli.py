"""The command line as a user meets it: real processes, exit codes, messages, output files."""

from __future__ import annotations

import json
import os
import resource
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support import VALID_RULE, minimal_rules, obey_file_permissions

EXAMPLE = "examples/serverless-api.yaml"


def advisor(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True,
                          text=True, input=stdin, timeout=120)


def _bad_input(tmp_path: Path, text: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    source = tmp_path / "requirements.yaml"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "report.md"
    return advisor("recommend", str(source), "-o", str(out)), out


def _assert_clean_failure(result: subprocess.CompletedProcess[str], out: Path) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert not list(out.parent.glob(".report.md.*")), "a temporary file was left behind"


def test_recommend_writes_markdown_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    result = advisor("recommend", EXAMPLE, "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("# Serverless API")
    assert "```mermaid" in text


def test_recommend_json_from_stdin_is_deterministic() -> None:
    text = Path(EXAMPLE).read_text()
    first = advisor("recommend", "-", "--format", "json", stdin=text)
    second = advisor("recommend", "-", "--format", "json", stdin=text)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    report = json.loads(first.stdout)
    assert report["decisions"] and report["graph"]["nodes"] and report["trace"]


def test_both_engines_give_the_same_decisions_from_the_command_line() -> None:
    python = json.loads(advisor("recommend", EXAMPLE, "--format", "json", "--engine", "python").stdout)
    durable = json.loads(advisor("recommend", EXAMPLE, "--format", "json").stdout)
    assert python["decisions"] == durable["decisions"]
    assert durable["engine"] == "durable" and python["engine"] == "python"


def test_unknown_key_names_the_field_and_what_is_allowed(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "data:\n  modle: relational\n")
    _assert_clean_failure(result, out)
    assert "requirements.yaml:2: data.modle: unknown key (allowed keys in data: model," in result.stderr


def test_unknown_section_is_rejected(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "dataa:\n  model: relational\n")
    _assert_clean_failure(result, out)
    assert "dataa: unknown key (allowed sections: workload, traffic, data" in result.stderr


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "data:\n  needs_joins: \"yes\"\n")
    _assert_clean_failure(result, out)
    assert 'data.needs_joins: input should be a valid boolean, got "yes" (true or false)' in result.stderr


def test_bad_enum_value_lists_the_allowed_values(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "data:\n  model: spreadsheet\n")
    _assert_clean_failure(result, out)
    assert "data.model:" in result.stderr
    assert "(one of: relational, key_value, document, wide_column, time_series, graph, blob)" in result.stderr


def test_out_of_range_value_is_rejected(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "traffic:\n  peak_rps: -5\n")
    _assert_clean_failure(result, out)
    assert "traffic.peak_rps: input should be greater than or equal to 0, got -5 (a number >= 0 and <= 1e+12)" in result.stderr


def test_integer_field_says_whole_number_and_its_range(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "messaging:\n  priority_levels: 1.5\n")
    _assert_clean_failure(result, out)
    assert "messaging.priority_levels: input should be a valid integer, got 1.5 (a whole number >= 1 and <= 100)" in result.stderr


def test_section_that_is_not_a_mapping_lists_its_keys(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "data: 5\n")
    _assert_clean_failure(result, out)
    assert "requirements.yaml:1: data: input should be an object, got 5 (a mapping with keys: model, size_gb," in result.stderr


def test_yaml_value_json_cannot_carry_names_the_field(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "data:\n  model: relational\n  note: 2024-01-01\n")
    _assert_clean_failure(result, out)
    assert "requirements.yaml:3: data.note: unsupported value (use true/false, a number, a string or a list; quote dates)" in result.stderr


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "data:\n  model: [relational\n")
    _assert_clean_failure(result, out)
    assert "requirements.yaml:3: malformed YAML" in result.stderr


def test_json_escapes_of_characters_beyond_the_basic_plane_are_read(tmp_path: Path) -> None:
    # json.dumps writes U+1F6A2 as a surrogate pair, which YAML's parser refuses on its own.
    source = tmp_path / "requirements.json"
    source.write_text(json.dumps({"workload": {"name": "Ship \U0001F6A2 \\ud83d tracker"}}),
                      encoding="utf-8")
    result = advisor("recommend", str(source), "--format", "json", "--no-sensitivity")
    assert result.returncode == 0, result.stderr
    # The emoji is read as one character; an escaped backslash before "ud83d" stays literal.
    assert json.loads(result.stdout)["title"] == "Ship \U0001F6A2 \\ud83d tracker"
    lone = tmp_path / "lone.json"
    lone.write_text('{"workload": {"name": "half \\ud83d"}}', encoding="utf-8")
    result = advisor("recommend", str(lone))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "lone.json:1: malformed YAML" in result.stderr


def test_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    result, out = _bad_input(tmp_path, "- just\n- a list\n")
    _assert_clean_failure(result, out)
    assert "expected a mapping of sections, got list" in result.stderr


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    result = advisor("recommend", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "absent.yaml: no such file" in result.stderr
    directory = advisor("recommend", str(tmp_path))
    assert directory.returncode == 2
    assert "is a directory, not a requirements file" in directory.stderr


def test_invalid_rules_directory_fails_with_every_problem(tmp_path: Path) -> None:
    rules = minimal_rules(tmp_path, {
        "data/DATA-900-test.yaml": VALID_RULE.replace("fact: data.model,", "fact: data.modle,"),
        "data/DATA-901-test.yaml": VALID_RULE.replace("DATA-900", "DATA-901").replace(
            "component: dynamodb", "component: dynamo"),
    })
    out = tmp_path / "report.md"
    result = advisor("recommend", EXAMPLE, "--rules", str(rules), "-o", str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and not out.exists()
    assert "DATA-900-test.yaml:7: DATA-900: when[0].fact: unknown fact 'data.modle'" in result.stderr
    assert "DATA-901: recommend.component: unknown component 'dynamo'" in result.stderr
    assert "2 problem(s) in the rules" in result.stderr


def test_rules_lint_list_and_show() -> None:
    lint = advisor("rules", "lint")
    assert lint.returncode == 0, lint.stderr
    listing = advisor("rules", "list")
    assert "DATA-001" in listing.stdout and "primary_datastore -> aurora" in listing.stdout
    show = advisor("rules", "show", "data-001")
    assert show.returncode == 0 and "id: DATA-001" in show.stdout
    missing = advisor("rules", "show", "NOPE-999")
    assert missing.returncode == 2 and "no rule with id 'NOPE-999'" in missing.stderr


def test_rules_lint_reports_an_example_that_misbehaves(tmp_path: Path) -> None:
    wrong = VALID_RULE.replace("{name: relational, requirements: {data: {model: relational}}}",
                               "{name: also-kv, requirements: {data: {model: key_value}}}")
    rules = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": wrong})
    result = advisor("rules", "lint", "--rules", str(rules))
    assert result.returncode == 2
    assert "DATA-900: examples.silent.also-kv: the rule fired (declared: silent)" in result.stderr


@pytest.mark.parametrize("flag", [[], ["--output"]])
def test_schema_is_generated_json_schema(flag: list[str]) -> None:
    result = advisor("schema", *flag)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert "properties" in schema
    if flag:
        assert "decisions" in schema["properties"]
    else:
        assert schema["additionalProperties"] is False
        assert "data" in schema["properties"]


def test_unknown_engine_is_a_usage_error() -> None:
    result = advisor("recommend", EXAMPLE, "--engine", "clips")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def _listing(directory: Path) -> dict[str, tuple[int, bytes | str | None]]:
    """Every entry under ``directory``: its type and mode, and a regular file's bytes or a
    link's target; a comparison of two listings shows anything created, replaced or left."""
    listing: dict[str, tuple[int, bytes | str | None]] = {}
    for path in sorted(directory.rglob("*")):
        mode = path.lstat().st_mode
        content = (path.read_bytes() if stat.S_ISREG(mode)
                   else os.readlink(path) if stat.S_ISLNK(mode) else None)
        listing[str(path.relative_to(directory))] = (mode, content)
    return listing


def _fifo(directory: Path) -> str:
    os.mkfifo(directory / "report.md")
    return str(directory / "report.md")


def _socket(directory: Path) -> str:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(directory / "report.md"))  # the socket file outlives the socket
    return str(directory / "report.md")


def _directory(directory: Path) -> str:
    (directory / "reports").mkdir()
    return str(directory / "reports")


def _symbolic_link(directory: Path) -> str:
    (directory / "kept.md").write_text("kept")
    (directory / "report.md").symlink_to("kept.md")
    return str(directory / "report.md")


def _unwritable_directory(directory: Path) -> str:
    (directory / "locked").mkdir()
    (directory / "locked").chmod(0o555)
    return str(directory / "locked" / "report.md")


# Each -o that cannot be written as a regular file: how to make it, and what the one-line
# message says. None of them may be opened (a FIFO would block), replaced or left with a
# temporary file beside it.
OUTPUT_REFUSALS: dict[str, tuple[Callable[[Path], str], str]] = {
    "directory": (_directory, "is not a regular file (it is a directory;"),
    "trailing slash": (lambda directory: f"{directory / 'new'}/",
                       "is not a regular file (it names a directory;"),
    "dot": (lambda directory: ".", "is not a regular file (it names a directory;"),
    "fifo": (_fifo, "is not a regular file (it is a FIFO (named pipe);"),
    "socket": (_socket, "is not a regular file (it is a socket;"),
    "symbolic link": (_symbolic_link, "is not a regular file (it is a symbolic link;"),
    "proc file": (lambda directory: "/proc/version", "cannot create a file in /proc:"),
    "missing directory": (lambda directory: str(directory / "nowhere" / "report.md"),
                          "does not exist"),
    "unwritable directory": (_unwritable_directory, "locked: Permission denied"),
}


def _run(*args: str, cwd: Path | None = None, **options: Any) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    if cwd is not None:  # the worktree's code, wherever the process runs
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(Path("src").resolve()), environment.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env=environment, **options)


@pytest.mark.parametrize("case", sorted(OUTPUT_REFUSALS))
def test_an_output_that_cannot_be_a_regular_file_is_refused_in_one_line(
        tmp_path: Path, case: str) -> None:
    make, message = OUTPUT_REFUSALS[case]
    work = tmp_path / "work"
    work.mkdir()
    target = make(work)
    before = _listing(work)

    # As root the child loses the capabilities that override permissions (see support.py).
    result = _run("recommend", str(Path(EXAMPLE).resolve()), "-o", target, cwd=work,
                  preexec_fn=obey_file_permissions)

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"advisor: -o {target}: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert _listing(work) == before  # nothing created, replaced or left behind


@pytest.mark.parametrize("command", [
    ["explain", EXAMPLE, "-o"],
    ["diff", EXAMPLE, EXAMPLE, "-o"],
    ["doc", EXAMPLE, "-o"],
    ["ask", "--no-input", "-o"],
    ["ask", "--no-input", "--save"],
])
def test_every_command_refuses_a_fifo_as_its_output(tmp_path: Path, command: list[str]) -> None:
    target = _fifo(tmp_path)
    result = _run(*command, target)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"advisor: {command[-1]} {target}: is not a regular file (it is "
                             "a FIFO (named pipe); give the path of a file to create or "
                             "replace)\n")
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.md"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)],
                         ids=["umask-022", "umask-027", "umask-077"])
def test_a_new_output_file_follows_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    out = tmp_path / "report.md"
    result = _run("recommend", EXAMPLE, "--no-sensitivity", "-o", str(out), umask=umask)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert out.read_text().startswith("# Serverless API")
    assert [path.name for path in tmp_path.iterdir()] == ["report.md"]


def test_a_replaced_output_file_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    out.write_text("old")
    out.chmod(0o600)
    result = _run("recommend", EXAMPLE, "--no-sensitivity", "-o", str(out), umask=0o022)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("# Serverless API")


def _limit_file_size() -> None:
    # Past the limit a write fails with EFBIG (Python ignores SIGXFSZ); the empty probe passes.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))


def test_a_write_that_fails_midway_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    out.write_text("kept")
    result = _run("recommend", EXAMPLE, "--no-sensitivity", "-o", str(out),
                  preexec_fn=_limit_file_size)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"advisor: -o {out}: cannot write: File too large\n"
    assert out.read_text() == "kept"
    assert [path.name for path in tmp_path.iterdir()] == ["report.md"]
