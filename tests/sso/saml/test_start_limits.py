"""Anonymous GETs of an organization's SAML login URL: limited per client network, a refused start stores nothing
(no pending login, no session), and an accepted one leaves a session that lives only as long as its sign-in can."""

from __future__ import annotations

import html
from datetime import timedelta

from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from sso.models import SSOPendingLogin
from sso.signin.flow import FINISH_TTL, PENDING_TTL
from tests.helpers.saml import finish_in, post_to_acs, start
from tests.sso.saml.test_acs import answer, link

SAML_LOGIN = "/sso/acme/saml/login/"


def anonymous_get(path: str = SAML_LOGIN, ip: str = "198.51.100.7"):
    """A GET from a browser with no cookies (a script), from ``ip``."""
    return Client().get(path, REMOTE_ADDR=ip)


def stored() -> tuple[int, int]:
    return SSOPendingLogin.objects.count(), Session.objects.count()


def test_starts_beyond_the_limit_from_one_address_are_refused_and_store_nothing(test_idp, saml_connection, settings):
    settings.SSO_START_LIMIT = 3
    for _ in range(3):
        response = anonymous_get()
        assert response.status_code == 302 and response["Location"].startswith(test_idp.sso_url)
    assert stored() == (3, 3)
    events = AuditEvent.objects.count()

    for _ in range(20):
        response = anonymous_get()
        assert response.status_code == 429
        assert 1 <= int(response["Retry-After"]) <= settings.SSO_START_WINDOW_SECONDS
        page = html.unescape(response.content.decode())
        assert "Too many sign-ins were started from your network" in page and "try again" in page
        assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert stored() == (3, 3)
    assert AuditEvent.objects.count() == events  # a flood writes no audit rows either


def test_other_networks_can_still_start(test_idp, saml_connection, settings):
    settings.SSO_START_LIMIT = 2
    for _ in range(3):
        anonymous_get(ip="198.51.100.7")
    assert anonymous_get(ip="198.51.100.7").status_code == 429
    assert anonymous_get(ip="203.0.113.9").status_code == 302


def test_ipv6_clients_are_counted_per_64_not_per_address(test_idp, saml_connection, settings):
    settings.SSO_START_LIMIT = 2
    # One client can use a new address of its /64 for every request.
    assert anonymous_get(ip="2001:db8:1:2::1").status_code == 302
    assert anonymous_get(ip="2001:db8:1:2::2").status_code == 302
    assert anonymous_get(ip="2001:db8:1:2:aaaa::3").status_code == 429
    assert anonymous_get(ip="2001:db8:1:3::1").status_code == 302  # the next /64 is someone else


def test_every_start_url_counts_against_the_same_limit(test_idp, saml_connection, settings):
    settings.SSO_START_LIMIT = 2
    assert anonymous_get("/sso/acme/login/").status_code == 302
    assert anonymous_get(SAML_LOGIN).status_code == 302
    assert anonymous_get("/sso/acme/login/").status_code == 429
    assert anonymous_get(SAML_LOGIN).status_code == 429
    assert anonymous_get("/sso/acme/oidc/login/").status_code == 429
    assert stored() == (2, 2)


def test_a_start_refused_for_another_reason_stores_nothing(saml_connection):
    response = anonymous_get("/sso/no-such-org/saml/login/")
    assert response.status_code == 404
    assert stored() == (0, 0)


def test_an_anonymous_start_leaves_a_session_only_as_long_as_its_sign_in_lasts(
    test_idp, sp, saml_connection, member, settings
):
    link(saml_connection, member, "mia-123")
    browser = Client()
    request_id = start(browser)
    session = Session.objects.get()
    assert abs(session.expire_date - (timezone.now() + PENDING_TTL + FINISH_TTL)) < timedelta(seconds=30)

    finished = finish_in(browser, post_to_acs(answer(test_idp, sp, request_id)))
    assert finished.status_code == 302
    assert browser.get("/orgs/acme/").status_code == 200  # signed in
    signed_in = Session.objects.get(session_key=browser.cookies[settings.SESSION_COOKIE_NAME].value)
    assert signed_in.get_decoded()["_auth_user_id"] == str(member.pk)
    # The signed-in session has the normal lifetime, not the short one of the anonymous start.
    assert signed_in.expire_date > timezone.now() + timedelta(days=13)
