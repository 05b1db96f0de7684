"""Answers real IdPs send (issue 14, items 10-14 and 17): each signed at test time by the test IdP, with real keys.

Several AudienceRestrictions (SAML Core §2.5.1.4), Redirect-binding signatures over the query string exactly as the
IdP encoded it (Bindings §3.4.4.1), assertions encrypted with XML Encryption 1.1 RSA-OAEP and its MGF, the response
size cap, one clock skew for every time condition, and IdP certificates past their expiry date.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, override_settings

from audit.models import AuditEvent
from sso.models import SAMLSettings
from sso.saml import actions
from sso.saml.certificates import load_certificate
from tests.helpers.saml import connect, finish_in, post_to_acs, start
from tests.helpers.sso import refusal_text
from tests.sso.saml.idp import XMLENC11, TestIdP, encrypt_assertion, make_key_pair, redirect_message, unb64
from tests.sso.saml.test_acs import answer, link

BASE = "/orgs/acme/settings/security/sso/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def refused(response, status: int, *phrases: str) -> str:
    page = refusal_text(response)
    assert response.status_code == status, (response.status_code, page[:1500])
    for phrase in phrases:
        assert phrase in page, (phrase, page[:3000])
    return page


def signs_in(browser: Client, saml_response: str) -> None:
    assert finish_in(browser, post_to_acs(saml_response))["Location"] == "/orgs/acme/"
    assert browser.get("/orgs/acme/").status_code == 200


@pytest.fixture
def mia(saml_connection, member):
    link(saml_connection, member, "mia-123")
    return member


# --- item 10: every AudienceRestriction must name us (SAML Core §2.5.1.4) --------------------------------------


@pytest.mark.parametrize("ours_first", [True, False])
def test_an_audience_restriction_that_does_not_name_us_refuses_the_assertion(test_idp, sp, mia, ours_first):
    restrictions = [[sp.entity_id], ["https://other-sp.example/metadata"]]
    browser = Client()
    saml_response = answer(
        test_idp, sp, start(browser), audience_restrictions=restrictions if ours_first else restrictions[::-1]
    )
    refused(
        post_to_acs(saml_response),
        403,
        "Every AudienceRestriction must include our entity ID",
        "https://other-sp.example/metadata",
    )
    assert browser.get("/orgs/acme/").status_code == 302


def test_several_audience_restrictions_that_all_name_us_are_accepted(test_idp, sp, mia):
    browser = Client()
    restrictions = [[sp.entity_id, "https://other-sp.example/metadata"], ["urn:other", sp.entity_id]]
    signs_in(browser, answer(test_idp, sp, start(browser), audience_restrictions=restrictions))


# --- item 11: Redirect-binding signatures over the query string as received (SAML Bindings §3.4.4.1) -------


def signed_in(test_idp, sp, member) -> Client:
    browser = Client()
    signs_in(browser, answer(test_idp, sp, start(browser)))
    return browser


@pytest.mark.parametrize("lowercase", [True, False], ids=["lowercase-escapes (ADFS, Entra)", "uppercase-escapes"])
def test_an_idp_logout_request_signed_over_its_own_encoding_ends_the_session(test_idp, sp, mia, lowercase):
    browser = signed_in(test_idp, sp, mia)
    raw = test_idp.redirect_query(
        test_idp.logout_request_xml(sls_url=sp.slo_url, name_id="mia-123"), relay_state="a/b c", lowercase=lowercase
    )
    assert ("http%3a%2f%2f" in raw) is lowercase  # the SigAlg URI, escaped as the IdP does
    response = browser.get(f"/sso/acme/saml/sls/?{raw}")
    assert response.status_code == 302 and response["Location"].startswith(test_idp.slo_url + "?"), text(response)
    assert "LogoutResponse" in redirect_message(response["Location"])[0]
    assert browser.get("/orgs/acme/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.signed_out", actor_label=mia.email).exists()


def test_a_logout_query_changed_after_signing_is_refused(test_idp, sp, mia):
    browser = signed_in(test_idp, sp, mia)
    raw = test_idp.redirect_query(
        test_idp.logout_request_xml(sls_url=sp.slo_url, name_id="mia-123"), relay_state="relay", lowercase=True
    )
    tampered = raw.replace("RelayState=relay", "RelayState=relax")
    refused(browser.get(f"/sso/acme/saml/sls/?{tampered}"), 400, "The logout message was refused")
    # The same characters with another escaping are not what the IdP signed either.
    recased = re.sub(r"%[0-9a-f]{2}", lambda m: m.group(0).upper(), raw.split("&Signature=")[0])
    recased += "&Signature=" + raw.split("&Signature=")[1]
    refused(browser.get(f"/sso/acme/saml/sls/?{recased}"), 400, "The logout message was refused")
    assert browser.get("/orgs/acme/").status_code == 200


def test_a_repeated_redirect_parameter_is_refused(test_idp, sp, mia):
    browser = signed_in(test_idp, sp, mia)
    raw = test_idp.redirect_query(test_idp.logout_request_xml(sls_url=sp.slo_url, name_id="mia-123"), lowercase=True)
    other = test_idp.redirect_query(test_idp.logout_request_xml(sls_url=sp.slo_url, name_id="someone-else"))
    response = browser.get(f"/sso/acme/saml/sls/?{raw}&{other.split('&')[0]}")
    refused(response, 400, "repeats the parameter SAMLRequest")
    assert browser.get("/orgs/acme/").status_code == 200


def test_the_idp_logout_response_signed_with_lowercase_escapes_is_accepted(test_idp, sp, mia):
    browser = signed_in(test_idp, sp, mia)
    xml, _query = redirect_message(browser.post("/sso/acme/saml/logout/")["Location"])
    request_id = re.search(r'ID="([^"]+)"', xml).group(1)
    raw = test_idp.redirect_query(
        test_idp.logout_response_xml(sls_url=sp.slo_url, in_response_to=request_id),
        saml_type="SAMLResponse",
        lowercase=True,
    )
    response = browser.get(f"/sso/acme/saml/sls/?{raw}")
    assert response.status_code == 200 and "signed out" in text(response).lower(), text(response)[:1500]


# --- item 12: XML Encryption 1.1 RSA-OAEP with an MGF (Entra ID, ADFS) -----------------------------------------


@pytest.mark.parametrize("mgf", ["mgf1sha1", "mgf1sha256"])
@pytest.mark.parametrize("content", ["aes128-cbc", "aes256-gcm"])
def test_an_assertion_encrypted_with_xmlenc11_rsa_oaep_and_an_mgf_is_decrypted(
    test_idp, sp, mia, saml_connection, mgf, content
):
    browser = Client()
    saml_response = encrypt_assertion(
        answer(test_idp, sp, start(browser)),
        saml_connection.saml.sp_certificate,
        key_transport="xmlenc11",
        mgf=mgf,
        content=content,
    )
    xml = unb64(saml_response)
    assert f'Algorithm="{XMLENC11}rsa-oaep"' in xml and re.search(f'MGF [^>]*Algorithm="{XMLENC11}{mgf}"', xml)
    assert "mia-123" not in xml
    signs_in(browser, saml_response)


def test_the_mgf_named_is_the_one_used(test_idp, sp, mia, saml_connection):
    """The MGF element is read, not skipped: the same ciphertext labelled with another MGF does not decrypt."""
    saml_response = encrypt_assertion(
        answer(test_idp, sp, start(Client())),
        saml_connection.saml.sp_certificate,
        key_transport="xmlenc11",
        mgf="mgf1sha256",
    )
    relabelled = unb64(saml_response).replace(f"{XMLENC11}mgf1sha256", f"{XMLENC11}mgf1sha1")
    from tests.sso.saml.idp import b64

    refused(post_to_acs(b64(relabelled)), 400, "could not be decrypted", f"MGF {XMLENC11}mgf1sha1")


def test_a_decryption_failure_names_the_algorithms(test_idp, sp, mia):
    _key, stranger = make_key_pair("another sp")
    saml_response = encrypt_assertion(
        answer(test_idp, sp, start(Client())),
        stranger,
        key_transport="xmlenc11",
        mgf="mgf1sha256",
        content="aes256-gcm",
    )
    page = refused(post_to_acs(saml_response), 400, "could not be decrypted")
    assert (
        f"key transport {XMLENC11}rsa-oaep (digest http://www.w3.org/2001/04/xmlenc#sha256, MGF {XMLENC11}mgf1sha256)"
        in page
    )
    assert f"content {XMLENC11}aes256-gcm" in page
    assert "does not follow" not in page


def test_schema_validation_still_refuses_undeclared_xmlenc11_content(test_idp, sp, saml_connection):
    """Only the xenc11:MGF declaration was added to python3-saml's schemas: anything else of that namespace, or an
    MGF without its Algorithm, still fails the SAML 2.0 schema."""
    from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

    xml = unb64(
        encrypt_assertion(
            answer(test_idp, sp, "_r1"), saml_connection.saml.sp_certificate, key_transport="xmlenc11", mgf="mgf1sha1"
        )
    )

    def valid(document: str) -> bool:
        return not isinstance(OneLogin_Saml2_XML.validate_xml(document.encode(), "saml-schema-protocol-2.0.xsd"), str)

    assert valid(xml)
    assert not valid(re.sub(r"<(\w+):MGF ", r"<\1:Bogus ", xml))
    assert not valid(re.sub(r'(<\w+:MGF [^>]*?)Algorithm="[^"]*"', r"\1", xml))


# --- item 13 (size cap): a setting, named in the refusal ----------------------------------------------------


def test_the_response_size_cap_is_a_setting_named_in_the_refusal(test_idp, sp, mia):
    groups = {"groups": [f"group-{n:05d}-{'x' * 40}" for n in range(1500)]}  # an Entra answer with many groups
    browser = Client()
    saml_response = answer(test_idp, sp, start(browser), attributes=groups)
    size_kib = -(-len(saml_response) // 1024)
    assert 64 < size_kib < 512
    with override_settings(SSO_SAML_MAX_RESPONSE_KIB=64):
        refused(
            post_to_acs(saml_response),
            413,
            f"{size_kib} KiB of base64",
            "(64 KiB, the setting SSO_SAML_MAX_RESPONSE_KIB)",
        )
    assert browser.get("/orgs/acme/").status_code == 302
    signs_in(browser, answer(test_idp, sp, start(browser), attributes=groups))  # under the default 512 KiB


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=70 * 1024)
def test_a_body_over_djangos_upload_limit_gets_the_same_clear_refusal(saml_connection):
    refused(post_to_acs("A" * (80 * 1024)), 413, "The SAML response is too large", "SSO_SAML_MAX_RESPONSE_KIB")


def test_a_response_over_the_default_cap_is_refused_before_decoding(saml_connection):
    refused(post_to_acs("A" * (512 * 1024 + 4)), 413, "(512 KiB, the setting SSO_SAML_MAX_RESPONSE_KIB)")


# --- item 14: one clock skew for every time condition --------------------------------------------------------

SKEW = 60
# (answer option, moment inside the skew, moment beyond it, what the refusal names)
TIME_CONDITIONS = [
    ("confirmation_not_before", +30, +120, "the SubjectConfirmationData NotBefore"),
    ("confirmation_not_on_or_after", -30, -120, "the SubjectConfirmationData NotOnOrAfter"),
    ("not_before", +30, +120, "the Conditions NotBefore"),
    ("not_on_or_after", -30, -120, "the Conditions NotOnOrAfter"),
    ("session_not_on_or_after", -30, -120, "the AuthnStatement SessionNotOnOrAfter"),
    ("issue_instant", +30, +120, "the assertion IssueInstant"),
    ("response_issue_instant", +30, +120, "the response IssueInstant"),
]


@pytest.mark.parametrize(("option", "inside", "beyond", "named"), TIME_CONDITIONS, ids=[c[0] for c in TIME_CONDITIONS])
def test_every_time_condition_allows_the_configured_skew_and_no_more(test_idp, sp, mia, option, inside, beyond, named):
    now = datetime.now(UTC)
    with override_settings(SSO_SAML_CLOCK_SKEW_SECONDS=SKEW):
        browser = Client()
        signs_in(browser, answer(test_idp, sp, start(browser), **{option: now + timedelta(seconds=inside)}))
        other = Client()
        response = post_to_acs(answer(test_idp, sp, start(other), **{option: now + timedelta(seconds=beyond)}))
        refused(response, 403, named, f"with {SKEW} s of clock skew allowed (SSO_SAML_CLOCK_SKEW_SECONDS)")
        assert other.get("/orgs/acme/").status_code == 302


def test_a_logout_request_not_on_or_after_allows_the_same_skew(test_idp, sp, mia):
    now = datetime.now(UTC)
    with override_settings(SSO_SAML_CLOCK_SKEW_SECONDS=SKEW):
        browser = signed_in(test_idp, sp, mia)
        late = test_idp.logout_request_xml(
            sls_url=sp.slo_url, name_id="mia-123", not_on_or_after=now - timedelta(seconds=120)
        )
        refused(
            browser.get(f"/sso/acme/saml/sls/?{test_idp.redirect_query(late, lowercase=True)}"),
            400,
            "The logout request has expired: the LogoutRequest NotOnOrAfter",
            f"with {SKEW} s of clock skew allowed (SSO_SAML_CLOCK_SKEW_SECONDS)",
        )
        assert browser.get("/orgs/acme/").status_code == 200
        within = test_idp.logout_request_xml(
            sls_url=sp.slo_url, name_id="mia-123", not_on_or_after=now - timedelta(seconds=30)
        )
        response = browser.get(f"/sso/acme/saml/sls/?{test_idp.redirect_query(within, lowercase=True)}")
        assert response.status_code == 302 and response["Location"].startswith(test_idp.slo_url + "?")
        assert browser.get("/orgs/acme/").status_code == 302


def test_a_subject_confirmation_not_before_a_few_seconds_ahead_is_accepted_by_default(test_idp, sp, mia):
    """The example of the issue: the IdP's clock is a few seconds ahead of ours."""
    browser = Client()
    ahead = datetime.now(UTC) + timedelta(seconds=5)
    signs_in(browser, answer(test_idp, sp, start(browser), confirmation_not_before=ahead))


