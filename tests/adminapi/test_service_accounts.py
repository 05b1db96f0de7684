"""Service accounts and their keys over the admin API: create one, issue its key (the secret once, with no-store,
never in a replay), who may give which scopes (the keys page's rule, in the action), then rotate and revoke."""

from __future__ import annotations

import pytest

from audit.models import ActorType, AuditEvent
from keys import actions
from keys.models import APIKey, ServiceAccount
from orgsecurity.actions import ActionRefused
from orgsecurity.actors import ProgramActor
from orgsecurity.roles import Role
from tests.helpers.adminapi import ALL_SCOPES, allow_api_changes, call, error_code, scoped_key
from tests.helpers.adminapi_org import auditor_token, member_token, outsider_token

ACCOUNTS = "/api/v1/orgs/acme/service-accounts"
RW = ["security:read", "security:write"]


@pytest.fixture
def owners_key(org, owner):
    allow_api_changes(org, owner)
    return scoped_key(org, owner, ALL_SCOPES)


def test_create_a_service_account_once_per_idempotency_key(org, owners_key):
    key, token = owners_key
    body = {"name": "terraform", "description": "infra as code"}
    first = call("POST", ACCOUNTS, token, body, **{"Idempotency-Key": "sa-1"})
    assert first.status_code == 201, first.content
    assert first.json()["name"] == "terraform" and first.json()["active_keys"] == 0
    replay = call("POST", ACCOUNTS, token, body, **{"Idempotency-Key": "sa-1"})
    assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
    assert ServiceAccount.objects.filter(organization=org).count() == 1
    taken = call("POST", ACCOUNTS, token, body)
    assert taken.status_code == 409 and error_code(taken) == "name_taken"
    bad = call("POST", ACCOUNTS, token, {"name": "Not A Slug"})
    assert bad.status_code == 400 and error_code(bad) == "bad_name"
    event = AuditEvent.objects.get(organization=org, action="key.service_account_created")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label
    assert ServiceAccount.objects.get(organization=org).created_by is not None  # the person behind the key


def test_a_key_for_a_service_account_shows_its_secret_once(org, owner, owners_key):
    _, token = owners_key
    account = actions.create_service_account(org, actor=owner, name="terraform")
    path = f"{ACCOUNTS}/{account.pk}/keys"
    body = {"name": "ci", "permission": "read_write", "scopes": ["security:read", "security:write"]}
    first = call("POST", path, token, body, **{"Idempotency-Key": "key-1"})
    assert first.status_code == 201, first.content
    assert first["Cache-Control"] == "no-store"
    secret = first.json()["token"]
    created = first.json()["key"]
    assert secret.startswith("osk_") and created["service_account"] == "terraform"
    assert created["scopes"] == ["security:read", "security:write"]
    assert call("GET", "/api/v1/orgs/acme/security", secret).status_code == 200
    replay = call("POST", path, token, body, **{"Idempotency-Key": "key-1"})
    assert replay.status_code == 201 and replay.json()["token"] is None and replay.json()["key"]["id"] == created["id"]
    assert secret not in replay.content.decode()
    assert APIKey.objects.filter(owner_service_account=account).count() == 1
    listing = call("GET", ACCOUNTS, token).json()["service_accounts"]
    assert listing == [
        {**listing[0], "name": "terraform", "active_keys": 1},
    ]
    event = AuditEvent.objects.get(organization=org, action="key.created", actor_type=ActorType.API_KEY)
    assert event.target_id == str(created["id"])


def test_then_rotate_and_revoke_it(org, owner, owners_key):
    _, token = owners_key
    account = actions.create_service_account(org, actor=owner, name="terraform")
    created = call("POST", f"{ACCOUNTS}/{account.pk}/keys", token, {"name": "ci", "scopes": ["security:read"]})
    key_id, old = created.json()["key"]["id"], created.json()["token"]
    rotated = call("POST", f"/api/v1/orgs/acme/keys/{key_id}/rotate", token, {"overlap_seconds": 0})
    assert rotated.status_code == 200
    assert call("GET", "/api/v1/orgs/acme/security", old).status_code == 401
    new = rotated.json()["token"]
    assert call("GET", "/api/v1/orgs/acme/security", new).status_code == 200
    revoked = call("POST", f"/api/v1/orgs/acme/keys/{key_id}/revoke", token, {"reason": "rotated out"})
    assert revoked.status_code == 200
    assert call("GET", "/api/v1/orgs/acme/security", new).status_code == 401


