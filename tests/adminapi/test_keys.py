"""API keys over the admin API: list without secrets, rotate (secret once, never in a replay), revoke, with the
page's rules."""

from __future__ import annotations

import pytest

from audit.models import ActorType, AuditEvent
from keys import actions
from keys.models import APIKey
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key

KEYS = "/api/v1/orgs/acme/keys"


@pytest.fixture
def terraform(org, owner):
    allow_api_changes(org, owner)
    account = actions.create_service_account(org, actor=owner, name="terraform")
    return scoped_key(org, owner, ["security:read", "security:write"], service_account=account)


def test_rotate_a_service_account_key_shows_the_secret_once(org, owner, terraform):
    key, token = terraform
    ci_key, ci_token = actions.create_api_key(org, actor=owner, name="ci", service_account=key.owner_service_account)
    listing = call("GET", KEYS, token)
    assert listing.status_code == 200 and ci_token not in listing.content.decode()
    assert {k["prefix"] for k in listing.json()["keys"]} == {key.prefix, ci_key.prefix}
    path = f"{KEYS}/{ci_key.pk}/rotate"
    first = call("POST", path, token, {"overlap_seconds": 0}, **{"Idempotency-Key": "rotate-1"})
    assert first.status_code == 200, first.content
    new_token = first.json()["token"]
    assert new_token.startswith("osk_") and new_token != ci_token
    assert call("GET", "/api/v1/whoami", new_token).status_code == 200
    assert call("GET", "/api/v1/whoami", ci_token).status_code == 401
    replay = call("POST", path, token, {"overlap_seconds": 0}, **{"Idempotency-Key": "rotate-1"})
    assert replay.status_code == 200 and replay.json()["token"] is None
    assert new_token not in replay.content.decode()
    assert call("GET", "/api/v1/whoami", new_token).status_code == 200  # not rotated twice
    event = AuditEvent.objects.get(organization=org, action="key.rotated")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label


def test_a_personal_key_is_rotated_only_by_its_owners_key(org, owner, admin, terraform):
    _, token = terraform
    admins_key, _ = scoped_key(org, admin, ["security:read"])
    refused = call("POST", f"{KEYS}/{admins_key.pk}/rotate", token, {})
    assert refused.status_code == 403 and error_code(refused) == "role_not_allowed"


def test_revoke_with_a_reason_then_already_revoked(org, owner, admin, terraform):
    _, token = terraform
    admins_key, admins_token = scoped_key(org, admin, ["security:read"])
    done = call("POST", f"{KEYS}/{admins_key.pk}/revoke", token, {"reason": "leaked in a log"})
    assert done.status_code == 200 and done.json()["revoked_at"]
    assert call("GET", "/api/v1/whoami", admins_token).status_code == 401
    again = call("POST", f"{KEYS}/{admins_key.pk}/revoke", token, {"reason": "again"})
    assert again.status_code == 409 and error_code(again) == "already_revoked"
    assert APIKey.objects.get(pk=admins_key.pk).revoked_reason == "leaked in a log"


def test_another_organizations_key_is_a_404(org, other_org, outsider, terraform):
    _, token = terraform
    theirs, _ = actions.create_api_key(other_org, actor=outsider, name="theirs")
    response = call("POST", f"{KEYS}/{theirs.pk}/revoke", token, {"reason": "x"})
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert APIKey.objects.get(pk=theirs.pk).revoked_at is None