def test_the_replay_record_outlives_the_skew(test_idp, sp, mia):
    """An assertion accepted up to the skew after its NotOnOrAfter is remembered at least that long."""
    from sso.models import SAMLConsumedAssertion

    with override_settings(SSO_SAML_CLOCK_SKEW_SECONDS=SKEW):
        browser = Client()
        ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
        saml_response = answer(test_idp, sp, start(browser), confirmation_not_on_or_after=ended)
        signs_in(browser, saml_response)
        assert SAMLConsumedAssertion.objects.get().expires_at == ended + timedelta(seconds=SKEW)
        refused(post_to_acs(saml_response), 400, "already used")


# --- item 17: IdP certificates past their expiry date --------------------------------------------------------


@pytest.fixture
def rolled_idp() -> TestIdP:
    """An IdP still signing with a certificate that expired 3 days ago; its new certificate is also published."""
    idp = TestIdP()
    idp.key, idp.cert = make_key_pair("idp.acme.test", expired_days_ago=3)
    idp.new_key, new_cert = make_key_pair("idp.acme.test")
    idp.extra_certs = [new_cert]
    return idp


def test_by_default_an_expired_certificate_still_signs_in_with_warnings(client_for, org, owner, member, rolled_idp, sp):
    connection = connect(org, owner, rolled_idp)
    link(connection, member, "mia-123")
    assert not connection.saml.refuse_expired_certificates
    browser = Client()
    signs_in(browser, answer(rolled_idp, sp, start(browser)))
    fingerprint = load_certificate(rolled_idp.cert).short_fingerprint
    warning = f"IdP certificate {fingerprint} expired on"
    still = "sign-ins signed with it are still accepted (turn on “Refuse expired IdP certificates”)"
    owner_browser = client_for(owner)
    for page in ("/orgs/acme/", BASE, f"{BASE}{connection.pk}/"):  # dashboard, connection list, connection page
        content = text(owner_browser.get(page))
        assert warning in content and still in content, page


