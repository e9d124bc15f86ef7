"""Hostile and careless requirement files, as a user meets them: each is refused by the real
command with exit 2 and one clear message (file, line, field), never a traceback, within a
generous time bound and 200 MB (measured from the finished child's own resource usage)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from advisor.paths import examples_dir
from support import VALID_RULE, minimal_rules

MAX_RSS_MB = 200
MAX_SECONDS = 10  # the refusals take well under a second of CPU; CI machines are shared
KILL_AFTER = 180  # a regression (an alias expanded) must fail the test, not hang it
# Address-space ceiling for the child: a regression then dies at 2 GB instead of taking the
# machine's memory; a refusal uses about 60 MB.
ADDRESS_SPACE = 2 << 30

# 342 bytes: ten "x" at the first level, 10**8 at the eighth once every alias is followed.
LAUGHS = "\n".join(
    ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    + [f"{child}: &{child} [" + ",".join([f"*{parent}"] * 10) + "]"
       for parent, child in zip("abcdefg", "bcdefgh", strict=True)])
EXAMPLE = (examples_dir() / "serverless-api.yaml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Run:
    """A finished ``advisor`` process: what it said and what it cost."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float


# Linux charges a child, at exec, with the peak of the memory image it was forked from, so a
# child forked from this test process (hundreds of MB after the suite's other tests) would
# report that peak as its own. A small launcher, started fresh, forks the advisor process from
# its own few-MB image, limits its address space, waits for it and prints its peak memory.
LAUNCHER = """\
import os, resource, sys
pid = os.fork()
if pid == 0:
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execv(sys.argv[3], sys.argv[3:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def run_advisor(tmp_path: Path, *args: str, stdin: bytes = b"") -> Run:
    """``python -m advisor ARGS`` with ``stdin``; its peak memory is its own (see LAUNCHER),
    with the children it waited for, not that of this process or earlier tests' processes."""
    feed = tmp_path / f"stdin-{time.monotonic_ns()}"
    feed.write_bytes(stdin)
    out, err = feed.with_suffix(".out"), feed.with_suffix(".err")
    peak = feed.with_suffix(".rss")
    command = [sys.executable, "-c", LAUNCHER, str(peak), str(ADDRESS_SPACE),
               sys.executable, "-m", "advisor", *args]
    with feed.open("rb") as source, out.open("wb") as sink, err.open("wb") as errors:
        start = time.monotonic()
        process = subprocess.Popen(command, stdin=source, stdout=sink, stderr=errors,
                                   start_new_session=True)
        timer = threading.Timer(KILL_AFTER, os.killpg, (process.pid, signal.SIGKILL))
        timer.start()
        try:
            code = process.wait()
        finally:
            timer.cancel()
        seconds = time.monotonic() - start
    stderr = err.read_text(encoding="utf-8", errors="replace")
    assert peak.exists(), f"killed after {KILL_AFTER} s:\n{stderr[-2000:]}"
    code = code if code < 128 else code - 256  # a signal number came back as 256 - n
    return Run(code, out.read_text(encoding="utf-8", errors="replace"), stderr,
               seconds, int(peak.read_text(encoding="utf-8")) / 1024)


def assert_refused(run: Run, *fragments: str, lines: int | None = 1) -> None:
    """Exit 2, each fragment in the message, no traceback, within the bounds; ``lines``: how
    many lines the message has (None: not checked)."""
    assert run.code == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    for fragment in fragments:
        assert fragment in run.stderr, run.stderr[-3000:]
    if lines is not None:
        assert len(run.stderr.splitlines()) == lines, run.stderr[-3000:]
    assert run.seconds < MAX_SECONDS, f"{run.seconds:.1f} s"
    assert run.max_rss_mb < MAX_RSS_MB, f"{run.max_rss_mb:.0f} MB"


def _many_unknown_keys(count: int) -> str:
    return "data: {" + ", ".join(f"unknown_{index}: 1" for index in range(count)) + "}\n"


