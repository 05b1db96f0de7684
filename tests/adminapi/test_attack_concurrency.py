"""Attacks on the admin API's safe concurrent edits: If-Match compares strongly (RFC 9110 §13.1.1), so a weak
tag never matches; ``*``, lists and stale tags; an Idempotency-Key never replays another key's answer or a
one-time secret."""

from __future__ import annotations

import pytest

from allowlist.models import IPAllowlistEntry
from keys import actions
from keys.models import APIKey
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key

SESSION = "/api/v1/orgs/acme/session-policy"
ENTRIES = "/api/v1/orgs/acme/allowlist/entries"


@pytest.fixture
def writer(org, owner):
    allow_api_changes(org, owner)
    return scoped_key(org, owner, ["security:read", "security:write"])


def _entry(token: str) -> dict:
    response = call("POST", ENTRIES, token, {"cidr": "203.0.113.0/24", "label": "office"})
    assert response.status_code == 201, response.content
    return response.json()["added"][0]


def test_a_weak_tag_never_matches_even_with_the_current_value(org, writer):
    _, token = writer
    entry = _entry(token)
    for header in (f"W/{entry['etag']}", f'"stale", W/{entry["etag"]}', f"w/{entry['etag']}"):
        response = call("DELETE", f"{ENTRIES}/{entry['id']}", token, **{"If-Match": header})
        assert response.status_code == 412 and error_code(response) == "precondition_failed", header
    assert IPAllowlistEntry.objects.filter(pk=entry["id"]).exists()


def test_a_list_holding_the_current_tag_and_a_star_match(org, writer):
    _, token = writer
    entry = _entry(token)
    stale = call("DELETE", f"{ENTRIES}/{entry['id']}", token, **{"If-Match": '"0000000000000000"'})
    assert stale.status_code == 412
    unquoted = call("DELETE", f"{ENTRIES}/{entry['id']}", token, **{"If-Match": entry["etag"].strip('"')})
    assert unquoted.status_code == 412
    listed = call("DELETE", f"{ENTRIES}/{entry['id']}", token, **{"If-Match": f'"x", {entry["etag"]}'})
    assert listed.status_code == 204
    other = _entry(token)
    star = call("DELETE", f"{ENTRIES}/{other['id']}", token, **{"If-Match": "*"})
    assert star.status_code == 204
    gone = call("DELETE", f"{ENTRIES}/{other['id']}", token, **{"If-Match": "*"})
    assert gone.status_code == 404 and error_code(gone) == "not_found"


def test_an_idempotency_key_is_never_shared_between_keys(org, owner, writer):
    _, token = writer
    account = actions.create_service_account(org, actor=owner, name="ci")
    path = f"/api/v1/orgs/acme/service-accounts/{account.pk}/keys"
    body = {"name": "deploy", "scopes": ["security:read"]}
    first = call("POST", path, token, body, **{"Idempotency-Key": "same"})
    assert first.status_code == 201 and first.json()["token"]
    _, second_token = scoped_key(org, owner, ["security:read", "security:write"], name="second")
    second = call("POST", path, second_token, body, **{"Idempotency-Key": "same"})
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert second.json()["token"] and second.json()["token"] != first.json()["token"]
    replay = call("POST", path, token, body, **{"Idempotency-Key": "same"})
    assert replay["Idempotent-Replayed"] == "true" and replay.json()["token"] is None
    assert first.json()["token"] not in replay.content.decode()
    assert APIKey.objects.filter(name="deploy").count() == 2
    changed = call("POST", path, token, {**body, "name": "other"}, **{"Idempotency-Key": "same"})
    assert changed.status_code == 422 and error_code(changed) == "idempotency_key_reused"
