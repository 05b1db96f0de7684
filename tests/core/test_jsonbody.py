"""Client JSON is read in one place (orgsecurity.jsonbody.parse_json), so JSON nested thousands deep (Python's
parser recurses per level: RecursionError, not ValueError) is a clear 400 everywhere, never a 500. An attack run got
500s from the SCIM and passkey endpoints this way."""

from __future__ import annotations

import pytest
from django.test import Client

from orgsecurity.jsonbody import MAX_DEPTH, NotJSON, parse_json

DEEP = "[" * 100_000 + "]" * 100_000


def test_parse_json_refuses_deep_nesting_before_the_parser_recurses():
    with pytest.raises(NotJSON, match="nested more than"):
        parse_json(DEEP)
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    inside_a_string = "[" * (MAX_DEPTH + 10)
    assert parse_json(f'{{"a": "{inside_a_string}"}}') == {"a": inside_a_string}  # brackets in strings do not count


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"{", b"nope"])
def test_parse_json_says_what_is_wrong(raw):
    with pytest.raises(NotJSON):
        parse_json(raw)


def test_the_passkey_endpoints_answer_deep_json_without_a_500(db):
    client = Client()
    for path in ("/accounts/2fa/sign-in/passkey/", "/accounts/2fa/verify/passkey/"):
        response = client.post(path, DEEP, content_type="application/json")
        assert response.status_code < 500, (path, response.status_code)


@pytest.mark.parametrize(
    "raw", ['{"name": "ci\\u0000"}', '{"workloads": ["a", "b\\u0000c"]}', '{"a\\u0000": 1}', '[{"x": ["\\u0000"]}]']
)
def test_a_string_holding_nul_is_refused_wherever_it_sits(raw):
    # PostgreSQL refuses NUL in text, even as a query parameter: CI's PostgreSQL pass answered 500 to an admin API
    # workload name "ci\u0000"; every client-JSON reader now refuses it as bad input.
    with pytest.raises(NotJSON, match="NUL"):
        parse_json(raw)
    assert parse_json('{"path": "C:\\\\u0000"}') == {"path": "C:\\u0000"}  # an escaped backslash is no NUL