def test_refusing_expired_certificates_refuses_their_signatures_and_keeps_the_current_one(
    client_for, org, owner, member, rolled_idp, sp
):
    connection = connect(org, owner, rolled_idp)
    link(connection, member, "mia-123")
    owner_browser = client_for(owner)
    response = owner_browser.post(f"{BASE}saml/{connection.pk}/options/", {"refuse_expired_certificates": "on"})
    assert response.status_code == 302
    page = text(owner_browser.get(response["Location"]))
    expired_short = load_certificate(rolled_idp.cert).short_fingerprint
    assert f"Sign-ins signed with IdP certificate {expired_short} (expired on" in page
    assert "Run Test SSO to check that the IdP signs with a current certificate." in page
    assert SAMLSettings.objects.get(connection=connection).refuse_expired_certificates
    event = AuditEvent.objects.filter(action__startswith="sso.").latest("pk")
    assert event.changes["refuse_expired_certificates"] == [False, True]

    browser = Client()
    expired = load_certificate(rolled_idp.cert)
    refused(
        post_to_acs(answer(rolled_idp, sp, start(browser))),
        403,
        f"signed with IdP certificate {expired.fingerprint}, which expired on {expired.not_after:%Y-%m-%d}",
        "this connection refuses expired IdP certificates",
    )
    assert browser.get("/orgs/acme/").status_code == 302
    current = answer(rolled_idp, sp, start(browser), key=rolled_idp.new_key, cert=rolled_idp.extra_certs[0])
    signs_in(browser, current)
    page = text(client_for(owner).get(BASE))
    assert "sign-ins signed with it are refused" in page


