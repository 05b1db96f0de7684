"""Privilege escalation between roles: invitations that outlive their sender's right to grant the role."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client

from audit.models import AuditEvent
from orgsecurity.models import Invitation, Membership
from orgsecurity.roles import Role
from tests.helpers.core import PASSWORD, add_member, make_user


def _token_from_mail() -> str:
    match = re.search(r"/invitations/([\w-]+)/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_an_owner_invitation_dies_when_its_sender_is_demoted_to_admin(
    client_for, org, owner, django_capture_on_commit_callbacks
):
    second = make_user("second@acme.test")
    add_member(org, second, Role.OWNER)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(second).post("/orgs/acme/members/invite/", {"email": "new@acme.test", "role": "owner"})
    assert response.status_code == 302
    token = _token_from_mail()
    demoted = Membership.objects.get(organization=org, user=second)
    response = client_for(owner).post(f"/orgs/acme/members/{demoted.pk}/role/", {"role": "admin"})
    assert response.status_code == 302

    # An admin may not grant the owner role, so an owner invitation they sent while an owner no longer works.
    assert Invitation.objects.get(email="new@acme.test").revoked_at is not None
    visitor = Client()
    response = visitor.post(f"/invitations/{token}/", {"name": "New", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 404
    assert not Membership.objects.filter(organization=org, user__email="new@acme.test").exists()
    event = AuditEvent.objects.filter(action="member.invitation_revoked").get()
    assert event.details == {"reason": "its sender may no longer grant its role"}
    assert event.actor_label == "owner@acme.test"


def test_an_owner_demoted_to_admin_keeps_the_invitations_an_admin_may_send(
    client_for, org, owner, django_capture_on_commit_callbacks
):
    second = make_user("second@acme.test")
    add_member(org, second, Role.OWNER)
    client_for(second).post("/orgs/acme/members/invite/", {"email": "new@acme.test", "role": "admin"})
    demoted = Membership.objects.get(organization=org, user=second)
    client_for(owner).post(f"/orgs/acme/members/{demoted.pk}/role/", {"role": "admin"})
    assert Invitation.objects.get(email="new@acme.test").is_pending


def test_a_pending_invitation_dies_when_its_invitee_joins_another_way(client_for, org, owner):
    """Invited as admin, then added as a member by just-in-time SSO provisioning: the invitation must not stay
    usable, or the person could leave (or be removed) and come back as admin with it."""
    from orgsecurity import actions

    _, token = actions.invite_member(org, actor=owner, email="bob@acme.test", role=Role.ADMIN)
    bob = make_user("bob@acme.test")
    add_member(org, bob, Role.MEMBER)  # as sso.signin.login.provision does for JIT provisioning

    invitation = Invitation.objects.get(email="bob@acme.test")
    assert invitation.revoked_at is not None
    event = AuditEvent.objects.get(action="member.invitation_revoked")
    assert event.details == {"reason": "its invitee became a member another way"}
    assert "Pending invitations" not in client_for(owner).get("/orgs/acme/members/").content.decode()

    bob_client = client_for(bob)
    membership = Membership.objects.get(organization=org, user=bob)
    assert bob_client.post(f"/orgs/acme/members/{membership.pk}/remove/").status_code == 302
    assert bob_client.post(f"/invitations/{token}/").status_code == 404
    assert not Membership.objects.filter(organization=org, user=bob).exists()
