"""The bounded YAML reader and the bounded requirement errors, unit by unit: what is refused,
where the refusal points, and what still reads as before."""

from __future__ import annotations

import pytest

from advisor.inputs import (
    MAX_DETAILS,
    MAX_LISTED,
    MAX_VALUES,
    InputError,
    Problem,
    parse_requirements,
)
from advisor.yamlio import (
    ECHO_LIMIT,
    MAX_DEPTH,
    MAX_DIGITS,
    YamlError,
    clip,
    decode_utf8,
    parse_yaml,
)
from test_hostile_input import LAUGHS


def _refusal(text: str, **options: object) -> YamlError:
    with pytest.raises(YamlError) as raised:
        parse_yaml(text, **options)  # type: ignore[arg-type]
    return raised.value


@pytest.mark.parametrize(("text", "line", "found"), [
    ("a: &x 1\nb: 2\n", 1, "&x"),
    ("a: 1\nb: [1, *x]\n", 2, "*x"),
    ("a:\n  b: !!str &x 1\n", 2, "&x"),
    (LAUGHS, 1, "&a"),
])
def test_anchors_and_aliases_are_refused_at_their_line(text: str, line: int, found: str) -> None:
    error = _refusal(text)
    assert error.line == line
    assert error.problem == (f"YAML anchors and aliases are not accepted (found {found}); "
                             "write each value out in full")


def test_a_trusted_file_may_share_values_and_is_walked_once_per_value() -> None:
    doc = parse_yaml(LAUGHS, allow_aliases=True)
    assert doc.data["b"][0] is doc.data["a"]  # shared, not copied: 10**8 strings never exist
    assert len(doc.lines) < 100
    # A path through an alias points at the line the alias is written on (h's "*g"), not at
    # the anchor it refers to (line 7).
    assert doc.line_of(("h", 3, 2)) == 8


def test_a_path_through_an_alias_points_at_the_alias_line_in_block_style() -> None:
    text = ("shared: &s\n  - one\n  - two\n"
            "uses:\n  - first\n  - *s\n  - third\n  - *s\n"
            "named:\n  a: *s\n")
    doc = parse_yaml(text, allow_aliases=True)
    assert doc.data["uses"][1] is doc.data["shared"]
    assert [doc.line_of(("uses", index, 1)) for index in range(4)] == [5, 6, 7, 8]
    assert doc.line_of(("named", "a", 0)) == 10
    assert doc.line_of(("shared", 1)) == 3


def test_merge_keys_are_refused_unless_aliases_are_allowed() -> None:
    error = _refusal("a: 1\nb:\n  <<: {c: 1}\n  d: 2\n")
    assert (error.line, error.path) == (3, ("b",))
    assert "merge keys (<<) are not accepted" in error.problem
    assert parse_yaml("b:\n  <<: {c: 1}\n", allow_aliases=True).data == {"b": {"c": 1}}