def test_only_owners_keys_give_write_scopes(org, owner, admin):
    allow_api_changes(org, owner)
    account = actions.create_service_account(org, actor=owner, name="terraform")
    path = f"{ACCOUNTS}/{account.pk}/keys"
    _, admins = scoped_key(org, admin, RW)
    _, service = scoped_key(org, owner, RW, service_account=account)  # acts as an admin
    for token in (admins, service):
        refused = call("POST", path, token, {"name": "x", "permission": "read_write", "scopes": ["security:write"]})
        assert refused.status_code == 403 and error_code(refused) == "scope_not_allowed"
        done = call("POST", path, token, {"name": "reader", "scopes": ["security:read"]})
        assert done.status_code == 201, done.content
    assert not APIKey.objects.filter(owner_service_account=account, name="x").exists()
    assert [k.scopes for k in APIKey.objects.filter(name="reader")] == [["security:read"], ["security:read"]]


def test_a_key_never_gives_a_scope_it_does_not_hold(org, owner):
    allow_api_changes(org, owner)
    account = actions.create_service_account(org, actor=owner, name="terraform")
    _, token = scoped_key(org, owner, RW)
    refused = call("POST", f"{ACCOUNTS}/{account.pk}/keys", token, {"name": "x", "scopes": ["members:write"]})
    assert refused.status_code == 403 and error_code(refused) == "scope_not_allowed"
    assert not APIKey.objects.filter(owner_service_account=account).exists()


def test_the_key_policy_applies(org, owner, owners_key):
    _, token = owners_key
    actions.set_key_policy(org, actor=owner, require_expiry=True, max_lifetime_days=30, allow_unrestricted=True)
    account = actions.create_service_account(org, actor=owner, name="terraform")
    path = f"{ACCOUNTS}/{account.pk}/keys"
    refused = call("POST", path, token, {"name": "x", "scopes": ["security:read"]})
    assert refused.status_code == 400 and error_code(refused) == "expiry_required"
    done = call("POST", path, token, {"name": "x", "scopes": ["security:read"], "expires_in_days": 30})
    assert done.status_code == 201 and done.json()["key"]["expires_at"]


def test_the_rules_hold_in_the_action_for_the_dashboard_and_the_api_alike(org, owner, admin):
    account = actions.create_service_account(org, actor=owner, name="terraform")
    as_admin_key = ProgramActor("api_key", "1", "API key osk_x", role=Role.ADMIN, user_id=admin.pk)
    with pytest.raises(ActionRefused) as refused:
        actions.create_api_key(org, actor=as_admin_key, name="x", service_account=account, scopes=["members:write"])
    assert refused.value.code == "scope_not_allowed"
    with pytest.raises(ActionRefused) as refused:
        actions.create_api_key(org, actor=as_admin_key, name="personal", scopes=["security:read"])
    assert refused.value.code == "role_not_allowed"  # an API key issues no personal key
    as_auditor = ProgramActor("api_key", "2", "API key osk_y", role=Role.AUDITOR, user_id=admin.pk)
    with pytest.raises(ActionRefused) as refused:
        actions.create_api_key(org, actor=as_auditor, name="x", service_account=account)
    assert refused.value.code == "role_not_allowed"


def test_access_matrix(org, owner, admin, member, other_org, outsider):
    account = actions.create_service_account(org, actor=owner, name="terraform")
    theirs = actions.create_service_account(other_org, actor=outsider, name="theirs")
    _, owners = scoped_key(org, owner, RW)
    _, admins = scoped_key(org, admin, RW)
    assert call("GET", ACCOUNTS, admins).status_code == 200
    off = call("POST", ACCOUNTS, owners, {"name": "x"})
    assert off.status_code == 403 and error_code(off) == "api_security_changes_off"
    allow_api_changes(org, owner)
    assert call("POST", ACCOUNTS, admins, {"name": "admins"}).status_code == 201
    for token in (member_token(org, member, ["security:read"]), auditor_token(org, ["security:read"])):
        response = call("GET", ACCOUNTS, token)
        assert response.status_code == 403 and error_code(response) in {"role_not_allowed", "owner_role_not_allowed"}
    _, readonly = scoped_key(org, owner, ["security:read"])
    response = call("POST", f"{ACCOUNTS}/{account.pk}/keys", readonly, {"name": "x"})
    assert response.status_code == 403 and error_code(response) == "scope_missing"
    assert error_code(call("GET", ACCOUNTS, outsider_token(other_org, outsider, RW))) == "not_found"
    for account_id in (theirs.pk, 999999):
        response = call("POST", f"{ACCOUNTS}/{account_id}/keys", owners, {"name": "x", "scopes": ["security:read"]})
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert not APIKey.objects.filter(owner_service_account=theirs).exists()
