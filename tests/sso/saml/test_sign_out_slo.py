"""The plain "Sign out" (and "Sign out everywhere") of a session that signed in through SAML starts SP-initiated
single logout when the IdP has an SLO URL: a signed LogoutRequest naming the identity, whose real signed
LogoutResponse is accepted once, back in the browser that sent it. The sign-out page says which IdP session ends."""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import urlsplit

from django.test import Client
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from audit.models import AuditEvent
from sessions_policy.models import UserSession
from sso.models import SAMLSettings
from tests.helpers.saml import finish_in, post_to_acs, start
from tests.sso.saml.idp import redirect_message
from tests.sso.saml.test_acs import answer, link


def text(response) -> str:
    """The page's words, without tags and with single spaces."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", response.content.decode())).split())


def signed_in(test_idp, sp, member) -> Client:
    browser = Client()
    finish_in(browser, post_to_acs(answer(test_idp, sp, start(browser))))
    assert browser.get("/orgs/acme/").status_code == 200
    return browser


def test_the_sign_out_page_names_the_idp_session_it_also_ends(test_idp, sp, saml_connection, member):
    link(saml_connection, member, "mia-123")
    browser = signed_in(test_idp, sp, member)
    page = text(browser.get("/accounts/logout/"))
    assert "Signing out here also ends your session at Acme IdP (SAML single logout)" in page
    assert "Sign out everywhere" in page
    assert browser.get("/orgs/acme/").status_code == 200  # the page signs nobody out

    SAMLSettings.objects.filter(connection=saml_connection).update(idp_slo_url="")
    page = text(browser.get("/accounts/logout/"))
    assert "Signing out here does not end your session there" in page and "Acme IdP" in page


def test_plain_sign_out_sends_a_signed_logout_request_and_accepts_the_idps_answer_once(
    test_idp, sp, saml_connection, member
):
    link(saml_connection, member, "mia-123")
    browser = signed_in(test_idp, sp, member)
    response = browser.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"].startswith(test_idp.slo_url + "?")
    assert browser.get("/orgs/acme/").status_code == 302  # signed out here first
    xml, query = redirect_message(response["Location"])
    assert "<samlp:LogoutRequest" in xml and "mia-123" in xml and f'Destination="{test_idp.slo_url}"' in xml
    assert "SessionIndex" in xml
    parts = urlsplit(response["Location"]).query.split("&")
    signed = "&".join(part for part in parts if not part.startswith("Signature="))  # exactly what the IdP verifies
    assert OneLogin_Saml2_Utils.validate_binary_sign(
        signed, base64.b64decode(query["Signature"][0]), saml_connection.saml.sp_certificate, C.RSA_SHA256
    )
    event = AuditEvent.objects.filter(action="auth.signed_out").latest("seq")
    assert event.details["idp_sign_out"] == "Acme IdP"

    request_id = re.search(r'ID="([^"]+)"', xml).group(1)
    raw = test_idp.redirect_query(
        test_idp.logout_response_xml(sls_url=sp.slo_url, in_response_to=request_id), saml_type="SAMLResponse"
    )
    done = browser.get(f"/sso/acme/saml/sls/?{raw}")
    assert done.status_code == 200
    assert "Your session here has ended and Acme IdP confirmed the sign-out" in text(done)
    replay = browser.get(f"/sso/acme/saml/sls/?{raw}")
    assert replay.status_code == 400  # answered once: the same answer again is not ours


def test_a_logout_response_to_another_request_is_refused(test_idp, sp, saml_connection, member):
    link(saml_connection, member, "mia-123")
    browser = signed_in(test_idp, sp, member)
    browser.post("/accounts/logout/")
    raw = test_idp.redirect_query(
        test_idp.logout_response_xml(sls_url=sp.slo_url, in_response_to="_not-ours"), saml_type="SAMLResponse"
    )
    response = browser.get(f"/sso/acme/saml/sls/?{raw}")
    assert response.status_code == 400 and "confirmed the sign-out" not in text(response)
    assert "A sign-out message from Acme Inc.'s sign-in service (your identity provider) could not be accepted" in (
        text(response)
    )


def test_without_an_slo_url_only_the_session_here_ends(test_idp, sp, saml_connection, member):
    link(saml_connection, member, "mia-123")
    SAMLSettings.objects.filter(connection=saml_connection).update(idp_slo_url="")
    browser = signed_in(test_idp, sp, member)
    response = browser.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert "You are signed out." in text(browser.get("/accounts/login/"))


def test_a_password_session_signs_out_here_only(client_for, member, saml_connection):
    browser = client_for(member)
    assert "also ends your session" not in text(browser.get("/accounts/logout/"))
    assert browser.post("/accounts/logout/")["Location"] == "/accounts/login/"


def test_sign_out_everywhere_ends_every_session_and_the_idp_session(test_idp, sp, saml_connection, client_for, member):
    link(saml_connection, member, "mia-123")
    laptop = client_for(member)  # another device, signed in with the password
    browser = signed_in(test_idp, sp, member)
    assert UserSession.objects.filter(user=member, revoked_at=None).count() == 2

    response = browser.post("/accounts/logout/", {"everywhere": "1"})
    assert response["Location"].startswith(test_idp.slo_url + "?")
    assert not UserSession.objects.filter(user=member, revoked_at=None).exists()
    assert laptop.get("/orgs/acme/").status_code == 302
    assert browser.get("/orgs/acme/").status_code == 302
    assert AuditEvent.objects.filter(action="session.revoked_all", actor_label=member.email).exists()


def test_the_sign_out_page_asks_anonymous_people_to_sign_in():
    assert Client().get("/accounts/logout/")["Location"].startswith("/accounts/login/")


def test_sign_out_still_works_when_the_logout_request_cannot_be_signed(test_idp, sp, saml_connection, member):
    link(saml_connection, member, "mia-123")
    browser = signed_in(test_idp, sp, member)
    SAMLSettings.objects.filter(connection=saml_connection).update(sp_private_key_encrypted="not-a-fernet-token")
    assert "Signing out here does not end your session there" in text(browser.get("/accounts/logout/"))
    response = browser.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert browser.get("/orgs/acme/").status_code == 302