def test_nesting_is_bounded_without_recursion() -> None:
    assert parse_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH).data is not None
    error = _refusal("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))
    assert error.problem == f"nests deeper than {MAX_DEPTH} levels"
    assert error.path == ("a", *[0] * (MAX_DEPTH - 1))


def test_integers_past_the_digit_bound_are_refused_before_python_reads_them() -> None:
    assert parse_yaml(f"n: {'9' * MAX_DIGITS}").data == {"n": int("9" * MAX_DIGITS)}
    error = _refusal(f"a: 1\nn: {'9' * 5000}\n")
    assert (error.line, error.path) == (2, ("n",))
    assert error.problem == f"a number has more than {MAX_DIGITS} digits"


@pytest.mark.parametrize(("text", "problem"), [
    ("n: !!int abc", 'not an integer: "abc"'),
    ("n: !!float abc", 'not a number: "abc"'),
    ("n: 2001-02-30", 'not a date: "2001-02-30"'),
])
def test_a_scalar_its_constructor_cannot_read_is_refused_with_its_path(text: str,
                                                                        problem: str) -> None:
    error = _refusal(text)
    assert (error.line, error.path, error.problem) == (1, ("n",), problem)


def test_the_number_of_values_is_bounded_before_composing() -> None:
    assert parse_yaml("[1, 1, 1]", max_nodes=4).data == [1, 1, 1]
    error = _refusal("[1,\n 1,\n 1]", max_nodes=3)
    assert (error.line, error.problem) == (3, "holds more than 3 values")


def test_keys_must_be_plain_and_unique_and_a_repeated_key_is_echoed_clipped() -> None:
    assert "a key must be plain text" in _refusal("? [a, b]\n: 1\n").problem
    long_key = "k" * 5000
    # Past 1,024 characters YAML needs an explicit key ("? key"); an implicit one is malformed.
    error = _refusal(f"? {long_key}\n: 1\n? {long_key}\n: 2\n")
    assert error.line == 3
    assert error.problem == f"key '{clip(long_key)}' repeats the one on line 1"
    assert len(error.problem) < 2 * ECHO_LIMIT


def test_malformed_yaml_still_names_its_line() -> None:
    assert _refusal("a: 1\nb: [\n").line == 3


def test_decoding_strips_a_byte_order_mark_and_names_the_first_bad_byte() -> None:
    assert decode_utf8(b"\xef\xbb\xbfa: 1\n") == "a: 1\n"
    with pytest.raises(YamlError) as raised:
        decode_utf8(b"a: 1\nb: \xc3(\n")
    assert (raised.value.line, raised.value.problem) == (
        2, "not UTF-8 text (byte 0xc3 at offset 8)")


def test_clip_keeps_short_text_and_says_how_long_long_text_was() -> None:
    assert clip("short") == "short"
    assert clip("x" * 1000) == "x" * ECHO_LIMIT + "… (1,000 characters)"


def test_an_input_error_keeps_bounded_details_and_lists_the_first_problems() -> None:
    problems = [Problem(f"f.yaml:{index}", ("data", f"k{index}"), "unknown key")
                for index in range(MAX_DETAILS + 200)]
    error = InputError(problems)
    assert len(error.details) == len(error.problems) == MAX_DETAILS
    assert error.omitted == 200
    lines = str(error).splitlines()
    assert lines[:MAX_LISTED] == error.problems[:MAX_LISTED]
    assert lines[MAX_LISTED:] == [f"... and {MAX_DETAILS + 200 - MAX_LISTED:,} more problems"]


def test_an_input_error_clips_echoed_keys_and_long_messages() -> None:
    error = InputError([Problem("f.yaml:1", ("data", "k" * 10_000), "x" * 100_000)])
    (problem,) = error.details
    assert problem.field == ("data", clip("k" * 10_000))
    assert len(str(error)) < 3_000


def test_requirements_given_as_data_are_bounded_too() -> None:
    deep: dict[str, object] = {}
    inner = deep
    for _ in range(10_000):  # deeper than Python's recursion limit
        inner["a"] = {}
        inner = inner["a"]  # type: ignore[assignment]
    with pytest.raises(InputError, match=f"nests deeper than {MAX_DEPTH} levels"):
        parse_requirements({"workload": deep})
    with pytest.raises(InputError, match=f"holds more than {MAX_VALUES:,} values"):
        parse_requirements({"security": {"compliance": ["hipaa"] * MAX_VALUES}})


def test_a_misspelt_value_given_as_data_gets_a_suggestion() -> None:
    with pytest.raises(InputError) as raised:
        parse_requirements({"data": {"modle": "relational"}, "workload": {"kind": "ap"}})
    messages = {".".join(map(str, problem.field or ())): problem.message
                for problem in raised.value.details}
    assert messages["data.modle"].startswith("unknown key (allowed keys in data: model, ")
    assert messages["data.modle"].endswith("); did you mean 'model'?")
    # The allowed values are listed once, after what was given.
    assert messages["workload.kind"] == (
        'not an allowed value, got "ap" (one of: web_app, api, event_processing, messaging, '
        "data_pipeline, analytics, batch); did you mean 'api'?")


def test_a_value_far_from_every_allowed_one_gets_no_suggestion() -> None:
    with pytest.raises(InputError) as raised:
        parse_requirements({"workload": {"pillar_priorities": ["security", "speed"]}})
    (problem,) = raised.value.details
    assert problem.message.startswith('not an allowed value, got "speed" (a list of: ')
    assert problem.message.endswith("sustainability)")
