"""Attacks on the admin API's audit trail: a key refused by an action's guardrail (an admin's or a service
account's key trying an owner-only change, a change that would lock owners out) leaves a record naming the key,
as a key refused by the access checks does; the change itself is not recorded as made."""

from __future__ import annotations

import pytest

from audit.models import ActorType, AuditEvent
from keys import actions
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key


@pytest.fixture
def service_key(org, owner):
    """A service account's key (acts as an admin) with security:read and security:write, the API switch on."""
    allow_api_changes(org, owner)
    account = actions.create_service_account(org, actor=owner, name="terraform")
    return scoped_key(org, owner, ["security:read", "security:write"], service_account=account)


def _refusals(org, key) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization=org, action="key.use_denied", actor_id=str(key.pk)))


def test_an_owner_only_change_refused_by_the_action_is_recorded_with_the_key(org, owner, service_key):
    key, token = service_key
    etag = call("GET", "/api/v1/orgs/acme/key-policy", token)["ETag"]
    response = call("PATCH", "/api/v1/orgs/acme/key-policy", token, {"allow_unrestricted": False}, **{"If-Match": etag})
    assert response.status_code == 403 and error_code(response) == "role_not_allowed"
    recorded = _refusals(org, key)
    assert len(recorded) == 1, recorded
    event = recorded[0]
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label
    assert event.details["code"] == "role_not_allowed" and event.details["method"] == "PATCH"
    assert not AuditEvent.objects.filter(organization=org, action="key.policy_updated", actor_id=str(key.pk)).exists()


def test_a_guardrail_conflict_is_recorded_and_a_plain_validation_error_is_not(org, owner, service_key):
    key, token = service_key
    etag = call("GET", "/api/v1/orgs/acme/allowlist", token)["ETag"]
    # The test client's 127.0.0.1 is on no list: guarding the dashboard would lock the caller's owners out.
    lockout = call(
        "PUT", "/api/v1/orgs/acme/allowlist", token, {"enabled": True, "scope": "dashboard"}, **{"If-Match": etag}
    )
    assert lockout.status_code == 409 and error_code(lockout) == "self_lockout"
    assert [event.details["code"] for event in _refusals(org, key)] == ["self_lockout"]
    duplicate = call("POST", "/api/v1/orgs/acme/allowlist/entries", token, {"cidr": "203.0.113.0/24"})
    assert duplicate.status_code == 201
    again = call("POST", "/api/v1/orgs/acme/allowlist/entries", token, {"cidr": "203.0.113.0/24"})
    assert again.status_code == 400
    assert [event.details["code"] for event in _refusals(org, key)] == ["self_lockout"]
