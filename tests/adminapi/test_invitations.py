"""Invitations over the admin API: list the pending ones (never a token), invite by email once per
Idempotency-Key, revoke; the members page's refusals, and no key invites an owner."""

from __future__ import annotations

import pytest
from django.core import mail

from audit.models import ActorType, AuditEvent
from keys import actions
from orgsecurity.actions import invite_member
from orgsecurity.models import Invitation, Membership
from tests.helpers.adminapi import call, error_code, scoped_key
from tests.helpers.adminapi_org import auditor_token, member_token, outsider_token

INVITATIONS = "/api/v1/orgs/acme/invitations"
RW = ["members:read", "members:write"]


@pytest.fixture
def admins_key(org, admin):
    return scoped_key(org, admin, RW)


def test_invite_emails_the_link_once_per_idempotency_key(org, admin, admins_key, django_capture_on_commit_callbacks):
    key, token = admins_key
    body = {"email": "New.Person@example.test", "role": "member"}
    with django_capture_on_commit_callbacks(execute=True):
        first = call("POST", INVITATIONS, token, body, **{"Idempotency-Key": "invite-1"})
        replay = call("POST", INVITATIONS, token, body, **{"Idempotency-Key": "invite-1"})
    assert first.status_code == 201, first.content
    created = first.json()
    assert created["email"] == "new.person@example.test" and created["role"] == "member"
    assert created["invited_by"] == "admin@acme.test" and created["needs_reconfirmation"] is None
    assert replay.status_code == 201 and replay.json()["id"] == created["id"]
    assert Invitation.objects.filter(organization=org).count() == 1
    assert len(mail.outbox) == 1 and "admin@acme.test invited you" in mail.outbox[0].body
    assert "/invitations/" not in first.content.decode()  # the link is only in the email
    again = call("POST", INVITATIONS, token, body)
    assert again.status_code == 409 and error_code(again) == "already_invited"
    event = AuditEvent.objects.get(organization=org, action="member.invited")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label
    listing = call("GET", INVITATIONS, token)
    assert listing.status_code == 200 and [i["email"] for i in listing.json()["invitations"]] == [
        "new.person@example.test"
    ]


def test_the_pages_refusals_apply(org, owner, admin, member, admins_key):
    _, token = admins_key
    existing = call("POST", INVITATIONS, token, {"email": "member@acme.test", "role": "admin"})
    assert existing.status_code == 409 and error_code(existing) == "already_member"
    Membership.objects.filter(user=member).update(suspended_at="2026-01-01T00:00:00Z")
    suspended = call("POST", INVITATIONS, token, {"email": "member@acme.test", "role": "member"})
    assert suspended.status_code == 409 and error_code(suspended) == "member_suspended"


def test_no_key_invites_an_owner(org, owner):
    _, token = scoped_key(org, owner, RW)
    response = call("POST", INVITATIONS, token, {"email": "boss@example.test", "role": "owner"})
    assert response.status_code == 403 and error_code(response) == "owner_change_not_allowed"
    assert not Invitation.objects.exists()


def test_a_service_accounts_key_cannot_vouch_for_an_invitation(org, owner):
    account = actions.create_service_account(org, actor=owner, name="hr-sync")
    _, token = scoped_key(org, owner, RW, service_account=account)
    response = call("POST", INVITATIONS, token, {"email": "new@example.test", "role": "member"})
    assert response.status_code == 403 and error_code(response) == "role_not_allowed"
    assert not Invitation.objects.exists()
    assert call("GET", INVITATIONS, token).status_code == 200


def test_revoke_then_not_pending(org, owner, admin, admins_key):
    _, token = admins_key
    invitation, _ = invite_member(org, actor=admin, email="new@example.test", role="billing")
    response = call("POST", f"{INVITATIONS}/{invitation.pk}/revoke", token)
    assert response.status_code == 200 and response.json()["revoked_at"]
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is not None
    again = call("POST", f"{INVITATIONS}/{invitation.pk}/revoke", token)
    assert again.status_code == 409 and error_code(again) == "not_pending"
    assert call("GET", INVITATIONS, token).json()["invitations"] == []


def test_an_admins_key_cannot_revoke_an_owner_invitation(org, owner, admins_key):
    _, token = admins_key
    invitation, _ = invite_member(org, actor=owner, email="boss@example.test", role="owner")
    response = call("POST", f"{INVITATIONS}/{invitation.pk}/revoke", token)
    assert response.status_code == 403 and error_code(response) == "role_not_allowed"
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None


def test_a_link_whose_sender_left_is_listed_as_needing_reconfirmation(org, owner, admin, admins_key):
    invitation, _ = invite_member(org, actor=admin, email="new@example.test", role="member")
    _, token = scoped_key(org, owner, RW)
    Membership.objects.filter(user=admin).delete()
    listed = call("GET", INVITATIONS, token).json()["invitations"]
    assert [i["id"] for i in listed] == [invitation.pk]
    assert "no longer a member" in listed[0]["needs_reconfirmation"]


def test_access_matrix(org, owner, admin, member, other_org, outsider):
    theirs, _ = invite_member(other_org, actor=outsider, email="x@example.test", role="member")
    _, owners = scoped_key(org, owner, RW)
    assert call("GET", INVITATIONS, owners).status_code == 200
    for token in (member_token(org, member, ["members:read"]), auditor_token(org, ["members:read"])):
        response = call("GET", INVITATIONS, token)
        assert response.status_code == 403 and error_code(response) in {"role_not_allowed", "owner_role_not_allowed"}
    _, readonly = scoped_key(org, owner, ["members:read"])
    response = call("POST", INVITATIONS, readonly, {"email": "y@example.test", "role": "member"})
    assert response.status_code == 403 and error_code(response) == "scope_missing"
    assert error_code(call("GET", INVITATIONS, outsider_token(other_org, outsider, RW))) == "not_found"
    for path in (f"{INVITATIONS}/{theirs.pk}/revoke", f"{INVITATIONS}/999999/revoke"):
        response = call("POST", path, owners)
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert Invitation.objects.get(pk=theirs.pk).revoked_at is None
