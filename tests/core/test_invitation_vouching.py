"""An invitation works only while its inviter could still send it, or after an owner or admin re-confirms it.

The member actions revoke such invitations as they remove or demote someone (test_attack_roles); these tests cover
every other way an inviter loses the right: the account deactivated or deleted, the membership removed or changed
outside those actions (as an identity system or an operator does)."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgsecurity import actions
from orgsecurity.models import Invitation, Membership, User
from orgsecurity.roles import Role
from tests.helpers.core import PASSWORD, add_member, make_user, refused_after_redirect

MEMBERS = "/orgs/acme/members/"


def deactivate(user: User) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


def delete_account(user: User) -> None:
    user.delete()


def remove_outside_the_actions(user: User) -> None:
    Membership.objects.filter(user=user).delete()


def demote_outside_the_actions(user: User) -> None:
    Membership.objects.filter(user=user).update(role=Role.MEMBER)


LOSSES = {
    "deactivated": (deactivate, "admin@acme.test, who sent it, is deactivated"),
    "deleted": (delete_account, "the account that sent it was deleted"),
    "removed": (remove_outside_the_actions, "admin@acme.test, who sent it, is no longer a member"),
    "demoted": (demote_outside_the_actions, "admin@acme.test, who sent it, may no longer invite as Admin"),
}


def join(token: str):
    """The invitee creates their account from the invitation link."""
    return Client().post(f"/invitations/{token}/", {"name": "New", "password1": PASSWORD, "password2": PASSWORD})


@pytest.mark.parametrize("loss", list(LOSSES))
def test_an_invitation_stops_working_when_its_inviter_can_no_longer_send_it(client_for, org, owner, admin, loss):
    # Issue 10 item 21: an invitation sent by a member who was later removed stayed valid.
    _, token = actions.invite_member(org, actor=admin, email="new@acme.test", role=Role.ADMIN)
    lose, reason = LOSSES[loss]
    lose(admin)

    page = Client().get(f"/invitations/{token}/")
    assert page.status_code == 403
    assert b"has to be confirmed again by an owner or admin of Acme Inc." in page.content
    assert b"Create account" not in page.content
    assert join(token).status_code == 403
    assert not User.objects.filter(email="new@acme.test").exists()  # no account made for a refused invitation

    members = client_for(owner).get(MEMBERS).content.decode()
    assert "Needs re-confirmation" in members and reason in members
    assert "/reconfirm/" in members


def test_acceptance_itself_refuses_an_invitation_nobody_vouches_for(org, owner, admin):
    # The check lives in the action too, so no other caller (a later API) can skip it.
    invitation, _ = actions.invite_member(org, actor=admin, email="new@acme.test", role=Role.MEMBER)
    deactivate(admin)
    newcomer = make_user("new@acme.test")
    with pytest.raises(actions.ActionRefused) as refused:
        actions.accept_invitation(invitation, user=newcomer)
    assert refused.value.code == "needs_reconfirmation" and refused.value.status == 403
    assert not Membership.objects.filter(user=newcomer).exists()


def test_an_admin_re_confirms_it_and_becomes_its_inviter(client_for, org, owner, admin):
    second = make_user("second.admin@acme.test")
    add_member(org, second, Role.ADMIN)
    invitation, token = actions.invite_member(org, actor=admin, email="new@acme.test", role=Role.MEMBER)
    deactivate(admin)

    response = client_for(second).post(f"/orgs/acme/invitations/{invitation.pk}/reconfirm/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.invited_by == second
    event = AuditEvent.objects.get(action="member.invitation_reconfirmed")
    assert event.actor_label == second.email
    assert event.changes == {"invited_by": [admin.email, second.email]}
    assert event.sentence == (
        "second.admin@acme.test re-confirmed the invitation for new@acme.test as member, sent by admin@acme.test "
        "(admin@acme.test, who sent it, is deactivated)"
    )
    assert "Needs re-confirmation" not in client_for(owner).get(MEMBERS).content.decode()
    assert join(token).status_code == 302
    assert Membership.objects.get(user__email="new@acme.test").role == Role.MEMBER

    # Re-confirming again is refused: it is valid now.
    browser = client_for(owner)
    again = browser.post(f"/orgs/acme/invitations/{invitation.pk}/reconfirm/")
    assert refused_after_redirect(browser, again)


def test_the_re_confirmer_vouches_only_while_they_could_send_it(org, owner, admin):
    second = make_user("second.admin@acme.test")
    add_member(org, second, Role.ADMIN)
    invitation, token = actions.invite_member(org, actor=admin, email="new@acme.test", role=Role.MEMBER)
    deactivate(admin)
    actions.reconfirm_invitation(invitation, actor=second)
    deactivate(second)
    assert join(token).status_code == 403


def test_only_someone_who_may_grant_the_role_re_confirms(client_for, org, owner, admin, member, outsider):
    boss = make_user("boss.owner@acme.test")
    add_member(org, boss, Role.OWNER)
    invitation, token = actions.invite_member(org, actor=boss, email="new@acme.test", role=Role.OWNER)
    deactivate(boss)
    url = f"/orgs/acme/invitations/{invitation.pk}/reconfirm/"
    assert "Re-confirm</button>" not in client_for(admin).get(MEMBERS).content.decode()
    browser = client_for(admin)
    refused = browser.post(url)
    assert refused_after_redirect(browser, refused, b"Only owners can re-confirm an invitation to be owner")
    assert client_for(member).post(url).status_code == 403
    assert client_for(outsider).post(url).status_code == 404
    assert not AuditEvent.objects.filter(action="member.invitation_reconfirmed").exists()
    assert client_for(owner).post(url).status_code == 302
    assert join(token).status_code == 302
    assert Membership.objects.get(user__email="new@acme.test").role == Role.OWNER


def test_a_valid_invitation_shows_as_valid_and_works(client_for, org, owner, admin):
    _, token = actions.invite_member(org, actor=admin, email="new@acme.test", role=Role.MEMBER)
    members = client_for(owner).get(MEMBERS).content.decode()
    assert "Needs re-confirmation" not in members and "/reconfirm/" not in members
    assert join(token).status_code == 302
    assert Invitation.objects.get().accepted_at is not None
