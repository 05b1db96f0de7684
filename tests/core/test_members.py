"""Members management: invite by email, accept, change role, remove; last-owner and role guards."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from orgsecurity.models import Invitation, Membership, User
from orgsecurity.roles import Role
from sessions_policy import clock as session_clock
from tests.helpers.core import PASSWORD, add_member, make_user, refused_after_redirect, sign_in_client
from tests.helpers.sessions import FakeClock


def _invite(client: Client, email: str, role: str = "member"):
    return client.post("/orgs/acme/members/invite/", {"email": email, "role": role})


def _token_from_mail() -> str:
    match = re.search(r"/invitations/([\w-]+)/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_it_checks_access_to_the_members_page(client_for, owner, member, outsider):
    assert client_for(owner).get("/orgs/acme/members/").status_code == 200
    response = client_for(member).get("/orgs/acme/members/")
    assert response.status_code == 200
    assert b"Send invitation" not in response.content  # members see the list, not the controls
    assert client_for(outsider).get("/orgs/acme/members/").status_code == 404
    assert client_for(None).get("/orgs/acme/members/").status_code == 302


def test_it_checks_access_to_invite(client_for, owner, member, outsider):
    assert _invite(client_for(member), "new@acme.test").status_code == 403
    assert _invite(client_for(outsider), "new@acme.test").status_code == 404
    assert not Invitation.objects.exists()
    assert _invite(client_for(owner), "new@acme.test").status_code == 302
    assert Invitation.objects.count() == 1


def test_invitation_email_link_lets_a_new_person_join(client_for, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(client_for(owner), "  New.Person@Acme.test ", "admin")
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["new.person@acme.test"]
    assert "https://testserver/invitations/" in mail.outbox[-1].body
    token = _token_from_mail()

    visitor = Client()
    page = visitor.get(f"/invitations/{token}/")
    assert b"Create your account" in page.content
    response = visitor.post(
        f"/invitations/{token}/", {"name": "New Person", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/orgs/acme/"
    assert Membership.objects.get(user__email="new.person@acme.test").role == Role.ADMIN
    assert visitor.get("/orgs/acme/").status_code == 200
    # The link works once.
    assert Client().get(f"/invitations/{token}/").status_code == 404
    assert AuditEvent.objects.filter(action="member.joined", target_label__contains="new.person").exists()


def test_existing_account_signs_in_then_joins(client_for, owner, outsider, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(client_for(owner), outsider.email)
    token = _token_from_mail()
    assert b"You already have an account" in Client().get(f"/invitations/{token}/").content
    # Signed in as someone else: refused with a clear message, nothing saved.
    signed_in_as_owner = client_for(owner)
    response = signed_in_as_owner.post(f"/invitations/{token}/")
    assert refused_after_redirect(signed_in_as_owner, response, b"This invitation was sent to")
    assert client_for(outsider).post(f"/invitations/{token}/").status_code == 302
    assert Membership.objects.filter(user=outsider, organization__slug="acme").exists()


def test_an_idle_session_cannot_accept_an_invitation(client_for, owner, outsider, django_capture_on_commit_callbacks):
    # Attack: a session left idle past its organizations' timeout accepted invitations (and so joined
    # organizations) as its person, since the invitation page is outside /orgs/ and applied no session rules.
    with django_capture_on_commit_callbacks(execute=True):
        _invite(client_for(owner), outsider.email)
    token = _token_from_mail()
    fake = FakeClock(timezone.now())
    with session_clock.use(fake):
        idle = client_for(outsider)
        fake.advance(hours=2)
        response = idle.post(f"/invitations/{token}/")
    assert response.status_code == 401
    assert b"You were signed out after 30 minutes of inactivity." in response.content
    assert not Membership.objects.filter(user=outsider, organization__slug="acme").exists()
    assert Invitation.objects.get().accepted_at is None


def test_malformed_email_is_refused_next_to_the_field(client_for, owner):
    response = _invite(client_for(owner), "not-an-email")
    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
    assert not Invitation.objects.exists()


def test_duplicate_invitation_and_existing_member_are_refused(client_for, owner, member):
    client = client_for(owner)
    assert _invite(client, "new@acme.test").status_code == 302
    response = _invite(client, "NEW@acme.test")
    assert response.status_code == 409
    assert b"already has a pending invitation" in response.content
    response = _invite(client, member.email)
    assert response.status_code == 409
    assert b"already a member" in response.content
    assert Invitation.objects.count() == 1


def test_admins_cannot_invite_owners(client_for, admin):
    response = _invite(client_for(admin), "boss@acme.test", "owner")
    assert response.status_code == 400  # "owner" is not among the choices an admin gets
    assert not Invitation.objects.exists()


def test_revoked_invitation_stops_working(client_for, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(client_for(owner), "new@acme.test")
    token = _token_from_mail()
    invitation = Invitation.objects.get()
    assert client_for(owner).post(f"/orgs/acme/invitations/{invitation.pk}/revoke/").status_code == 302
    assert Client().get(f"/invitations/{token}/").status_code == 404


def test_admins_cannot_revoke_an_owner_invitation(client_for, owner, admin):
    """As admins cannot invite or remove owners, they cannot cancel an owner's invitation of a new owner."""
    assert _invite(client_for(owner), "boss@acme.test", "owner").status_code == 302
    assert _invite(client_for(owner), "dev@acme.test", "member").status_code == 302
    boss, dev = Invitation.objects.get(email="boss@acme.test"), Invitation.objects.get(email="dev@acme.test")
    browser = client_for(admin)
    response = browser.post(f"/orgs/acme/invitations/{boss.pk}/revoke/")
    assert refused_after_redirect(browser, response, b"Only owners can revoke an invitation to be owner")
    boss.refresh_from_db()
    assert boss.is_pending
    assert not AuditEvent.objects.filter(action="member.invitation_revoked").exists()
    assert client_for(admin).post(f"/orgs/acme/invitations/{dev.pk}/revoke/").status_code == 302
    assert client_for(owner).post(f"/orgs/acme/invitations/{boss.pk}/revoke/").status_code == 302


