"""Bad input is a JSON 4xx with a code, never a 500: ids past the database's range, NUL characters, wrong types."""

from __future__ import annotations

import pytest

from tests.helpers.adminapi import ALL_SCOPES, allow_api_changes, call, error_code, scoped_key

HUGE = 10**30


@pytest.fixture
def token(org, owner):
    allow_api_changes(org, owner)
    return scoped_key(org, owner, ALL_SCOPES)[1]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/v1/orgs/acme/allowlist/entries/{HUGE}", None),
        ("DELETE", f"/api/v1/orgs/acme/allowlist/entries/{HUGE}", None),
        ("GET", f"/api/v1/orgs/acme/allowlist/entries?after={HUGE}", None),
        ("GET", f"/api/v1/orgs/acme/members?after={HUGE}", None),
        ("PATCH", f"/api/v1/orgs/acme/members/{HUGE}", {"role": "member"}),
        ("POST", f"/api/v1/orgs/acme/keys/{HUGE}/revoke", {"reason": "x"}),
        ("GET", "/api/v1/orgs/acme/allowlist/entries/-1", None),
        ("POST", "/api/v1/orgs/acme/allowlist/entries", {"cidr": "10.0.0.0/8", "label": "a\x00b"}),
        ("POST", "/api/v1/orgs/acme/allowlist/entries", {"cidr": "10.0.0.0/8\x00"}),
        ("POST", "/api/v1/orgs/acme/allowlist/entries", {"cidr": ["10.0.0.0/8"]}),
        ("POST", "/api/v1/orgs/acme/allowlist/entries/bulk", {"text": "10.0.0.0/8 # \x00"}),
        ("GET", "/api/v1/orgs/acme/audit/events?q=%00", None),
        ("GET", "/api/v1/orgs/acme/audit/events?limit=100000", None),
        ("PATCH", "/api/v1/orgs/acme/session-policy", {"idle_timeout_s": "soon"}),
        ("PUT", "/api/v1/orgs/acme/key-policy", {"require_expiry": True}),
        ("PATCH", "/api/v1/orgs/acme/key-policy", {"max_lifetime_days": HUGE}),
        ("POST", "/api/v1/orgs/acme/allowlist/entries", [1, 2]),
    ],
)
def test_bad_input_is_a_json_4xx(org, token, method, path, body):
    response = call(method, path, token, body, **{"If-Match": "*"})
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert error_code(response)


def test_revoke_reason_with_nul_is_refused(org, owner, token):
    from keys import actions

    other, _ = actions.create_api_key(org, actor=owner, name="other")
    response = call("POST", f"/api/v1/orgs/acme/keys/{other.pk}/revoke", token, {"reason": "bad\x00reason"})
    assert 400 <= response.status_code < 500 and error_code(response)
