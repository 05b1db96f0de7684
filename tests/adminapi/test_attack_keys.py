"""Attacks on the admin API's key operations: a key never obtains the secret of a key that can do more than it can."""

from __future__ import annotations

import pytest

from keys import actions
from keys.models import APIKey
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key

KEYS = "/api/v1/orgs/acme/keys"


@pytest.fixture
def terraform(org, owner):
    """A service account's key holding only security:read and security:write (the API switch on)."""
    allow_api_changes(org, owner)
    account = actions.create_service_account(org, actor=owner, name="terraform")
    return scoped_key(org, owner, ["security:read", "security:write"], service_account=account)


def test_rotating_a_key_with_more_scopes_is_refused_and_its_secret_never_shown(org, owner, terraform):
    _key, token = terraform
    # An owner gave another service account's key members:write and audit:read, which the calling key lacks.
    hr = actions.create_service_account(org, actor=owner, name="hr-sync")
    strong, strong_token = scoped_key(org, owner, ["members:read", "members:write", "audit:read"], service_account=hr)
    response = call("POST", f"{KEYS}/{strong.pk}/rotate", token, {"overlap_seconds": 0})
    assert response.status_code == 403 and error_code(response) == "scope_not_allowed"
    assert "osk_" not in response.json()["error"]["message"]
    assert call("GET", "/api/v1/whoami", strong_token).status_code == 200  # the old secret still works
    assert APIKey.objects.get(pk=strong.pk).rotated_at is None


def test_rotating_a_key_with_one_extra_scope_is_refused_with_an_idempotency_key_too(org, owner, terraform):
    _, token = terraform
    hr = actions.create_service_account(org, actor=owner, name="audit-export")
    reader, _ = scoped_key(org, owner, ["security:read", "audit:read"], service_account=hr)
    response = call("POST", f"{KEYS}/{reader.pk}/rotate", token, {}, **{"Idempotency-Key": "r1"})
    assert response.status_code == 403 and error_code(response) == "scope_not_allowed"
    assert APIKey.objects.get(pk=reader.pk).rotated_at is None


def test_rotating_a_key_with_no_more_scopes_still_works(org, owner, terraform):
    key, token = terraform
    same, _ = scoped_key(org, owner, ["security:read"], service_account=key.owner_service_account)
    response = call("POST", f"{KEYS}/{same.pk}/rotate", token, {})
    assert response.status_code == 200 and response.json()["token"].startswith("osk_")
    itself = call("POST", f"{KEYS}/{key.pk}/rotate", token, {"overlap_seconds": 60})
    assert itself.status_code == 200


def test_a_restricted_key_cannot_rotate_an_unrestricted_one(org, owner, terraform):
    """A key limited to a network must not obtain the secret of a key usable from anywhere with the same scopes."""
    key, _ = terraform
    _limited, limited_token = scoped_key(
        org,
        owner,
        ["security:read", "security:write"],
        service_account=key.owner_service_account,
        allowed_cidrs=["127.0.0.0/8"],
    )
    response = call("POST", f"{KEYS}/{key.pk}/rotate", limited_token, {})
    assert response.status_code == 403 and error_code(response) == "scope_not_allowed"


def test_a_restricted_key_cannot_issue_a_key_without_its_restrictions(org, owner, terraform):
    """Issuing is the other way to obtain a key: its network, permission and expiry bounds carry over too."""
    key, _ = terraform
    account = key.owner_service_account
    _limited, limited_token = scoped_key(
        org, owner, ["security:read", "security:write"], service_account=account, allowed_cidrs=["127.0.0.0/8"]
    )
    path = f"/api/v1/orgs/acme/service-accounts/{account.pk}/keys"
    anywhere = call("POST", path, limited_token, {"name": "escape", "scopes": ["security:read"]})
    assert anywhere.status_code == 403 and error_code(anywhere) == "scope_not_allowed"
    inside = call(
        "POST", path, limited_token, {"name": "inside", "scopes": ["security:read"], "allowed_cidrs": ["127.0.0.1"]}
    )
    assert inside.status_code == 201, inside.content
    _reader, reader_token = scoped_key(
        org, owner, ["security:read", "security:write"], service_account=account, permission="read"
    )
    writer = call("POST", path, reader_token, {"name": "writer", "permission": "read_write"})
    assert writer.status_code == 403 and error_code(writer) == "scope_not_allowed"
    assert not APIKey.objects.filter(name__in=["escape", "writer"]).exists()


def test_a_secret_in_its_overlap_mints_no_new_secret(org, owner, terraform):
    """Rotating is the cure for a leaked secret: the old one, kept working for an overlap so deploys can switch,
    must not rotate the key again (taking it over from whoever holds the new secret) nor issue another key."""
    key, leaked = terraform
    first = call("POST", f"{KEYS}/{key.pk}/rotate", leaked, {"overlap_seconds": 3600})
    assert first.status_code == 200
    current = first.json()["token"]
    assert call("GET", "/api/v1/whoami", leaked).status_code == 200  # still in its overlap, as documented
    takeover = call("POST", f"{KEYS}/{key.pk}/rotate", leaked, {"overlap_seconds": 0})
    assert takeover.status_code == 403 and error_code(takeover) == "previous_secret"
    other, _ = scoped_key(org, owner, ["security:read"], service_account=key.owner_service_account, name="other")
    assert call("POST", f"{KEYS}/{other.pk}/rotate", leaked, {}).status_code == 403
    path = f"/api/v1/orgs/acme/service-accounts/{key.owner_service_account.pk}/keys"
    issued = call("POST", path, leaked, {"name": "backdoor", "scopes": ["security:read"]})
    assert issued.status_code == 403 and error_code(issued) == "previous_secret"
    assert not APIKey.objects.filter(name="backdoor").exists()
    assert call("GET", "/api/v1/whoami", current).status_code == 200  # the new secret still works
    assert call("POST", f"{KEYS}/{key.pk}/rotate", current, {}).status_code == 200  # and may rotate
