"""Hostile-party attacks on the SAML side, each with real signed test responses."""

from __future__ import annotations

import base64
import html
import secrets
import zlib

import pytest
from django.test import Client

from sso.models import SSOIdentity
from tests.helpers.saml import finish_in, post_to_acs, start
from tests.helpers.sso import own_identity, refusal_text
from tests.sso.saml.idp import PERSISTENT, b64, sign, strip_declaration


def link(connection, user, subject):
    from sso.connections import actions as sso_actions

    identity = own_identity(connection, user, subject, issuer=connection.saml.idp_entity_id, subject_format=PERSISTENT)
    return sso_actions.link_identity(connection, user, identity, actor=user, via="tests")


def refused(response, status, text):
    assert response.status_code == status, (response.status_code, response.content[:600])
    page = refusal_text(response)
    assert text in page, page[:1500]


def unsolicited_assertion_in_solicited_envelope(idp, sp, request_id, name_id):
    """An IdP-initiated assertion (signed, no InResponseTo) put in an unsigned envelope that claims to answer
    ``request_id``: the envelope is not covered by any signature, so anyone can write its InResponseTo."""
    assertion = idp.assertion_xml(sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id=name_id, in_response_to=None)
    assertion = strip_declaration(sign(assertion, idp.key, idp.cert))
    return b64(idp.response_xml(assertion, acs_url=sp.acs_url, in_response_to=request_id))


def test_an_unsigned_in_response_to_does_not_make_an_unsolicited_assertion_solicited(
    test_idp, sp, saml_connection, member
):
    link(saml_connection, member, "mia-123")
    assert not saml_connection.saml.allow_idp_initiated
    browser = Client()
    request_id = start(browser)
    forged = unsolicited_assertion_in_solicited_envelope(test_idp, sp, request_id, "mia-123")
    response = post_to_acs(forged)
    refused(response, 403, "was not requested by us")
    assert "_auth_user_id" not in browser.session


@pytest.mark.parametrize(
    "query",
    [
        {"SAMLRequest": base64.b64encode(b"\x00\xff").decode()},  # inflates to nothing: no XML at all
        {"SAMLRequest": "%%%", "Signature": "!!", "SigAlg": "x"},
        {"SAMLRequest": base64.b64encode(zlib.compress(b"<samlp:LogoutRequest")[2:-4]).decode()},
        {"SAMLRequest": base64.b64encode(b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>').decode()},
    ],
)
def test_a_malformed_logout_message_gets_a_400_page_never_a_500(saml_connection, query):
    response = Client(raise_request_exception=False).get("/sso/acme/saml/sls/", query)
    refused(response, 400, "The logout message is not valid")


def signed_logout_response(idp, sls_url: str, in_response_to: str) -> dict[str, str]:
    """The IdP's signed LogoutResponse (HTTP-Redirect) to the logout request ``in_response_to``."""
    from datetime import UTC, datetime
    from xml.sax.saxutils import escape, quoteattr

    from onelogin.saml2.auth import OneLogin_Saml2_Auth
    from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    from tests.sso.saml.idp import NS, iso

    xml = (
        f'<samlp:LogoutResponse {NS} ID="_lr{secrets.token_hex(16)}" Version="2.0" '
        f'IssueInstant="{iso(datetime.now(UTC))}" Destination={quoteattr(sls_url)} '
        f"InResponseTo={quoteattr(in_response_to)}>"
        f"<saml:Issuer>{escape(idp.entity_id)}</saml:Issuer>"
        f'<samlp:Status><samlp:StatusCode Value="{C.STATUS_SUCCESS}"/></samlp:Status></samlp:LogoutResponse>'
    )
    encoded = base64.b64encode(zlib.compress(xml.encode())[2:-4]).decode()
    to_sign = OneLogin_Saml2_Auth._build_sign_query(encoded, None, C.RSA_SHA256, "SAMLResponse")
    signature = base64.b64encode(OneLogin_Saml2_Utils.sign_binary(to_sign, idp.key)).decode()
    return {"SAMLResponse": encoded, "SigAlg": C.RSA_SHA256, "Signature": signature}


def test_a_logout_answer_this_browser_did_not_ask_for_does_not_sign_it_out(test_idp, sp, saml_connection, member):
    # The attacker signs out through SSO, keeps the IdP's signed LogoutResponse, and sends the victim a link to it.
    link(saml_connection, member, "mia-123")
    victim = Client()
    request_id = start(victim)
    finish_in(
        victim,
        post_to_acs(
            test_idp.response(
                sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="mia-123", in_response_to=request_id
            )
        ),
    )
    assert victim.get("/orgs/acme/").status_code == 200
    replayed = signed_logout_response(test_idp, sp.slo_url, "_ONELOGIN_attackers_own_logout")
    response = victim.get("/sso/acme/saml/sls/", replayed)
    refused(response, 400, "does not answer a logout started in this browser")
    assert victim.get("/orgs/acme/").status_code == 200


def test_a_nameid_format_too_long_to_store_is_refused_not_a_500(test_idp, sp, saml_connection, client_for, admin):
    from tests.sso.saml.idp import redirect_message

    browser = client_for(admin)
    response = browser.post(f"/orgs/acme/settings/security/sso/{saml_connection.pk}/test/")
    request_id = redirect_message(response["Location"])[1]["RelayState"][0]
    saml_response = test_idp.response(
        sp_entity_id=sp.entity_id,
        acs_url=sp.acs_url,
        name_id="adam-42",
        in_response_to=request_id,
        name_id_format="urn:example:" + "f" * 300,
    )
    acs = post_to_acs(saml_response)
    result = browser.get(acs["Location"])
    assert result.status_code == 200
    assert "SSO test: Failed" in html.unescape(result.content.decode())
    assert "NameID format is longer than 255 characters" in html.unescape(result.content.decode())
    assert not SSOIdentity.objects.exists()
