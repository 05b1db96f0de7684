"""SAML round trips through the shared flow: the AuthnRequest, Test SSO, Link SSO, re-authentication, logout."""

from __future__ import annotations

import base64
import html
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from audit.models import AuditEvent
from sso.models import SSOIdentity, SSOPendingLogin, SSOTestRun
from sso.saml import actions
from tests.helpers.saml import connect, finish_in, post_to_acs, start
from tests.helpers.sso import refusal_text
from tests.sso.saml.idp import TestIdP, make_key_pair, redirect_message
from tests.sso.saml.test_acs import answer, link


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_authn_request_goes_to_the_idp_with_an_opaque_relay_state(test_idp, sp, saml_connection):
    response = Client().get("/sso/acme/saml/login/", {"next": "https://evil.test/"})
    assert response["Location"].startswith(test_idp.sso_url + "?")
    xml, query = redirect_message(response["Location"])
    request_id = query["RelayState"][0]
    assert request_id.startswith("ONELOGIN_") or request_id.startswith("_")
    pending = SSOPendingLogin.objects.get(key=request_id)
    assert pending.purpose == "login" and pending.next_url == ""  # the absolute ?next= was dropped
    assert f'Destination="{test_idp.sso_url}"' in xml
    assert f'AssertionConsumerServiceURL="{sp.acs_url}"' in xml
    assert f"<saml:Issuer>{sp.entity_id}</saml:Issuer>" in xml
    assert "ForceAuthn" not in xml
    assert "NameIDPolicy" not in xml  # the IdP sends the NameID format its admin configured
    assert "Signature" not in query


def test_authn_requests_are_signed_when_the_idp_asks(org, owner):
    idp = TestIdP()
    idp.want_authn_requests_signed = True
    connection = connect(org, owner, idp)
    response = Client().get("/sso/acme/saml/login/")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["SigAlg"] == [C.RSA_SHA256]
    signed = urlencode(
        {"SAMLRequest": query["SAMLRequest"][0], "RelayState": query["RelayState"][0], "SigAlg": query["SigAlg"][0]}
    )
    assert OneLogin_Saml2_Utils.validate_binary_sign(
        signed, base64.b64decode(query["Signature"][0]), connection.saml.sp_certificate, C.RSA_SHA256
    )


def test_an_idp_offering_only_http_post_gets_an_auto_posted_form(org, owner, test_idp):
    connection = connect(org, owner, test_idp)
    connection.saml.idp_sso_binding = C.BINDING_HTTP_POST
    connection.saml.save()
    response = Client().get("/sso/acme/saml/login/")
    assert response.status_code == 200
    page = text(response)
    assert f'action="{test_idp.sso_url}"' in page and 'name="SAMLRequest"' in page


def test_test_sso_shows_what_came_back_and_links_nobody(test_idp, sp, saml_connection, client_for, admin):
    browser = client_for(admin)
    response = browser.post(f"/orgs/acme/settings/security/sso/{saml_connection.pk}/test/")
    _xml, query = redirect_message(response["Location"])
    request_id = query["RelayState"][0]
    saml_response = answer(
        test_idp,
        sp,
        request_id,
        name_id="adam-42",
        attributes={"mail": ["admin@acme.test"], "displayName": ["Adam Admin"], "department": ["IT", "Ops"]},
    )
    result = browser.get(finish_in(browser, post_to_acs(saml_response))["Location"])
    page = text(result)
    assert "SSO test: Succeeded" in page
    assert "adam-42" in page and C.NAMEID_PERSISTENT in page
    assert "admin@acme.test" in page and "Adam Admin" in page and "department" in page and "IT, Ops" in page
    assert "never links an account" in page and not SSOIdentity.objects.exists()  # only checked
    assert AuditEvent.objects.filter(action="sso.tested", details__result="success").exists()


