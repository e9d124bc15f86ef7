"""The disk cache is an optimisation that can never serve stale or invalid knowledge, and
nothing placed in it can run code or change a report."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jinja2
import pytest

from advisor import cache
from advisor import catalog as catalog_module
from advisor.catalog import CatalogError, load_catalog
from advisor.paths import rules_dir
from advisor.render import environment
from support import VALID_RULE, minimal_rules

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "serverless-api.yaml")
OTHER_USER = 65534  # nobody


class _Planted:
    """Unpickling this creates the file ``marker``: the proof that the cache ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def _recommend(cache_setting: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "advisor", "recommend", EXAMPLE], capture_output=True, text=True,
        timeout=120, env={**os.environ, "ADVISOR_CACHE_DIR": cache_setting}, cwd=ROOT,
    )


@pytest.fixture(scope="module")
def uncached_report() -> str:
    result = _recommend("off")
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(directory))
    return directory


def _entry(directory: Path) -> Path:
    (entry,) = directory.glob("catalog-*.entry")
    return entry


def _with_digest(entry: Path, payload: bytes) -> bytes:
    """``payload`` under a header of the entry's own format with a matching digest, as someone
    who can write the cache directory could forge it."""
    magic = entry.read_bytes().split(b"sha256:", 1)[0] + b"sha256:"
    return magic + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def _tampered(entry: Path) -> bytes:
    """The entry with DATA-900's priority changed from 50 to 55 and a matching digest: valid
    JSON that validates, so only the entry's origin can tell it from a real one."""
    payload = entry.read_bytes().split(b"\n", 1)[1]
    assert payload.count(b'"priority":50') == 1
    return _with_digest(entry, payload.replace(b'"priority":50', b'"priority":55'))


@pytest.mark.parametrize("digest", [False, True], ids=["raw-pickle", "pickle-with-valid-digest"])
def test_a_planted_catalog_pickle_runs_no_code(
    tmp_path: Path, uncached_report: str, digest: bool
) -> None:
    directory, marker = tmp_path / "cache", tmp_path / "PWNED"
    assert _recommend(str(directory)).returncode == 0
    planted = pickle.dumps(_Planted(marker))
    for entry in list(directory.glob("catalog-*")):
        entry.write_bytes(_with_digest(entry, planted) if digest else planted)
        # The name the cache used before it stored JSON.
        entry.with_suffix(".pickle").write_bytes(planted)
    result = _recommend(str(directory))
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), "reading the cache ran code"
    assert result.stdout == uncached_report
    assert result.stderr == ""


def test_planted_template_bytecode_runs_no_code(tmp_path: Path, uncached_report: str) -> None:
    directory, marker = tmp_path / "cache", tmp_path / "PWNED"
    directory.mkdir(mode=0o700)
    # The report's compiled templates, under exactly the names and in the directory that
    # jinja's own file cache (which the cache used to be) reads them from.
    bytecode = directory / "templates"
    bytecode.mkdir(mode=0o700)
    compiled = environment().overlay(bytecode_cache=jinja2.FileSystemBytecodeCache(str(bytecode)))
    for name in compiled.list_templates(filter_func=lambda name: name.endswith(".j2")):
        if not name.startswith("design-doc/"):  # rendered by another environment
            compiled.get_template(name)
    files = list(bytecode.glob("__jinja2_*.cache"))
    assert len(files) > 10
    for file in files:
        file.write_bytes(jinja2.bccache.bc_magic + pickle.dumps(_Planted(marker)))
    result = _recommend(str(directory))
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), "reading the cache ran code"
    assert result.stdout == uncached_report
    assert result.stderr == ""


def _refused(result: subprocess.CompletedProcess[str], directory: Path, report: str) -> None:
    """The run succeeded without the cache and said why, on one line."""
    assert result.returncode == 0, result.stderr
    assert result.stdout == report
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("advisor: warning: not using the cache directory ")
    assert str(directory) in lines[0]
    assert "running without a cache" in lines[0]
    assert not [path.name for path in directory.iterdir()], "the refused cache was written"