def test_change_role_records_old_and_new(client_for, owner, member):
    membership = Membership.objects.get(user=member)
    response = client_for(owner).post(f"/orgs/acme/members/{membership.pk}/role/", {"role": "auditor"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.AUDITOR
    event = AuditEvent.objects.filter(action="member.role_changed").get()
    assert event.changes == {"role": ["member", "auditor"]}
    assert event.actor_label == owner.email


def test_role_change_checks_access(client_for, owner, admin, member, outsider):
    membership = Membership.objects.get(user=admin)
    url = f"/orgs/acme/members/{membership.pk}/role/"
    assert client_for(member).post(url, {"role": "member"}).status_code == 403
    assert client_for(outsider).post(url, {"role": "member"}).status_code == 404
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_last_owner_cannot_be_demoted_or_removed(client_for, owner, org):
    membership = Membership.objects.get(user=owner)
    client = client_for(owner)
    response = client.post(f"/orgs/acme/members/{membership.pk}/role/", {"role": "admin"})
    assert refused_after_redirect(client, response, b"last owner")
    response = client.post(f"/orgs/acme/members/{membership.pk}/remove/")
    assert refused_after_redirect(client, response, b"last owner")
    membership.refresh_from_db()
    assert membership.role == Role.OWNER
    assert not AuditEvent.objects.filter(action__in=["member.role_changed", "member.removed"]).exists()


def test_a_deactivated_owner_does_not_count_as_the_other_owner(client_for, owner, org):
    """An owner whose account is deactivated cannot sign in, so the last active owner still cannot leave; the
    deactivated owner can be removed."""
    dormant = make_user("dormant@acme.test", is_active=False)
    add_member(org, dormant, Role.OWNER)
    client = client_for(owner)
    own = Membership.objects.get(user=owner)
    response = client.post(f"/orgs/acme/members/{own.pk}/role/", {"role": "admin"})
    assert refused_after_redirect(client, response, b"last owner")
    assert refused_after_redirect(client, client.post(f"/orgs/acme/members/{own.pk}/remove/"), b"last owner")
    dormant_membership = Membership.objects.get(user=dormant)
    assert client.post(f"/orgs/acme/members/{dormant_membership.pk}/remove/").status_code == 302
    assert Membership.objects.get(user=owner).role == Role.OWNER


def test_an_owner_can_step_down_when_another_owner_exists(client_for, owner, admin):
    client = client_for(owner)
    admin_membership = Membership.objects.get(user=admin)
    assert client.post(f"/orgs/acme/members/{admin_membership.pk}/role/", {"role": "owner"}).status_code == 302
    own = Membership.objects.get(user=owner)
    assert client.post(f"/orgs/acme/members/{own.pk}/role/", {"role": "member"}).status_code == 302
    own.refresh_from_db()
    assert own.role == Role.MEMBER


def test_admins_cannot_touch_owners(client_for, owner, admin):
    owner_membership = Membership.objects.get(user=owner)
    client = client_for(admin)
    assert refused_after_redirect(
        client, client.post(f"/orgs/acme/members/{owner_membership.pk}/role/", {"role": "member"})
    )
    assert refused_after_redirect(client, client.post(f"/orgs/acme/members/{owner_membership.pk}/remove/"))
    admin_membership = Membership.objects.get(user=admin)
    assert refused_after_redirect(
        client, client.post(f"/orgs/acme/members/{admin_membership.pk}/role/", {"role": "owner"})
    )
    assert Membership.objects.get(user=owner).role == Role.OWNER


def test_remove_member_and_member_leaving(client_for, owner, admin, member):
    membership = Membership.objects.get(user=admin)
    assert client_for(owner).post(f"/orgs/acme/members/{membership.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    event = AuditEvent.objects.get(action="member.removed")
    assert event.target_label.startswith("admin@acme.test")
    own = Membership.objects.get(user=member)
    response = client_for(member).post(f"/orgs/acme/members/{own.pk}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=own.pk).exists()


def test_a_member_removed_meanwhile_gets_a_sentence_not_a_500(owner, admin, member):
    # Attack (a race): two admins remove the same member, or one changes the role of a member another admin is
    # removing. The second request had loaded the membership before the first deleted it, and its action's
    # locked re-read raised DoesNotExist: a 500 page.
    from orgsecurity import actions

    stale = Membership.objects.get(user=member)
    actions.remove_member(Membership.objects.get(user=member), actor=owner)
    for attempt in (
        lambda: actions.remove_member(stale, actor=admin),
        lambda: actions.change_role(stale, actor=admin, role=Role.AUDITOR),
    ):
        with pytest.raises(actions.ActionRefused) as refused:
            attempt()
        assert refused.value.status == 404
        assert refused.value.message == "member@acme.test is no longer a member. Reload the members page."
    assert AuditEvent.objects.filter(action="member.removed").count() == 1


def test_member_cannot_remove_others(client_for, admin, member):
    membership = Membership.objects.get(user=admin)
    assert client_for(member).post(f"/orgs/acme/members/{membership.pk}/remove/").status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_members_of_another_org_are_404(client_for, owner, outsider, other_org):
    foreign = other_org.memberships.get()
    response = client_for(owner).post(f"/orgs/acme/members/{foreign.pk}/role/", {"role": "member"})
    assert response.status_code == 404
    assert client_for(owner).post(f"/orgs/acme/members/{foreign.pk}/remove/").status_code == 404
    assert Membership.objects.filter(pk=foreign.pk, role=Role.OWNER).exists()


def test_a_form_posted_without_csrf_gets_a_clear_403(owner, member):
    client = sign_in_client(Client(enforce_csrf_checks=True), owner)
    membership = Membership.objects.get(user=member)
    response = client.post(f"/orgs/acme/members/{membership.pk}/remove/")
    assert response.status_code == 403
    assert b"security token" in response.content
    assert Membership.objects.filter(pk=membership.pk).exists()


@pytest.mark.parametrize("token", ["nope", "x" * 43, "../../etc"])
def test_unknown_invitation_tokens_are_404(db, token):
    assert Client().get(f"/invitations/{token}/").status_code == 404


def test_user_emails_are_unique_without_case(db):
    make_user("Case@Acme.test")
    assert User.objects.get_by_natural_key("  CASE@acme.TEST ").email == "case@acme.test"
    with pytest.raises(Exception):  # noqa: B017 (IntegrityError, wrapped differently per backend)
        make_user("case@ACME.test")


def test_a_name_ending_in_a_period_does_not_get_a_second_one(client_for, org, member):
    """acme is "Acme Inc.": pages read "Your keys in Acme Inc." and never "Acme Inc.."."""
    browser = client_for(member)
    keys_page = browser.get("/orgs/acme/settings/security/keys/").content.decode()
    assert "Your keys in Acme Inc." in keys_page and "Acme Inc.." not in keys_page
    membership = org.memberships.get(user=member)
    page = browser.post(f"/orgs/acme/members/{membership.pk}/remove/", follow=True).content.decode()
    assert "You left Acme Inc." in page and "Acme Inc.." not in page
