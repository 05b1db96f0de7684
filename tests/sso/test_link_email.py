"""Linking checks the email the IdP asserted (issue 14, item 1): an owner who runs Test SSO and signs in at the IdP
as a colleague must not link the colleague's IdP identity to the owner's account.

A test that only checks never links; a link (Test SSO with a test session, or "Link SSO") whose asserted email is
not the account's waits for confirmation on a page that shows both emails; another member's email is refused;
identities linked with a different email are listed on the SSO page; every link is audited with both emails.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from sso.connections import actions
from sso.domains.verification import canonical_email
from sso.errors import SSOSignInRefused
from sso.models import SSOIdentity, SSOPendingLink, SSOTestRun
from tests.helpers.core import add_member, make_user
from tests.helpers.sso import link_identity, own_identity

BASE = "/orgs/acme/settings/security/sso/"
PRIVATE = "olivia.private@mail.test"  # the owner's own address at the IdP, not her account's, and nobody's here


def run_test(browser: Client, connection, session_seconds: int = 0):
    response = browser.post(f"{BASE}{connection.pk}/test/", {"session_seconds": str(session_seconds)})
    assert response.status_code == 302 and response["Location"].startswith("https://idp.acme.test/"), response
    return response


def start_link(browser: Client):
    response = browser.post(f"{BASE}link/")
    assert response.status_code == 302 and response["Location"].startswith("https://idp.acme.test/"), response
    return response


def held_url(held: SSOPendingLink) -> str:
    return f"{BASE}link/{held.pk}/"


# --- the example -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("session_seconds", [0, 120])
def test_a_test_run_signed_in_at_the_idp_as_a_colleague_links_nobody(
    idp, connection, client_for, owner, member, session_seconds
):
    owners_browser = client_for(owner)
    run_test(owners_browser, connection, session_seconds)
    finished = owners_browser.get(idp.answer("mia-123", email="member@acme.test"))  # the colleague, at the IdP
    page = owners_browser.get(finished["Location"]).content.decode()
    assert "SSO test: Succeeded" in page  # the IdP's answer itself was fine
    assert "member@acme.test" in page and "owner@acme.test" in page
    assert not SSOIdentity.objects.exists()
    assert owners_browser.session["auth_method"] == "password"  # no test session as the colleague either
    # The colleague's next SSO sign-in does not land as the owner.
    colleague = Client()
    colleague.get("/sso/acme/login/")
    response = colleague.get(idp.answer("mia-123", email="member@acme.test"))
    assert response.status_code == 403
    assert colleague.get("/orgs/acme/").status_code == 302
    assert (
        not AuditEvent.objects.filter(action="auth.signed_in", actor_label=owner.email)
        .exclude(details__method="password")
        .exists()
    )


def test_a_check_only_test_never_links_even_the_testers_own_identity(idp, connection, client_for, owner):
    browser = client_for(owner)
    run_test(browser, connection, 0)
    page = browser.get(browser.get(idp.answer("olivia", email=owner.email))["Location"]).content.decode()
    assert "never links an account" in page
    assert not SSOIdentity.objects.exists() and not SSOPendingLink.objects.exists()
    assert not AuditEvent.objects.filter(action="sso.identity_linked").exists()


# --- another member's email: always refused ------------------------------------------------------------------------


@pytest.mark.parametrize("asserted", ["member@acme.test", "Member@ACME.test", "member@acme.test."])
def test_a_test_session_answered_with_another_members_email_is_refused_and_audited(
    idp, connection, client_for, owner, member, asserted
):
    browser = client_for(owner)
    run_test(browser, connection, 120)
    result = browser.get(idp.answer("mia-123", email=asserted))
    assert result["Location"] == actions.test_run_url(SSOTestRun.objects.get())  # no confirmation offered
    page = browser.get(result["Location"]).content.decode()
    assert "another member of Acme Inc." in page and "Their IdP account cannot be linked to yours" in page
    assert not SSOIdentity.objects.exists() and not SSOPendingLink.objects.exists()
    assert browser.session["auth_method"] == "password"
    event = AuditEvent.objects.get(action="sso.identity_link_refused")
    assert event.details["account_email"] == "owner@acme.test" and event.details["asserted_email"] == asserted.lower()
    assert event.details["reason"] == "email_of_other_member" and event.actor_label == owner.email


def test_link_sso_with_another_members_email_ends_on_a_clear_page(idp, connection, client_for, admin, member):
    browser = client_for(member)
    start_link(browser)
    response = browser.get(idp.answer("adam-42", email="admin@acme.test"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "admin@acme.test, who is another member of Acme Inc., not you (member@acme.test)" in page
    assert not SSOIdentity.objects.exists() and not SSOPendingLink.objects.exists()
    event = AuditEvent.objects.get(action="sso.identity_link_refused")
    assert (event.details["account_email"], event.details["asserted_email"]) == ("member@acme.test", "admin@acme.test")


def test_the_action_refuses_another_members_email_even_when_confirmed(connection, owner, member):
    identity = own_identity(connection, member, "mia-123")  # asserts member@acme.test
    with pytest.raises(SSOSignInRefused) as refused:
        actions.link_identity(connection, owner, identity, actor=owner, via="tests", confirmed_email=member.email)
    assert refused.value.code == "email_of_other_member"
    assert not SSOIdentity.objects.exists()
    assert AuditEvent.objects.filter(action="sso.identity_link_refused").count() == 1


def test_the_action_refuses_a_different_email_without_confirmation(connection, owner):
    identity = own_identity(connection, make_user(PRIVATE), "olivia")
    with pytest.raises(SSOSignInRefused) as refused:
        actions.link_identity(connection, owner, identity, actor=owner, via="tests")
    assert refused.value.code == "email_not_confirmed" and refused.value.status == 409
    assert not SSOIdentity.objects.exists()


# --- a different email: confirmation on a page with both side by side ------------------------------------------------


def test_a_test_session_with_a_different_email_asks_for_confirmation_then_links(idp, connection, client_for, owner):
    browser = client_for(owner)
    run_test(browser, connection, 120)
    response = browser.get(idp.answer("olivia", email=PRIVATE))
    held = SSOPendingLink.objects.get()
    assert response["Location"] == held_url(held)
    assert not SSOIdentity.objects.exists()  # nothing linked before the answer
    assert SSOTestRun.objects.get().result == "success"
    page = browser.get(held_url(held))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Your account here" in text and "Signed in at the IdP" in text
    assert f"<td><strong>{owner.email}</strong></td><td><strong>{PRIVATE}</strong></td>" in text  # side by side
    assert not SSOIdentity.objects.exists()  # showing the page changed nothing

    response = browser.post(held_url(held), {"answer": "link"})
    run = SSOTestRun.objects.get()
    assert response["Location"] == actions.test_run_url(run)
    linked = SSOIdentity.objects.get(user=owner)
    assert linked.subject == "olivia" and linked.asserted_email == PRIVATE
    event = AuditEvent.objects.get(action="sso.identity_linked")
    assert event.details["account_email"] == owner.email and event.details["asserted_email"] == PRIVATE
    assert event.details["email_confirmed"] is True and event.details["via"] == "test, confirmed"
    assert browser.session["auth_method"] == "saml"  # the test session starts once linked
    assert "sso_test_session" in browser.session
    assert "Linked after confirmation" in browser.get(actions.test_run_url(run)).content.decode()

    # Post/redirect/get: sending the form again links nothing more.
    again = browser.post(held_url(held), {"answer": "link"})
    assert again.status_code == 410 and "already answered" in again.content.decode()
    assert AuditEvent.objects.filter(action="sso.identity_linked").count() == 1


def test_link_sso_with_a_different_email_can_be_declined(idp, connection, client_for, member):
    browser = client_for(member)
    start_link(browser)
    response = browser.get(idp.answer("mia-123", email="mia@home.test"))
    held = SSOPendingLink.objects.get()
    assert response["Location"] == held_url(held)
    text = browser.get(held_url(held)).content.decode()
    assert "member@acme.test" in text and "mia@home.test" in text
    response = browser.post(held_url(held), {"answer": "decline"})
    assert response["Location"] == BASE
    assert not SSOIdentity.objects.exists()
    event = AuditEvent.objects.get(action="sso.identity_link_declined")
    assert (event.details["account_email"], event.details["asserted_email"]) == ("member@acme.test", "mia@home.test")
    assert browser.post(held_url(held), {"answer": "link"}).status_code == 410
    assert not SSOIdentity.objects.exists()


def test_link_sso_without_an_email_asks_for_confirmation(idp, connection, client_for, member):
    browser = client_for(member)
    start_link(browser)
    held_page = browser.get(idp.answer("mia-123"))["Location"]
    assert "(no email sent)" in browser.get(held_page).content.decode()
    assert browser.post(held_page, {"answer": "link"})["Location"] == BASE
    linked = SSOIdentity.objects.get(user=member)
    assert linked.asserted_email == "" and linked.asserted_email_at is not None


def test_a_confirmation_is_for_the_browser_and_person_that_started_it(idp, connection, client_for, owner, member):
    browser = client_for(owner)
    start_link(browser)
    held_page = browser.get(idp.answer("olivia", email=PRIVATE))["Location"]
    other_browser = client_for(owner)  # the same person, another session
    response = other_browser.post(held_page, {"answer": "link"})
    assert response.status_code == 410 and "started in another browser" in response.content.decode()
    assert client_for(member).get(held_page).status_code == 404
    assert not SSOIdentity.objects.exists()
    assert browser.get(held_page).status_code == 200  # still waiting for the one who started it


def test_it_checks_access(idp, connection, client_for, owner, member, outsider):
    browser = client_for(owner)
    start_link(browser)
    held_page = browser.get(idp.answer("olivia", email=PRIVATE))["Location"]
    assert browser.get(held_page).status_code == 200
    assert client_for(member).get(held_page).status_code == 404
    assert client_for(member).post(held_page, {"answer": "link"}).status_code == 404
    assert client_for(outsider).get(held_page).status_code == 404
    assert Client().get(held_page).status_code == 302  # to sign-in
    assert not SSOIdentity.objects.exists()


def test_a_confirmation_expires(idp, connection, client_for, owner):
    browser = client_for(owner)
    start_link(browser)
    held_page = browser.get(idp.answer("olivia", email=PRIVATE))["Location"]
    SSOPendingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "expired" in browser.get(held_page).content.decode()
    response = browser.post(held_page, {"answer": "link"})
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert not SSOIdentity.objects.exists()


def test_confirming_needs_a_recent_re_authentication(idp, connection, client_for, owner):
    browser = client_for(owner)
    start_link(browser)
    held_page = browser.get(idp.answer("olivia", email=PRIVATE))["Location"]
    session = browser.session
    session["reauth_at"] = 0
    session.save()
    response = browser.post(held_page, {"answer": "link"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    assert not SSOIdentity.objects.exists()


def test_someone_who_joined_with_the_email_meanwhile_makes_the_confirmation_fail(
    idp, connection, client_for, org, owner
):
    browser = client_for(owner)
    start_link(browser)
    held_page = browser.get(idp.answer("olivia", email=PRIVATE))["Location"]
    add_member(org, make_user(PRIVATE), "member")
    response = browser.post(held_page, {"answer": "link"})
    assert response.status_code == 302
    assert "another member of Acme Inc." in browser.get(response["Location"]).content.decode()
    assert not SSOIdentity.objects.exists()
    assert SSOPendingLink.objects.get().outcome == "refused"
    assert AuditEvent.objects.filter(action="sso.identity_link_refused").exists()


# --- the same email: linked as before ------------------------------------------------------------------------------


@pytest.mark.parametrize("asserted", ["owner@acme.test", " Owner@Acme.TEST", "owner@acme.test."])
def test_a_test_session_with_the_testers_own_email_links_at_once(idp, connection, client_for, owner, asserted):
    browser = client_for(owner)
    run_test(browser, connection, 120)
    result = browser.get(idp.answer("olivia", email=asserted))
    assert result["Location"] == actions.test_run_url(SSOTestRun.objects.get())
    assert "Your account is now linked" in browser.get(result["Location"]).content.decode()
    assert SSOIdentity.objects.get(user=owner).subject == "olivia"
    assert not SSOPendingLink.objects.exists()
    event = AuditEvent.objects.get(action="sso.identity_linked")
    assert event.details["account_email"] == "owner@acme.test" and event.details["email_confirmed"] is False
    assert browser.session["auth_method"] == "saml"


def test_emails_compare_in_their_canonical_form():
    assert canonical_email(" Mia@Straße.DE. ") == canonical_email("mia@xn--strae-oqa.de") == "mia@xn--strae-oqa.de"
    assert canonical_email("mia@strasse.de") != canonical_email("mia@straße.de")  # two domains (IDNA 2008)
    assert canonical_email("Mia@ACME.test") == "mia@acme.test"
    assert canonical_email("mia.x@acme.test") != canonical_email("miax@acme.test")
    assert canonical_email("") == "" and canonical_email("no-at-sign") == "no-at-sign"


# --- review on the SSO page --------------------------------------------------------------------------------------


def test_identities_linked_with_another_email_are_listed_for_review(
    idp, connection, client_for, org, owner, admin, member
):
    link_identity(connection, admin, "adam-42")  # the IdP asserted admin@acme.test: nothing to review
    browser = client_for(member)
    start_link(browser)
    browser.post(browser.get(idp.answer("mia-123", email="mia@home.test"))["Location"], {"answer": "link"})
    legacy = make_user("legacy@acme.test")
    add_member(org, legacy, "member")
    old = link_identity(connection, legacy, "lee-1")
    SSOIdentity.objects.filter(pk=old.pk).update(
        asserted_email="", asserted_email_at=None
    )  # linked before emails were kept

    page = client_for(owner).get(BASE).content.decode()
    review = page.split('id="review"')[1]
    assert "member@acme.test" in review and "mia@home.test" in review
    assert "legacy@acme.test" in review and "unknown email" in review
    assert "admin@acme.test" not in review
    assert 'id="review"' not in client_for(member).get(BASE).content.decode()  # managers review


def test_a_sign_in_refreshes_the_email_the_idp_sends(idp, connection, member):
    linked = link_identity(connection, member, "mia-123")
    SSOIdentity.objects.filter(pk=linked.pk).update(asserted_email="", asserted_email_at=None)
    browser = Client()
    browser.get("/sso/acme/login/")
    assert browser.get(idp.answer("mia-123", email="mia@renamed.test")).status_code == 302
    linked.refresh_from_db()
    assert linked.asserted_email == "mia@renamed.test" and linked.asserted_email_at is not None
