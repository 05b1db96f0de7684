"""An SSO sign-in through one organization's IdP opens that organization only: the same person's other
organizations need their own SSO or the account's password (else one organization's IdP could act as that person
everywhere)."""

from __future__ import annotations

from django.test import Client

from audit.models import AuditEvent
from tests.helpers.core import PASSWORD, add_member
from tests.sso.test_flow import link, start_login


def sso_signed_in(idp, connection, user, subject: str) -> Client:
    link(connection, user, subject)
    browser = Client()
    start_login(browser)
    assert browser.get(idp.answer(subject)).status_code == 302
    return browser


def test_an_sso_session_opens_its_own_organization_only(idp, connection, member, other_org):
    add_member(other_org, member, "admin")
    browser = sso_signed_in(idp, connection, member, "mia-123")
    assert browser.get("/orgs/acme/").status_code == 200
    refused = browser.get("/orgs/globex/members/")
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "another organization&#x27;s identity provider" in page
    assert "/accounts/reauthenticate/?next=%2Forgs%2Fglobex%2Fmembers%2F&amp;method=password" in page
    assert AuditEvent.objects.filter(action="sso.foreign_sso_session_refused", organization=other_org).exists()
    json = browser.get("/orgs/globex/", HTTP_ACCEPT="application/json")
    assert json.status_code == 403 and json.json()["error"]["code"] == "sign_in_required"


def test_proving_the_password_opens_the_other_organizations(idp, connection, member, other_org):
    add_member(other_org, member, "member")
    browser = sso_signed_in(idp, connection, member, "mia-123")
    form = browser.get("/accounts/reauthenticate/", {"next": "/orgs/globex/", "method": "password"})
    assert form.status_code == 200 and b'name="method" value="password"' in form.content
    wrong = browser.post("/accounts/reauthenticate/", {"next": "/orgs/globex/", "method": "password", "password": "x"})
    assert wrong.status_code == 400
    assert browser.get("/orgs/globex/").status_code == 403
    done = browser.post(
        "/accounts/reauthenticate/", {"next": "/orgs/globex/", "method": "password", "password": PASSWORD}
    )
    assert done["Location"] == "/orgs/globex/"
    assert browser.get("/orgs/globex/").status_code == 200
    assert browser.get("/orgs/acme/").status_code == 200


def test_password_sessions_open_every_organization_that_allows_passwords(member, other_org):
    add_member(other_org, member, "member")
    browser = Client()
    browser.post("/accounts/login/", {"username": member.email, "password": PASSWORD})
    assert browser.get("/orgs/acme/").status_code == 200
    assert browser.get("/orgs/globex/").status_code == 200


def test_the_other_organizations_own_sso_is_offered(idp, connection, member, other_org):
    from sso.connections import actions

    add_member(other_org, member, "member")
    globex_owner = other_org.memberships.get(role="owner").user
    theirs = actions.create_connection(other_org, actor=globex_owner, protocol="saml", name="Globex IdP")
    actions.set_status(theirs, actor=globex_owner, status="testing")
    browser = sso_signed_in(idp, connection, member, "mia-123")
    assert "/sso/globex/login/" not in browser.get("/orgs/globex/").content.decode()  # not in the test group yet
    actions.set_status(theirs, actor=globex_owner, status="on")
    page = browser.get("/orgs/globex/").content.decode()
    assert "Sign in with Globex Corp.'s SSO" in page and "/sso/globex/login/?next=%2Forgs%2Fglobex%2F" in page
