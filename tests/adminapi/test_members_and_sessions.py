"""Members and the session policy over the admin API: the members page's actions judged by the role the key acts
with, no key ever touching an owner, and the session policy with If-Match."""

from __future__ import annotations

import pytest

from audit.models import ActorType, AuditEvent
from keys import actions
from keys.models import APIKey
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key

MEMBERS = "/api/v1/orgs/acme/members"
SESSIONS = "/api/v1/orgs/acme/session-policy"


@pytest.fixture
def service_key(org, owner):
    account = actions.create_service_account(org, actor=owner, name="hr-sync")
    return scoped_key(org, owner, ["members:read", "members:write"], service_account=account)


def _member(membership_id, token):
    return next(m for m in call("GET", MEMBERS, token).json()["members"] if m["id"] == membership_id)


def test_list_members_with_roles(org, owner, admin, member, service_key):
    _, token = service_key
    response = call("GET", MEMBERS, token)
    assert response.status_code == 200
    roles = {m["email"]: m["role"] for m in response.json()["members"]}
    assert roles == {"owner@acme.test": "owner", "admin@acme.test": "admin", "member@acme.test": "member"}


def test_change_a_role_with_if_match_audited_as_the_key(org, member, service_key):
    key, token = service_key
    membership = Membership.objects.get(user=member)
    etag = _member(membership.pk, token)["etag"]
    missing = call("PATCH", f"{MEMBERS}/{membership.pk}", token, {"role": "billing"})
    assert missing.status_code == 428
    response = call("PATCH", f"{MEMBERS}/{membership.pk}", token, {"role": "billing"}, **{"If-Match": etag})
    assert response.status_code == 200 and response.json()["role"] == "billing"
    stale = call("PATCH", f"{MEMBERS}/{membership.pk}", token, {"role": "member"}, **{"If-Match": etag})
    assert stale.status_code == 412
    event = AuditEvent.objects.get(organization=org, action="member.role_changed")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label


def test_no_key_grants_demotes_or_removes_an_owner(org, owner, admin, member):
    # Even an owner's own key with members:write.
    _, token = scoped_key(org, owner, ["members:read", "members:write"])
    owner_membership = Membership.objects.get(user=owner)
    admin_membership = Membership.objects.get(user=admin)
    for path, method, body in (
        (f"{MEMBERS}/{admin_membership.pk}", "PATCH", {"role": "owner"}),
        (f"{MEMBERS}/{owner_membership.pk}", "PATCH", {"role": "admin"}),
        (f"{MEMBERS}/{owner_membership.pk}", "DELETE", None),
    ):
        response = call(method, path, token, body, **{"If-Match": "*"})
        assert response.status_code == 403 and error_code(response) == "owner_change_not_allowed", path
    assert Membership.objects.get(user=owner).role == Role.OWNER


def test_remove_a_member_revokes_their_keys(org, owner, admin, service_key):
    _, token = service_key
    admins_key, _ = scoped_key(org, admin, ["security:read"])
    membership = Membership.objects.get(user=admin)
    etag = _member(membership.pk, token)["etag"]
    response = call("DELETE", f"{MEMBERS}/{membership.pk}", token, **{"If-Match": etag})
    assert response.status_code == 204
    assert not Membership.objects.filter(user=admin, organization=org).exists()
    assert APIKey.objects.get(pk=admins_key.pk).revoked_at is not None


def test_members_write_needs_a_managing_role(org, owner, admin, member):
    _, token = scoped_key(org, admin, ["members:read", "members:write"])
    Membership.objects.filter(user=admin).update(role=Role.BILLING)
    response = call("GET", MEMBERS, token)
    assert response.status_code == 403


def test_another_organizations_member_is_a_404(org, other_org, outsider, service_key):
    _, token = service_key
    theirs = Membership.objects.get(user=outsider)
    response = call("PATCH", f"{MEMBERS}/{theirs.pk}", token, {"role": "member"}, **{"If-Match": "*"})
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_session_policy_read_and_change(org, owner):
    allow_api_changes(org, owner)
    _, token = scoped_key(org, owner, ["security:read", "security:write"])
    read = call("GET", SESSIONS, token)
    assert read.status_code == 200 and read.json()["etag"] == read["ETag"]
    idle = read.json()["idle_timeout_s"]
    response = call("PATCH", SESSIONS, token, {"idle_timeout_s": idle - 60}, **{"If-Match": read["ETag"]})
    assert response.status_code == 200, response.content
    assert response.json()["idle_timeout_s"] == idle - 60
    stale = call("PATCH", SESSIONS, token, {"single_session": True}, **{"If-Match": read["ETag"]})
    assert stale.status_code == 412
    bad = call("PATCH", SESSIONS, token, {"idle_timeout_s": 1}, **{"If-Match": response["ETag"]})
    assert bad.status_code == 400 and error_code(bad) == "out_of_bounds"
    assert AuditEvent.objects.filter(organization=org, action="session.policy_updated").count() == 1


KEY_POLICY = "/api/v1/orgs/acme/key-policy"


def test_key_policy_owners_only_as_on_the_page(org, owner, admin):
    allow_api_changes(org, owner)
    _, owners = scoped_key(org, owner, ["security:read", "security:write"])
    _, admins = scoped_key(org, admin, ["security:read", "security:write"])
    account = actions.create_service_account(org, actor=owner, name="tf")
    _, service = scoped_key(org, owner, ["security:read", "security:write"], service_account=account)
    read = call("GET", KEY_POLICY, admins)
    assert read.status_code == 200 and read.json()["max_lifetime_days"] is None
    body = {"require_expiry": True, "max_lifetime_days": 90, "allow_unrestricted": False}
    for token in (admins, service):
        refused = call("PUT", KEY_POLICY, token, body, **{"If-Match": read["ETag"]})
        assert refused.status_code == 403 and error_code(refused) == "role_not_allowed"
    done = call("PUT", KEY_POLICY, owners, body, **{"If-Match": read["ETag"]})
    assert done.status_code == 200 and done.json()["max_lifetime_days"] == 90
    assert call("PUT", KEY_POLICY, owners, body, **{"If-Match": read["ETag"]}).status_code == 412
    cleared = call("PATCH", KEY_POLICY, owners, {"max_lifetime_days": 0}, **{"If-Match": done["ETag"]})
    assert cleared.status_code == 200 and cleared.json()["max_lifetime_days"] is None
    event = AuditEvent.objects.filter(organization=org, action="key.policy_updated").first()
    assert event.actor_type == ActorType.API_KEY