def test_a_signed_response_around_an_assertion_signed_with_a_current_key_must_be_current_too(
    org, owner, member, rolled_idp, sp
):
    connection = connect(org, owner, rolled_idp)
    link(connection, member, "mia-123")
    actions.set_options(connection, actor=owner, refuse_expired_certificates=True)
    browser = Client()
    request_id = start(browser)
    from tests.sso.saml.idp import b64, sign, strip_declaration

    assertion = rolled_idp.assertion_xml(
        sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="mia-123", in_response_to=request_id
    )
    assertion = strip_declaration(sign(assertion, rolled_idp.new_key, rolled_idp.extra_certs[0]))
    xml = rolled_idp.response_xml(assertion, acs_url=sp.acs_url, in_response_to=request_id)
    envelope = strip_declaration(sign(xml, rolled_idp.key, rolled_idp.cert))  # the envelope with the expired key
    refused(post_to_acs(b64(envelope)), 403, "this connection refuses expired IdP certificates")


def test_refusing_expired_certificates_is_refused_when_none_is_current(client_for, org, owner):
    idp = TestIdP()
    idp.key, idp.cert = make_key_pair("idp.acme.test", expired_days_ago=1)
    connection = connect(org, owner, idp)
    response = client_for(owner).post(f"{BASE}saml/{connection.pk}/options/", {"refuse_expired_certificates": "on"})
    refused(response, 409, "Every IdP signing certificate of this connection has expired")
    assert not SAMLSettings.objects.get(connection=connection).refuse_expired_certificates


def test_the_connection_page_offers_the_setting(client_for, saml_connection, owner):
    page = text(client_for(owner).get(f"{BASE}{saml_connection.pk}/"))
    assert 'name="refuse_expired_certificates"' in page and "Refuse expired IdP certificates" in page
    assert "Expired IdP certificates" in page and "accepted (with a warning)" in page


def test_a_connection_whose_every_certificate_expired_while_refusing_them_does_not_validate(org, owner, rolled_idp):
    from sso.protocols import validation_problems

    connection = connect(org, owner, rolled_idp)
    actions.set_options(connection, actor=owner, refuse_expired_certificates=True)
    assert validation_problems(connection) == []
    # Later the new certificate expires too (the stored list now holds only expired ones).
    SAMLSettings.objects.filter(connection=connection).update(idp_certificates=[rolled_idp.cert])
    assert validation_problems(connection) == [
        f"Every IdP signing certificate expired (the last on {load_certificate(rolled_idp.cert).not_after:%Y-%m-%d}) "
        "and this connection refuses expired IdP certificates. Upload the IdP's current certificate or refresh the "
        "metadata."
    ]