def test_a_failed_test_says_what_to_change(test_idp, sp, saml_connection, client_for, admin):
    browser = client_for(admin)
    response = browser.post(f"/orgs/acme/settings/security/sso/{saml_connection.pk}/test/")
    request_id = redirect_message(response["Location"])[1]["RelayState"][0]
    rolled_key, rolled_cert = make_key_pair("idp.acme.test 2027")
    acs = post_to_acs(answer(test_idp, sp, request_id, name_id="adam-42", key=rolled_key, cert=rolled_cert))
    assert acs.status_code == 302
    page = text(browser.get(acs["Location"]))
    assert "SSO test: Failed" in page
    assert "signed by a certificate that is not in this connection's list (fingerprint" in page
    assert "upload the new certificate or refresh the metadata" in page
    run = SSOTestRun.objects.get()
    assert run.result == "failure" and run.details["code"] == "saml_unknown_certificate"
    assert AuditEvent.objects.filter(action="sso.tested", details__result="failure").exists()
    assert not SSOIdentity.objects.exists()


def test_test_sso_works_while_the_connection_is_off(test_idp, sp, org, owner, client_for):
    connection = connect(org, owner, test_idp, status="off")
    browser = client_for(owner)
    response = browser.post(f"/orgs/acme/settings/security/sso/{connection.pk}/test/")
    request_id = redirect_message(response["Location"])[1]["RelayState"][0]
    result = browser.get(
        finish_in(browser, post_to_acs(answer(test_idp, sp, request_id, name_id="olivia")))["Location"]
    )
    assert "SSO test: Succeeded" in text(result)
    assert Client().get("/sso/acme/saml/login/").status_code == 404  # but nobody signs in through it yet


def test_link_sso_then_sign_in_through_the_idp_alone(test_idp, sp, saml_connection, client_for, member):
    browser = client_for(member)
    response = browser.post("/orgs/acme/settings/security/sso/link/")
    request_id = redirect_message(response["Location"])[1]["RelayState"][0]
    answered = answer(test_idp, sp, request_id, name_id="00u-mia", attributes={"mail": ["member@acme.test"]})
    linked = finish_in(browser, post_to_acs(answered))
    assert linked["Location"] == "/orgs/acme/settings/security/sso/"
    assert SSOIdentity.objects.get(user=member).subject == "00u-mia"
    browser.post("/accounts/logout/")
    assert browser.get("/orgs/acme/").status_code == 302
    fresh = Client()
    request_id = start(fresh)
    assert (
        finish_in(fresh, post_to_acs(answer(test_idp, sp, request_id, name_id="00u-mia")))["Location"] == "/orgs/acme/"
    )
    assert fresh.get("/orgs/acme/").status_code == 200


def test_an_unknown_idp_user_ends_on_a_clear_page(test_idp, sp, saml_connection):
    browser = Client()
    response = finish_in(browser, post_to_acs(answer(test_idp, sp, start(browser), name_id="stranger")))
    assert response.status_code == 403
    assert "not linked to an account here" in text(response)


def test_reauthentication_forces_a_fresh_login_at_the_idp(test_idp, sp, saml_connection, member):
    link(saml_connection, member, "mia-123")
    browser = Client()
    finish_in(browser, post_to_acs(answer(test_idp, sp, start(browser))))
    response = browser.get("/accounts/reauthenticate/", {"next": "/orgs/acme/members/"})
    xml, query = redirect_message(response["Location"])
    assert 'ForceAuthn="true"' in xml
    assert SSOPendingLogin.objects.get(key=query["RelayState"][0]).purpose == "reauth"
    done = finish_in(browser, post_to_acs(answer(test_idp, sp, query["RelayState"][0])))
    assert done["Location"] == "/orgs/acme/members/"


def signed_in(test_idp, sp, connection, member) -> Client:
    link(connection, member, "mia-123")
    browser = Client()
    finish_in(browser, post_to_acs(answer(test_idp, sp, start(browser))))
    assert browser.get("/orgs/acme/").status_code == 200
    return browser


