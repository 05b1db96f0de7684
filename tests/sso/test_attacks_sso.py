"""A hostile party with someone's signed-in session (no recent re-authentication) tries to turn SSO round trips
into a re-authentication or a standing way into that account."""

from __future__ import annotations

import pytest
from django.test import Client

from sso.models import SSOIdentity
from tests.helpers.sso import link_identity

BASE = "/orgs/acme/settings/security/sso/"


def stale(browser: Client) -> Client:
    """The session signed in a while ago: its re-authentication window has passed."""
    session = browser.session
    session["reauth_at"] = 0
    session.save()
    return browser


def test_a_test_session_answered_by_someone_elses_idp_account_is_not_a_re_authentication(
    client_for, connection, idp, admin, member
):
    link_identity(connection, admin, "adam-42")
    link_identity(connection, member, "mia-123")
    browser = client_for(admin)
    browser.post(f"{BASE}{connection.pk}/test/", {"session_seconds": "120"})
    stale(browser)  # the re-authentication window passes while at the IdP
    result = browser.get(idp.answer("mia-123"))  # the IdP signed in mia, not adam
    page = browser.get(result["Location"]).content.decode()
    assert "linked to member@acme.test, not to you" in page
    assert browser.session["reauth_at"] == 0
    assert browser.session["auth_method"] == "password"
    # A sensitive action still asks adam to prove who he is.
    response = browser.post(f"{BASE}{connection.pk}/status/", {"status": "off"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")


def test_linking_an_idp_identity_needs_a_recent_re_authentication(client_for, connection, idp, member):
    # Someone at mia's unlocked computer (or holding her session cookie) links their own IdP account to hers: it
    # would let them back in through SSO after she signs out or changes her password.
    browser = stale(client_for(member))
    response = browser.post(f"{BASE}link/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    assert idp.started == []
    assert not SSOIdentity.objects.exists()


def test_a_test_run_that_would_link_the_tester_needs_a_recent_re_authentication(client_for, connection, idp, admin):
    browser = stale(client_for(admin))
    response = browser.post(f"{BASE}{connection.pk}/test/", {"session_seconds": "120"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    assert idp.started == []
    assert not SSOIdentity.objects.exists()


def test_a_verified_domain_does_not_cover_a_different_international_domain(org, owner, other_org, outsider):
    # strasse.de and straße.de (xn--strae-oqa.de) are two domains with two owners (IDNA 2008, RFC 5891); the old
    # IDNA 2003 mapping folded the second into the first.
    from sso.domains import verification as domains
    from sso.rollout.enforcement import route_for_email
    from tests.helpers.core import make_user

    staff = make_user("staff@platform.test", is_staff=True)
    domains.verify_by_support(domains.claim(org, actor=owner, domain="strasse.de"), staff=staff, note="tests")
    assert domains.verified_domain_for("mia@strasse.de").organization == org
    assert domains.verified_domain_for("mia@straße.de") is None
    assert route_for_email("mia@straße.de").connection is None
    theirs = domains.claim(other_org, actor=outsider, domain="Straße.de")
    assert theirs.domain == "xn--strae-oqa.de"
    assert domains.verify_by_support(theirs, staff=staff, note="tests").is_verified


@pytest.mark.parametrize("length", [2001, 2048, 5000])
def test_a_next_path_too_long_to_keep_is_dropped_not_a_500(idp, connection, member, length):
    link_identity(connection, member, "mia-123")
    browser = Client(raise_request_exception=False)
    next_url = "/orgs/acme/" + "a" * (length - len("/orgs/acme/"))
    response = browser.get("/sso/acme/login/", {"next": next_url})
    assert response.status_code == 302 and response["Location"].startswith("https://idp.acme.test/")
    assert browser.get(idp.answer("mia-123"))["Location"] == "/orgs/acme/"
