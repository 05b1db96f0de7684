"""The shared SSO flow: sign in, link, test and re-authenticate through a connection; refusals never sign in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from orgsecurity.models import Membership, User
from sso.connections import actions
from sso.models import SSOIdentity, SSOPendingLogin, SSOTestRun
from sso.signin import flow
from tests.helpers.sso import own_identity


def link(connection, user, subject):
    return actions.link_identity(connection, user, own_identity(connection, user, subject), actor=user, via="tests")


def start_login(client: Client, org_slug: str = "acme", next_url: str = "") -> None:
    response = client.get(f"/sso/{org_slug}/login/", {"next": next_url} if next_url else {})
    assert response.status_code == 302
    assert response["Location"].startswith("https://idp.acme.test/")


def test_a_linked_member_signs_in_through_the_idp(idp, connection, member):
    link(connection, member, "mia-123")
    browser = Client()
    start_login(browser, next_url="/orgs/acme/members/")
    response = browser.get(idp.answer("mia-123"))
    assert response["Location"] == "/orgs/acme/members/"
    assert browser.get("/orgs/acme/").status_code == 200
    assert browser.session["auth_method"] == "saml"
    event = AuditEvent.objects.filter(action="auth.signed_in").latest("seq")
    assert event.details == {"method": "saml"} and event.actor_label == member.email
    assert SSOIdentity.objects.get(user=member).last_login_at is not None


def test_an_unknown_identity_with_an_existing_email_is_not_taken_over(idp, connection, member):
    browser = Client()
    start_login(browser)
    response = browser.get(idp.answer("attacker-controlled", email=member.email))
    assert response.status_code == 403
    assert b"is not linked to this IdP identity yet" in response.content
    assert browser.get("/orgs/acme/").status_code == 302
    assert not SSOIdentity.objects.exists()


def test_no_jit_means_no_new_accounts(idp, connection):
    browser = Client()
    start_login(browser)
    response = browser.get(idp.answer("newbie", email="newbie@acme.test"))
    assert response.status_code == 403
    assert b"does not create accounts on first sign-in" in response.content
    assert not User.objects.filter(email="newbie@acme.test").exists()


def test_jit_creates_a_member_with_the_default_role(idp, connection, owner, acme_domain):
    actions.update_connection(connection, actor=owner, allow_jit=True, jit_default_role="auditor")
    browser = Client()
    start_login(browser)
    browser.get(idp.answer("newbie", email="Newbie@Acme.test"))
    user = User.objects.get(email="newbie@acme.test")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user).role == "auditor"
    assert SSOIdentity.objects.get(user=user).subject == "newbie"
    assert browser.get("/orgs/acme/").status_code == 200


def test_jit_needs_an_email_the_idp_vouches_for(idp, connection, owner, acme_domain):
    actions.update_connection(connection, actor=owner, allow_jit=True)
    browser = Client()
    start_login(browser)
    response = browser.get(idp.answer("newbie", email="newbie@acme.test", verified=False))
    assert response.status_code == 403
    assert not User.objects.filter(email="newbie@acme.test").exists()


def test_a_former_member_is_refused(idp, connection, owner, member):
    link(connection, member, "mia-123")
    from orgsecurity import actions as org_actions

    org_actions.remove_member(Membership.objects.get(user=member), actor=owner)
    browser = Client()
    start_login(browser)
    response = browser.get(idp.answer("mia-123"))
    assert response.status_code == 403
    assert b"not a member of Acme Inc." in response.content


def test_sso_sign_in_is_closed_while_the_connection_is_off(idp, connection, owner, member):
    link(connection, member, "mia-123")
    browser = Client()
    start_login(browser)
    actions.set_status(connection, actor=owner, status="off")
    response = browser.get(idp.answer("mia-123"))
    assert response.status_code == 403
    assert b"turned off" in response.content
    assert Client().get("/sso/acme/login/").status_code == 404


def test_an_answer_finished_in_another_browser_is_refused(idp, connection, member):
    link(connection, member, "mia-123")
    start_login(Client())
    response = Client().get(idp.answer("mia-123"))  # login CSRF: the answer is carried to a victim's browser
    assert response.status_code == 400
    assert b"started in another browser" in response.content


def test_answers_are_used_once(idp, connection, member):
    link(connection, member, "mia-123")
    browser = Client()
    start_login(browser)
    finish_url = idp.answer("mia-123")
    assert browser.get(finish_url).status_code == 302
    assert Client().get(finish_url).status_code == 400
    pending = idp.started[-1][0]
    with pytest.raises(flow.SSOSignInRefused, match="already used"):
        flow.claim(connection, pending.key)


def test_answers_to_unknown_or_other_orgs_requests_are_refused(idp, connection, other_org, owner):
    with pytest.raises(flow.SSOSignInRefused, match="does not match any sign-in started here"):
        flow.claim(connection, "_never-issued")
    start_login(Client())
    pending = idp.started[-1][0]
    other = actions.create_connection(other_org, actor=other_org.memberships.get().user, protocol="saml")
    with pytest.raises(flow.SSOSignInRefused, match="does not match"):
        flow.claim(other, pending.key)


def test_expired_requests_are_refused(idp, connection):
    start_login(Client())
    pending = idp.started[-1][0]
    SSOPendingLogin.objects.filter(pk=pending.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(flow.SSOSignInRefused, match="expired"):
        flow.claim(connection, pending.key)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/orgs/acme/", "/orgs/acme/"),
        ("https://evil.test/", ""),
        ("//evil.test/x", ""),
        ("/\\evil.test", ""),
        ("javascript:alert(1)", ""),
        ("", ""),
    ],
)
def test_only_same_origin_paths_are_used_as_next(candidate, expected):
    assert flow.safe_next_url(candidate, "") == expected


def test_a_member_links_their_account_after_confirming(idp, connection, client_for, member):
    browser = client_for(member)
    response = browser.post("/orgs/acme/settings/security/sso/link/")
    assert response["Location"].startswith("https://idp.acme.test/")
    response = browser.get(idp.answer("mia-123", email="Member@ACME.test"))  # their own email, any case
    assert response["Location"] == "/orgs/acme/settings/security/sso/"
    assert SSOIdentity.objects.get(user=member).subject == "mia-123"
    event = AuditEvent.objects.get(action="sso.identity_linked", details__via="confirmed link")
    assert (
        event.details["account_email"] == "member@acme.test" and event.details["asserted_email"] == "member@acme.test"
    )
    assert event.details["email_confirmed"] is False
    # Later, the IdP alone signs them in.
    fresh = Client()
    start_login(fresh)
    assert fresh.get(idp.answer("mia-123")).status_code == 302
    assert fresh.get("/orgs/acme/").status_code == 200


def test_an_identity_linked_to_someone_else_cannot_be_linked_again(idp, connection, client_for, admin, member):
    link(connection, admin, "shared-id")
    browser = client_for(member)
    browser.post("/orgs/acme/settings/security/sso/link/")
    response = browser.get(idp.answer("shared-id"))
    assert response.status_code == 403
    assert b"already linked to another person" in response.content
    assert not SSOIdentity.objects.filter(user=member).exists()


def test_a_check_only_test_shows_what_came_back_and_links_nobody(idp, connection, client_for, admin):
    browser = client_for(admin)
    response = browser.post(f"/orgs/acme/settings/security/sso/{connection.pk}/test/")
    assert response.status_code == 302
    run = SSOTestRun.objects.get()
    assert run.result == "pending"
    result = browser.get(browser.get(idp.answer("adam-42", email="admin@acme.test"))["Location"])
    assert result.status_code == 200
    run.refresh_from_db()
    assert run.result == "success"
    page = result.content.decode()
    assert "adam-42" in page and "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" in page
    assert "admin@acme.test" in page and "mail" in page
    assert "a test that only checks what the IdP sends never links an account" in page
    assert not SSOIdentity.objects.exists()  # even with the admin's own email: only a test session links
    assert AuditEvent.objects.filter(action="sso.tested", details__result="success").exists()


def test_test_pages_check_access(idp, connection, client_for, owner, member, outsider):
    url = f"/orgs/acme/settings/security/sso/{connection.pk}/test/"
    assert client_for(member).post(url).status_code == 403
    assert client_for(outsider).post(url).status_code == 404
    assert not SSOTestRun.objects.exists()


def test_reauthentication_needs_a_fresh_login_by_the_same_person(idp, connection, member, settings):
    link(connection, member, "mia-123")
    browser = Client()
    start_login(browser)
    browser.get(idp.answer("mia-123"))
    session = browser.session
    session["reauth_at"] = 0
    session.save()
    response = browser.get("/accounts/reauthenticate/", {"next": "/orgs/acme/members/"})
    assert response["Location"].startswith("https://idp.acme.test/")
    assert idp.started[-1][1] is True  # force_authn asked of the IdP
    stale = datetime.now(UTC) - timedelta(minutes=30)
    response = browser.get(idp.answer("mia-123", authenticated_at=stale))
    assert response.status_code == 403
    assert b"did not ask you to sign in again" in response.content
    browser.get("/accounts/reauthenticate/", {"next": "/orgs/acme/members/"})
    response = browser.get(idp.answer("mia-123"))
    assert response["Location"] == "/orgs/acme/members/"
    assert browser.session["reauth_at"] > 0


def test_reauthentication_as_someone_else_is_refused(idp, connection, admin, member):
    link(connection, member, "mia-123")
    link(connection, admin, "adam-42")
    browser = Client()
    start_login(browser)
    browser.get(idp.answer("mia-123"))
    browser.get("/accounts/reauthenticate/", {"next": "/"})
    response = browser.get(idp.answer("adam-42"))
    assert response.status_code == 403
    assert b"different person" in response.content


def test_reauthentication_of_an_sso_session_whose_connection_is_gone_says_sign_in_again(idp, connection, member):
    link(connection, member, "mia-123")
    browser = Client()
    start_login(browser)
    browser.get(idp.answer("mia-123"))
    connection.delete()
    response = browser.get("/accounts/reauthenticate/", {"next": "/orgs/acme/members/"})
    assert response.status_code == 403
    assert b"no longer exists. Sign out and sign in again." in response.content