def test_idp_initiated_logout_ends_the_session_here(test_idp, sp, saml_connection, member):
    browser = signed_in(test_idp, sp, saml_connection, member)
    response = browser.get("/sso/acme/saml/sls/", test_idp.logout_request_query(sls_url=sp.slo_url, name_id="mia-123"))
    assert response.status_code == 302 and response["Location"].startswith(test_idp.slo_url + "?")
    xml, query = redirect_message(response["Location"])
    assert "LogoutResponse" in xml and "Signature" in query
    assert browser.get("/orgs/acme/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.signed_out", actor_label=member.email).exists()


def test_an_unsigned_or_foreign_logout_request_changes_nothing(test_idp, sp, saml_connection, member):
    browser = signed_in(test_idp, sp, saml_connection, member)
    unsigned = test_idp.logout_request_query(sls_url=sp.slo_url, name_id="mia-123", signed=False)
    response = browser.get("/sso/acme/saml/sls/", unsigned)
    assert response.status_code == 400 and "logout message was refused" in refusal_text(response)
    other_person = test_idp.logout_request_query(sls_url=sp.slo_url, name_id="someone-else")
    browser.get("/sso/acme/saml/sls/", other_person)
    assert browser.get("/orgs/acme/").status_code == 200
    assert Client().get("/sso/acme/saml/sls/").status_code == 400


def test_sp_initiated_logout_ends_the_session_and_tells_the_idp(test_idp, sp, saml_connection, member):
    browser = signed_in(test_idp, sp, saml_connection, member)
    response = browser.post("/sso/acme/saml/logout/")
    assert browser.get("/orgs/acme/").status_code == 302
    xml, query = redirect_message(response["Location"])
    assert response["Location"].startswith(test_idp.slo_url) and "mia-123" in xml and "Signature" in query


def test_idp_initiated_sign_in_lands_on_a_relay_state_path(test_idp, sp, saml_connection, owner, member):
    link(saml_connection, member, "mia-123")
    actions.set_options(saml_connection, actor=owner, allow_idp_initiated=True)
    browser = Client()
    response = browser.post(
        "/sso/acme/saml/acs/", {"SAMLResponse": answer(test_idp, sp, None), "RelayState": "//evil.test/"}
    )
    assert browser.get(response["Location"])["Location"] == "/orgs/acme/"


def test_link_sso_answered_with_another_email_waits_for_confirmation(test_idp, sp, saml_connection, client_for, member):
    """Issue 14 item 1, over real signed SAML: a link whose asserted email is not the account's is held."""
    from sso.models import SSOPendingLink

    browser = client_for(member)
    request_id = redirect_message(browser.post("/orgs/acme/settings/security/sso/link/")["Location"])[1]["RelayState"][
        0
    ]
    answered = answer(test_idp, sp, request_id, name_id="00u-mia", attributes={"mail": ["Mia@Home.test"]})
    held_page = finish_in(browser, post_to_acs(answered))["Location"]
    assert held_page == f"/orgs/acme/settings/security/sso/link/{SSOPendingLink.objects.get().pk}/"
    page = text(browser.get(held_page))
    assert "member@acme.test" in page and "mia@home.test" in page and "00u-mia" in page
    assert not SSOIdentity.objects.exists()
    assert browser.post(held_page, {"answer": "link"})["Location"] == "/orgs/acme/settings/security/sso/"
    assert SSOIdentity.objects.get(user=member).asserted_email == "mia@home.test"


def test_a_test_session_as_another_member_links_nobody(test_idp, sp, saml_connection, client_for, owner, member):
    browser = client_for(owner)
    response = browser.post(f"/orgs/acme/settings/security/sso/{saml_connection.pk}/test/", {"session_seconds": "120"})
    request_id = redirect_message(response["Location"])[1]["RelayState"][0]
    answered = answer(test_idp, sp, request_id, name_id="00u-mia", attributes={"mail": ["member@acme.test"]})
    page = text(browser.get(finish_in(browser, post_to_acs(answered))["Location"]))
    assert "SSO test: Succeeded" in page and "another member of Acme Inc." in page
    assert not SSOIdentity.objects.exists()
    assert AuditEvent.objects.filter(action="sso.identity_link_refused").exists()
