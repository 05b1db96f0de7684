"""Recovery (break-glass) accounts over the admin API: list (never a code), designate and remove with the page's
guardrails: owners only, and the last owner's way in stays while SSO is enforced."""

from __future__ import annotations

import pytest

from audit.models import ActorType, AuditEvent
from keys import actions
from orgsecurity.models import Membership
from sso.connections import actions as sso_actions
from sso.models import RecoveryAccount, SSOConnection
from sso.recovery import accounts as recovery
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key
from tests.helpers.adminapi_org import auditor_token, member_token, outsider_token
from tests.helpers.core import add_member, make_user

RECOVERY = "/api/v1/orgs/acme/recovery-accounts"
RW = ["security:read", "security:write"]


def membership(user, org):
    return Membership.objects.get(user=user, organization=org)


@pytest.fixture
def owners_key(org, owner):
    allow_api_changes(org, owner)
    return scoped_key(org, owner, RW)


def enforce_sso(org, owner):
    connection = sso_actions.create_connection(org, actor=owner, protocol="saml", name="Acme IdP")
    SSOConnection.objects.filter(pk=connection.pk).update(status=SSOConnection.Status.ENFORCED)  # set-up only


def test_list_shows_each_account_and_whether_it_can_get_in_never_a_code(org, owner, admin, owners_key):
    _, token = owners_key
    account = recovery.designate(org, actor=owner, membership=membership(owner, org))
    codes = recovery.generate_codes(account, actor=owner)
    recovery.designate(org, actor=owner, membership=membership(admin, org))
    response = call("GET", RECOVERY, token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sso_enforced"] is False
    shown = {a["email"]: (a["role"], a["unused_codes"], a["usable"]) for a in body["accounts"]}
    assert shown == {"owner@acme.test": ("owner", 10, True), "admin@acme.test": ("admin", 0, False)}
    assert not any(code in response.content.decode() for code in codes)


def test_an_owners_key_designates_and_a_retry_does_not_designate_twice(org, owner, admin, owners_key):
    key, token = owners_key
    body = {"membership_id": membership(admin, org).pk}
    first = call("POST", RECOVERY, token, body, **{"Idempotency-Key": "designate-1"})
    assert first.status_code == 201, first.content
    assert first.json()["email"] == "admin@acme.test" and first.json()["usable"] is False
    replay = call("POST", RECOVERY, token, body, **{"Idempotency-Key": "designate-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    again = call("POST", RECOVERY, token, body)
    assert again.status_code == 409 and error_code(again) == "duplicate"
    assert RecoveryAccount.objects.filter(organization=org).count() == 1
    event = AuditEvent.objects.get(organization=org, action="sso.recovery_designated")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label


def test_the_pages_refusals_apply(org, owner, admin, member, owners_key):
    _, token = owners_key
    refused = call("POST", RECOVERY, token, {"membership_id": membership(member, org).pk})
    assert refused.status_code == 400 and error_code(refused) == "bad_role"
    sso_only = make_user("sso-only@acme.test")
    sso_only.set_unusable_password()
    sso_only.save()
    add_member(org, sso_only, "admin")
    refused = call("POST", RECOVERY, token, {"membership_id": membership(sso_only, org).pk})
    assert refused.status_code == 400 and error_code(refused) == "no_password"
    assert not RecoveryAccount.objects.exists()


def test_only_owners_keys_choose_recovery_accounts(org, owner, admin):
    allow_api_changes(org, owner)
    _, admins = scoped_key(org, admin, RW)
    account = actions.create_service_account(org, actor=owner, name="terraform")
    _, service = scoped_key(org, owner, RW, service_account=account)
    designated = recovery.designate(org, actor=owner, membership=membership(owner, org))
    for token in (admins, service):
        assert call("GET", RECOVERY, token).status_code == 200
        refused = call("POST", RECOVERY, token, {"membership_id": membership(admin, org).pk})
        assert refused.status_code == 403 and error_code(refused) == "owners_only"
        refused = call("DELETE", f"{RECOVERY}/{designated.pk}", token, **{"If-Match": "*"})
        assert refused.status_code == 403 and error_code(refused) == "owners_only"
    assert RecoveryAccount.objects.filter(organization=org).count() == 1


def test_the_last_owners_way_in_stays_while_sso_is_enforced(org, owner, admin, owners_key):
    _, token = owners_key
    account = recovery.designate(org, actor=owner, membership=membership(owner, org))
    recovery.generate_codes(account, actor=owner)
    enforce_sso(org, owner)
    listing = call("GET", RECOVERY, token).json()
    assert listing["sso_enforced"] is True
    etag = listing["accounts"][0]["etag"]
    refused = call("DELETE", f"{RECOVERY}/{account.pk}", token, **{"If-Match": etag})
    assert refused.status_code == 409 and error_code(refused) == "last_recovery_account"
    assert RecoveryAccount.objects.filter(pk=account.pk).exists()
    # Another owner with codes: now it may go.
    second_owner = make_user("second@acme.test")
    add_member(org, second_owner, "owner")
    second = recovery.designate(org, actor=owner, membership=membership(second_owner, org))
    recovery.generate_codes(second, actor=second_owner)
    assert call("DELETE", f"{RECOVERY}/{account.pk}", token, **{"If-Match": etag}).status_code == 204
    assert not RecoveryAccount.objects.filter(pk=account.pk).exists()
    assert AuditEvent.objects.get(organization=org, action="sso.recovery_removed").actor_type == ActorType.API_KEY


def test_removal_needs_if_match(org, owner, admin, owners_key):
    _, token = owners_key
    account = recovery.designate(org, actor=owner, membership=membership(admin, org))
    etag = call("GET", RECOVERY, token).json()["accounts"][0]["etag"]
    assert call("DELETE", f"{RECOVERY}/{account.pk}", token).status_code == 428
    recovery.generate_codes(account, actor=admin)  # changed meanwhile
    stale = call("DELETE", f"{RECOVERY}/{account.pk}", token, **{"If-Match": etag})
    assert stale.status_code == 412 and error_code(stale) == "precondition_failed"
    assert RecoveryAccount.objects.filter(pk=account.pk).exists()


def test_access_matrix(org, owner, admin, member, other_org, outsider):
    theirs = recovery.designate(other_org, actor=outsider, membership=membership(outsider, other_org))
    _, owners = scoped_key(org, owner, RW)
    body = {"membership_id": membership(admin, org).pk}
    refused = call("POST", RECOVERY, owners, body)
    assert refused.status_code == 403 and error_code(refused) == "api_security_changes_off"
    for token in (member_token(org, member, ["security:read"]), auditor_token(org, ["security:read"])):
        response = call("GET", RECOVERY, token)
        assert response.status_code == 403 and error_code(response) in {"role_not_allowed", "owner_role_not_allowed"}
    _, readonly = scoped_key(org, owner, ["security:read"])
    assert error_code(call("POST", RECOVERY, readonly, body)) == "scope_missing"
    assert error_code(call("GET", RECOVERY, outsider_token(other_org, outsider, RW))) == "not_found"
    allow_api_changes(org, owner)
    # Another organization's account, or its member, is a 404 like a missing one.
    response = call("DELETE", f"{RECOVERY}/{theirs.pk}", owners, **{"If-Match": "*"})
    assert response.status_code == 404 and error_code(response) == "not_found"
    response = call("POST", RECOVERY, owners, {"membership_id": membership(outsider, other_org).pk})
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert RecoveryAccount.objects.filter(pk=theirs.pk).exists()