# (case, file name, content, fragments of the message: {file} is the file's path, lines)
CASES: list[tuple[str, str, bytes, tuple[str, ...], int | None]] = [
    ("nested aliases", "laughs.yaml", LAUGHS.encode(),
     ("{file}:1: YAML anchors and aliases are not accepted (found &a)",), 1),
    ("one alias", "alias.yaml", b"traffic:\n  peak_rps: 10\n  average_rps: *p\n",
     ("{file}:3: YAML anchors and aliases are not accepted (found *p)",), 1),
    ("merge key", "merge.yaml", b"traffic:\n  <<: {peak_rps: 10}\n",
     ("{file}:2: traffic: YAML merge keys (<<) are not accepted",), 1),
    ("nesting past the parser's limit", "deep.yaml", b"[" * 100_000 + b"]" * 100_000,
     ("{file}:1: malformed YAML: exceeded maximum nesting depth",), 1),
    ("nesting past ours", "deeper.yaml", b"traffic: " + b"[" * 500 + b"]" * 500 + b"\n",
     ("{file}:1: traffic.0.0.", ": nests deeper than 64 levels"), 1),
    ("a 4,301-digit integer", "digits.yaml", b"traffic: {peak_rps: " + b"9" * 4301 + b"}\n",
     ("{file}:1: traffic.peak_rps: a number has more than 100 digits",), 1),
    ("a 4,301-digit integer in JSON", "digits.json",
     b'{"traffic": {"peak_rps": ' + b"9" * 4301 + b"}}",
     ("{file}:1: traffic.peak_rps: a number has more than 100 digits",), 1),
    ("an impossible date", "date.yaml", b"workload:\n  name: 2001-02-30\n",
     ('{file}:2: workload.name: not a date: "2001-02-30"',), 1),
    ("bytes that are not UTF-8", "latin1.yaml", "workload:\n  name: café\n".encode("latin-1"),
     ("{file}:2: not UTF-8 text (byte 0xe9 at offset 21)",), 1),
    ("random bytes", "random.yaml", b"\x00\xff" + os.urandom(998),
     ("{file}:1: not UTF-8 text (byte 0xff at offset 1)",), 1),
    ("an empty file", "empty.yaml", b"", ("{file}: is empty (expected a YAML or JSON mapping",), 1),
    ("blank lines and a byte-order mark", "blank.yaml", b"\xef\xbb\xbf\n  \n",
     ("{file}: is empty",), 1),
    ("only comments", "comments.yaml", b"# nothing yet\n# still nothing\n",
     ("{file}: holds no requirements, only comments or null",), 1),
    ("null", "null.yaml", b"null\n", ("{file}: holds no requirements, only comments or null",), 1),
    ("a misspelt key", "key.yaml", b"traffic:\n  peak_rsp: 10\n",
     ("{file}:2: traffic.peak_rsp: unknown key (allowed keys in traffic: peak_rps,",
      "; did you mean 'peak_rps'?"), 1),
    ("a misspelt section", "section.yaml", b"trafic: {peak_rps: 10}\n",
     ("{file}:1: trafic: unknown key", "; did you mean 'traffic'?"), 1),
    ("a misspelt value", "value.yaml", b"data:\n  model: keyvalue\n",
     ('{file}:2: data.model: not an allowed value, got "keyvalue" (one of: relational, ',
      "; did you mean 'key_value'?"), 1),
    ("a misspelt list item", "item.yaml", b"security:\n  compliance: [hipaa, pci_dsss]\n",
     ("{file}:2: security.compliance.1:", "; did you mean 'pci_dss'?"), 1),
    # A line break in the name would start new Markdown blocks in the report's title.
    ("a name on two lines", "name.yaml", b'workload: {name: "Shop\\n\\n## Injected"}\n',
     ("{file}:1: workload.name: value error, the name is the report's title and must be one "
      'line, got "Shop\\n\\n## Injected"',), 1),
    ("a 900 KB value", "value900k.yaml",
     b'traffic: {peak_rps: "' + b"x" * 900_000 + b'"}\n',
     ('{file}:1: traffic.peak_rps: input should be a valid number, got "xxx',
      "…\" (900,000 characters)"), 1),
    ("a 900 KB key", "key900k.yaml", b"? " + b"k" * 900_000 + b"\n: 1\n",
     ("kkk… (900,000 characters): unknown key (allowed sections:",), 1),
    ("3,000 problems", "many.yaml", _many_unknown_keys(3000).encode(),
     ("advisor: error\n", "data.unknown_0: unknown key", "... and 2,950 more problems"), 52),
    ("more than 10,000 values", "values.yaml", _many_unknown_keys(6000).encode(),
     ("{file}:1: holds more than 10,000 values",), 1),
    ("more than a megabyte", "large.yaml", b"# " + b"x" * 1_000_000 + b"\n",
     ("{file}: larger than 1,000,000 bytes",), 1),
]


def _fragments(fragments: tuple[str, ...], file: str) -> list[str]:
    return [fragment.replace("{file}", file) for fragment in fragments]


