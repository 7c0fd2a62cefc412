"""``read_json``: the one JSON reader for request bodies."""

from __future__ import annotations

import json
import time

import pytest

from web.validation import MAX_DEPTH, JSONBodyError, read_json


def nested(depth: int, *, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return opener * depth + b"1" + closer * depth


def test_reads_ordinary_documents():
    document = {"a": [1, 2.5, None, True, {"b": "c\u00e9\U0001f600"}], "d": 'x\\y"z'}
    assert read_json(json.dumps(document).encode()) == document


def test_nesting_up_to_the_limit_is_read():
    assert read_json(nested(MAX_DEPTH)) is not None
    objects = b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH
    assert read_json(objects) is not None


def test_nesting_past_the_limit_is_refused():
    with pytest.raises(JSONBodyError, match="nested deeper than 64"):
        read_json(nested(MAX_DEPTH + 1))


def test_very_deep_nesting_is_refused_quickly_without_recursing():
    body = b'{"a":' * 20_000 + b"[" * 20_000 + b"1" + b"]" * 20_000 + b"}" * 20_000
    started = time.perf_counter()
    with pytest.raises(JSONBodyError) as refused:
        read_json(body)
    assert time.perf_counter() - started < 0.5
    assert refused.value.field is None


def test_brackets_inside_strings_do_not_count():
    text = "[" * 500 + '\\"{' * 100 + "\\\\"
    assert read_json(json.dumps({"a": text}).encode()) == {"a": text}


def test_escaped_quotes_do_not_hide_brackets():
    # The string ends at the second unescaped quote; the brackets after it are structure.
    body = b'["a\\\\", ' + nested(MAX_DEPTH) + b"]"
    with pytest.raises(JSONBodyError, match="nested"):
        read_json(body)


def test_the_depth_scan_is_linear_on_hostile_quotes():
    body = b'"' + b'\\"' * 300_000
    started = time.perf_counter()
    with pytest.raises(JSONBodyError):
        read_json(body)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "body", [b"{", b"", b"NaN", b'{"a": Infinity}', b"[-Infinity]", b"\xff", b"1" * 5000]
)
def test_not_json_here_is_refused_without_a_field(body):
    with pytest.raises(JSONBodyError) as refused:
        read_json(body)
    assert refused.value.field is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'"\\u0000"', "body"),
        (b'{"a": {"b": ["x", "y\\u0000"]}}', "a.b.1"),
        (b'{"a": {"k\\u0000": 1}}', "a.k\\x00"),
        (b'{"a": "\\ud800"}', "a"),
        (b'[{"b": "\\udfff x"}]', "0.b"),
    ],
)
def test_unstorable_strings_are_refused_naming_the_field(body, field):
    with pytest.raises(JSONBodyError) as refused:
        read_json(body)
    assert refused.value.field == field


def test_paired_surrogates_are_text():
    assert read_json(b'"\\ud83d\\ude00"') == "\U0001f600"


def test_refusals_are_value_errors():
    # The webhook's _parse catches ValueError and answers invalid_payload.
    assert issubclass(JSONBodyError, ValueError)