def test_a_directory_others_can_write_is_refused(tmp_path: Path, uncached_report: str) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o777)
    result = _recommend(str(directory))
    _refused(result, directory, uncached_report)
    assert "mode 0777" in result.stderr


def test_a_directory_owned_by_someone_else_is_refused(
    tmp_path: Path, uncached_report: str
) -> None:
    directory = tmp_path / "theirs"
    directory.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(directory, OTHER_USER, OTHER_USER)
        result = _recommend(str(directory))
        _refused(result, directory, uncached_report)
        assert f"belongs to uid {OTHER_USER}" in result.stderr
    else:
        # Only root can give a directory away: judge the same real directory's status as
        # another user would see it.
        reason = cache.refusal(os.stat(directory), os.geteuid() + 1)
        assert reason is not None and "belongs to uid" in reason
        assert cache.refusal(os.stat(directory), os.geteuid()) is None


def test_the_directory_is_created_private(tmp_path: Path, private_cache: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    load_catalog(root)
    assert stat.S_IMODE(private_cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(_entry(private_cache).stat().st_mode) == 0o600


def test_second_load_comes_from_the_cache(tmp_path: Path, private_cache: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    first = load_catalog(root)
    entry = _entry(private_cache)
    entry.write_bytes(_tampered(entry))
    # The entry is what the second load returns: a digest-valid edit shows through.
    assert load_catalog(root).rule("DATA-900").priority == 55
    entry.unlink()
    load_catalog(root)
    second = load_catalog(root)
    assert second.digest == first.digest
    assert [rule.model_dump() for rule in second.rules] == [r.model_dump() for r in first.rules]
    assert second.clauses("DATA-900") == first.clauses("DATA-900")


def test_the_bundled_catalog_reads_back_equal(private_cache: Path) -> None:
    load_catalog(rules_dir())
    cached = load_catalog(rules_dir())
    fresh = load_catalog(rules_dir(), use_cache=False)
    for name in ("rules", "rule_files", "components", "slots", "sources", "areas", "facts",
                 "strata", "digest", "slot_levels", "pillars", "invariants"):
        assert getattr(cached, name) == getattr(fresh, name), name
    assert [rule.model_fields_set for rule in cached.rules] == [
        rule.model_fields_set for rule in fresh.rules]
    assert {rule: (formula.text, formula.names) for rule, formula in cached.formulas.items()} \
        == {rule: (formula.text, formula.names) for rule, formula in fresh.formulas.items()}


def test_an_edited_rule_file_is_never_served_from_the_cache(tmp_path: Path, private_cache: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    load_catalog(root)
    path = root / "data" / "DATA-900-test.yaml"
    path.write_text(VALID_RULE.replace("priority: 50", "priority: 55"))
    assert load_catalog(root).rule("DATA-900").priority == 55
    path.write_text(VALID_RULE.replace("fact: data.model,", "fact: data.modle,"))
    with pytest.raises(CatalogError):
        load_catalog(root)


def _settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat every file as settled (changed long ago), so entries are keyed by file times."""
    monkeypatch.setattr(catalog_module, "_SETTLING_NS", 0)


def test_a_settled_rule_file_edited_with_its_times_put_back_is_never_served_stale(
        tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _settled(monkeypatch)
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    path = root / "data" / "DATA-900-test.yaml"
    assert load_catalog(root).rule("DATA-900").priority == 50
    before = path.stat()
    time.sleep(0.05)  # past the kernel's coarse clock tick, which stamps file times
    path.write_text(VALID_RULE.replace("priority: 50", "priority: 55"))  # the same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert load_catalog(root).rule("DATA-900").priority == 55


def test_a_settled_rules_directory_is_read_from_the_cache_without_reading_rule_files(
        tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _settled(monkeypatch)
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    first = load_catalog(root)
    opened: list[Path] = []
    real_open = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.is_relative_to(root):
            opened.append(self)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", counting_open)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"read {self}"))
    second = load_catalog(root)
    assert opened == []
    assert second.digest == first.digest  # the content digest reports show, kept in the entry


def test_a_rule_file_changed_moments_ago_is_keyed_by_its_bytes(
        tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two writes within one tick of the kernel's coarse clock can leave a file with the same
    # size, inode and times. Played here by a file whose times do not move: within the
    # settling window the key reads the bytes, so the edit is seen.
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    path = root / "data" / "DATA-900-test.yaml"
    frozen = path.stat()
    real_stat = Path.stat

    def same_times(self: Path, *args: Any, **kwargs: Any) -> os.stat_result:
        return frozen if self == path else real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", same_times)
    assert load_catalog(root).rule("DATA-900").priority == 50
    path.write_text(VALID_RULE.replace("priority: 50", "priority: 55"))
    assert load_catalog(root).rule("DATA-900").priority == 55


@pytest.mark.parametrize("damage", ["truncated", "bit-flipped", "not-an-entry"])
def test_a_damaged_entry_is_rebuilt(tmp_path: Path, private_cache: Path, damage: str) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    load_catalog(root)
    entry = _entry(private_cache)
    good = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(good[: len(good) // 2])
    elif damage == "bit-flipped":
        # One bit inside the rule's title: still JSON that validates, caught by the digest.
        at = good.index(b"Test rule that")
        entry.write_bytes(good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1:])
    else:
        entry.write_bytes(b"not an entry")
    assert load_catalog(root).rule("DATA-900").title.startswith("Test rule that")
    assert entry.read_bytes() == good, "the damaged entry was not rewritten"


def test_a_symlinked_entry_is_not_followed(tmp_path: Path, private_cache: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    load_catalog(root)
    entry = _entry(private_cache)
    good = entry.read_bytes()
    elsewhere = tmp_path / "elsewhere.entry"
    elsewhere.write_bytes(_tampered(entry))
    elsewhere.chmod(0o600)
    entry.unlink()
    entry.symlink_to(elsewhere)
    assert load_catalog(root).rule("DATA-900").priority == 50
    assert not entry.is_symlink() and entry.read_bytes() == good
    assert elsewhere.read_bytes() != good, "the link's target was written through"


def test_an_entry_others_can_write_is_not_read(tmp_path: Path, private_cache: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    load_catalog(root)
    entry = _entry(private_cache)
    entry.write_bytes(_tampered(entry))
    entry.chmod(0o666)
    assert load_catalog(root).rule("DATA-900").priority == 50
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_an_entry_owned_by_someone_else_is_not_read(tmp_path: Path, private_cache: Path) -> None:
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    load_catalog(root)
    entry = _entry(private_cache)
    entry.write_bytes(_tampered(entry))
    if os.geteuid() == 0:
        os.chown(entry, OTHER_USER, OTHER_USER)
        assert load_catalog(root).rule("DATA-900").priority == 50
        assert entry.stat().st_uid == 0
    else:
        reason = cache.refusal(os.stat(entry), os.geteuid() + 1, "file")
        assert reason is not None and "belongs to uid" in reason
        assert cache.refusal(os.stat(entry), os.geteuid(), "file") is None


def test_a_refused_directory_warns_once_and_still_loads(
    tmp_path: Path, private_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private_cache.mkdir()
    private_cache.chmod(0o770)
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    assert load_catalog(root).rule("DATA-900").id == "DATA-900"
    assert load_catalog(root).rule("DATA-900").id == "DATA-900"
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and "mode 0770" in warning
    assert not list(private_cache.iterdir())


def test_caching_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_CACHE_DIR", "off")
    root = minimal_rules(tmp_path, {"data/DATA-900-test.yaml": VALID_RULE})
    assert load_catalog(root).rule("DATA-900").id == "DATA-900"