@pytest.mark.parametrize(("name", "content", "fragments", "lines"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_recommend_refuses_a_hostile_file(tmp_path: Path, name: str, content: bytes,
                                          fragments: tuple[str, ...], lines: int | None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "report.md"
    run = run_advisor(tmp_path, "recommend", str(path), "-o", str(out))
    assert_refused(run, *_fragments(fragments, str(path)), lines=lines)
    assert not out.exists()
    if len(content) > 100_000:
        assert len(run.stderr) < 2_000, "a long value was echoed whole"


STDIN_CASES = [
    ("random bytes", b"\x00\xff" + os.urandom(998), "<stdin>:1: not UTF-8 text (byte 0xff at offset 1)"),
    ("nothing", b"", "<stdin>: is empty"),
    ("nested aliases", LAUGHS.encode(), "<stdin>:1: YAML anchors and aliases are not accepted"),
    ("more than a megabyte", b"#" * 1_000_001, "<stdin>: larger than 1,000,000 bytes"),
]


@pytest.mark.parametrize(("content", "fragment"), [case[1:] for case in STDIN_CASES],
                         ids=[case[0] for case in STDIN_CASES])
def test_recommend_refuses_hostile_standard_input(tmp_path: Path, content: bytes,
                                                  fragment: str) -> None:
    assert_refused(run_advisor(tmp_path, "recommend", "-", stdin=content), fragment)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.encode())
    run = run_advisor(tmp_path, "recommend", str(path), "--engine", "python")
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("# Serverless API")


# Every command that reads a requirements file refuses as `recommend` does.
COMMANDS: dict[str, Callable[[str, Path], list[str]]] = {
    "explain": lambda file, tmp: ["explain", file],
    "diff": lambda file, tmp: ["diff", str(examples_dir() / "serverless-api.yaml"), file],
    "doc": lambda file, tmp: ["doc", file, "-o", str(tmp / "doc.md")],
    "ask": lambda file, tmp: ["ask", "--no-input", "--answers", file],
}
SHARED = [case for case in CASES if case[0] in {"nested aliases", "a 4,301-digit integer",
                                                 "bytes that are not UTF-8", "an empty file"}]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("name", "content", "fragments"), [case[1:4] for case in SHARED],
                         ids=[case[0] for case in SHARED])
def test_every_reader_refuses_a_hostile_file(tmp_path: Path, command: str, name: str,
                                             content: bytes, fragments: tuple[str, ...]) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    run = run_advisor(tmp_path, *COMMANDS[command](str(path), tmp_path))
    assert_refused(run, *_fragments(fragments, str(path)))
    assert not (tmp_path / "doc.md").exists()


def test_batch_fails_each_hostile_profile_and_goes_on(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for _, name, content, _, _ in SHARED:
        (profiles / name).write_bytes(content)
    (profiles / "good.yaml").write_text(EXAMPLE, encoding="utf-8")
    out = tmp_path / "out"
    run = run_advisor(tmp_path, "batch", str(profiles), "-o", str(out), "--workers", "1",
                      "--engine", "python")
    assert run.code == 1, run.stderr  # some profiles failed
    assert "Traceback" not in run.stderr
    assert run.max_rss_mb < MAX_RSS_MB, f"{run.max_rss_mb:.0f} MB"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["totals"]["succeeded"] == 1
    errors = {failure["name"]: failure["error"] for failure in summary["failures"]}
    for _, name, _, fragments, _ in SHARED:
        for fragment in _fragments(fragments, str(profiles / name)):
            assert fragment in errors[Path(name).stem], errors


def test_a_rules_directory_with_an_alias_is_refused_with_its_file_and_line(
    tmp_path: Path,
) -> None:
    aliased = VALID_RULE.replace("rationale: Key-value", "rationale: &why Key-value") \
        + "detection: *why\n"
    root = minimal_rules(tmp_path, {"data/DATA-900-kv.yaml": aliased})
    example = examples_dir() / "serverless-api.yaml"
    run = run_advisor(tmp_path, "recommend", str(example), "--rules", str(root))
    line = aliased.splitlines().index(
        next(row for row in aliased.splitlines() if "&why" in row)) + 1
    assert_refused(run, f"rules/data/DATA-900-kv.yaml:{line}: -: (document): YAML anchors and "
                        "aliases are not accepted (found &why)", lines=None)


def test_a_rules_directory_with_nested_aliases_is_refused_quickly(tmp_path: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-kv.yaml": VALID_RULE + "x:\n  "
                                    + LAUGHS.replace("\n", "\n  ") + "\n"})
    run = run_advisor(tmp_path, "rules", "lint", "--rules", str(root))
    assert_refused(run, "rules/data/DATA-900-kv.yaml:", "YAML anchors and aliases are not "
                   "accepted (found &a)", lines=None)
