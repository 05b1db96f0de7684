"""The ACS: real responses signed at test time, each breaking exactly one rule, and the ones that pass."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from audit.models import AuditEvent
from sso.connections import actions as sso_actions
from sso.models import SAMLConsumedAssertion
from sso.saml.response import validate_response
from tests.helpers.saml import finish_in, post_to_acs, start
from tests.helpers.sso import own_identity, refusal_text
from tests.sso.saml.idp import EMAIL, PERSISTENT, TestIdP, b64, make_key_pair, unb64


def link(connection, user, subject, fmt=PERSISTENT):
    identity = own_identity(connection, user, subject, issuer=connection.saml.idp_entity_id, subject_format=fmt)
    return sso_actions.link_identity(connection, user, identity, actor=user, via="tests")


@pytest.fixture
def mia(saml_connection, member):
    link(saml_connection, member, "mia-123")
    return member


def answer(idp, sp, request_id, name_id="mia-123", **options):
    return idp.response(
        sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id=name_id, in_response_to=request_id, **options
    )


def refused(response, status, text):
    assert response.status_code == status, (response.status_code, response.content[:600])
    page = refusal_text(response)
    assert text in page, page[:1500]


def test_a_linked_member_signs_in_with_a_signed_assertion(test_idp, sp, mia):
    browser = Client()
    request_id = start(browser, next="/orgs/acme/members/")
    response = finish_in(browser, post_to_acs(answer(test_idp, sp, request_id, attributes={"mail": ["mia@acme.test"]})))
    assert response.status_code == 302 and response["Location"] == "/orgs/acme/members/"
    assert browser.get("/orgs/acme/").status_code == 200
    assert browser.session["auth_method"] == "saml"
    assert AuditEvent.objects.filter(action="auth.signed_in", details__method="saml", actor_label=mia.email).exists()
    assert SAMLConsumedAssertion.objects.count() == 1


def test_a_signed_response_around_a_signed_assertion_is_accepted(test_idp, sp, mia):
    browser = Client()
    request_id = start(browser)
    response = finish_in(browser, post_to_acs(answer(test_idp, sp, request_id, sign_response=True)))
    assert response["Location"] == "/orgs/acme/"


def test_a_response_signed_only_on_the_outside_is_refused(test_idp, sp, mia):
    browser = Client()
    request_id = start(browser)
    response = post_to_acs(answer(test_idp, sp, request_id, sign_assertion=False, sign_response=True))
    refused(response, 403, "The assertion is not signed")
    assert browser.get("/orgs/acme/").status_code == 302


def test_an_unsigned_response_is_refused(test_idp, sp, mia):
    request_id = start(Client())
    refused(post_to_acs(answer(test_idp, sp, request_id, sign_assertion=False)), 403, "The assertion is not signed")


def test_sha1_signatures_are_refused(test_idp, sp, mia):
    request_id = start(Client())
    refused(post_to_acs(answer(test_idp, sp, request_id, sha1=True)), 403, "SHA-1")


def test_a_certificate_in_keyinfo_is_not_trusted_by_itself(test_idp, sp, mia):
    attacker_key, attacker_cert = make_key_pair("idp.acme.test")  # same name, different key
    request_id = start(Client())
    response = post_to_acs(answer(test_idp, sp, request_id, key=attacker_key, cert=attacker_cert))
    refused(response, 403, "signed by a certificate that is not in this connection")
    assert "upload the new certificate or refresh the metadata" in refusal_text(response)


def test_every_stored_certificate_is_trusted_during_rollover(org, owner, sp, member):
    from tests.helpers.saml import connect

    idp = TestIdP()
    new_key, new_cert = make_key_pair("idp.acme.test next")
    idp.extra_certs = [new_cert]
    connection = connect(org, owner, idp)
    link(connection, member, "mia-123")
    browser = Client()
    request_id = start(browser)
    response = finish_in(browser, post_to_acs(answer(idp, sp, request_id, key=new_key, cert=new_cert)))
    assert response["Location"] == "/orgs/acme/"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("audience", "https://testserver/sso/acme/saml/metadata", "Set the Entity ID / Audience in your IdP"),
        ("audience", "https://testserver/sso/acme/saml/metadata/extra", "Set the Entity ID / Audience in your IdP"),
        ("audience", "https://testserver/sso/acm/saml/metadata/", "Set the Entity ID / Audience in your IdP"),
        ("recipient", "https://testserver/sso/acme/saml/acs/?x", "ACS URL"),
        ("recipient", "https://testserver/sso/acme/saml/acs", "ACS URL"),
        ("recipient", "https://testserver/sso/acme/saml/acs/x", "ACS URL"),
        ("destination", "https://testserver/sso/acme/saml/acs/extra", "ACS URL"),
        ("destination", "https://TESTSERVER/sso/acme/saml/acs/", "ACS URL"),
        ("destination", False, "ACS URL"),
    ],
)
def test_audience_recipient_and_destination_must_match_exactly(test_idp, sp, mia, field, value, message):
    request_id = start(Client())
    response = post_to_acs(answer(test_idp, sp, request_id, **{field: value}))
    assert response.status_code in {400, 403}
    assert message in refusal_text(response), response.content.decode()[:1200]
    assert not SAMLConsumedAssertion.objects.exists()


def test_the_issuer_must_be_this_connections_idp(test_idp, sp, mia):
    request_id = start(Client())
    response = post_to_acs(answer(test_idp, sp, request_id, issuer="https://idp.evil.test/"))
    refused(response, 403, "comes from a different IdP")


def test_org_b_response_posted_to_org_a_is_refused(test_idp, globex_idp, other_org, sp, mia):
    from sso.saml.config import sp_endpoints
    from tests.helpers.saml import connect

    globex_owner = other_org.memberships.get().user
    globex = connect(other_org, globex_owner, globex_idp)
    link(globex, globex_owner, "mia-123")
    globex_browser = Client()
    globex_request = start(globex_browser, "/sso/globex/saml/login/")
    globex_sp = sp_endpoints("globex")
    genuine = answer(globex_idp, globex_sp, globex_request)
    refused(post_to_acs(genuine), 403, "Set the ACS URL in your IdP")  # posted to acme
    # Aimed at acme (Destination, Recipient, Audience) but signed by globex's IdP: the certificate decides.
    acme_request = start(Client())
    forged = globex_idp.response(
        sp_entity_id=sp.entity_id,
        acs_url=sp.acs_url,
        name_id="mia-123",
        in_response_to=acme_request,
        issuer=test_idp.entity_id,
        response_issuer=test_idp.entity_id,
    )
    refused(post_to_acs(forged), 403, "not in this connection's list")
    # globex's genuine answer still works at globex: it was refused at acme without being used up.
    assert finish_in(globex_browser, post_to_acs(genuine, org_slug="globex"))["Location"] == "/orgs/globex/"


def test_in_response_to_must_be_a_request_we_issued_and_not_yet_used(test_idp, sp, mia):
    refused(post_to_acs(answer(test_idp, sp, "_never_issued")), 400, "does not match any sign-in started here")
    browser = Client()
    request_id = start(browser)
    finish_in(browser, post_to_acs(answer(test_idp, sp, request_id)))
    # A second, freshly signed answer to the same request (new assertion ID): the request is used up.
    refused(post_to_acs(answer(test_idp, sp, request_id)), 400, "already used")


def test_an_assertion_is_accepted_once(test_idp, sp, mia):
    browser = Client()
    saml_response = answer(test_idp, sp, start(browser))
    finish_in(browser, post_to_acs(saml_response))
    refused(post_to_acs(saml_response), 400, "already used")
    assert SAMLConsumedAssertion.objects.count() == 1


def test_unsolicited_responses_are_refused_unless_turned_on(test_idp, sp, mia, owner, saml_connection):
    from sso.saml import actions

    refused(post_to_acs(answer(test_idp, sp, None)), 403, "was not requested by us")
    actions.set_options(saml_connection, actor=owner, allow_idp_initiated=True)
    browser = Client()
    response = browser.post(
        "/sso/acme/saml/acs/", {"SAMLResponse": answer(test_idp, sp, None), "RelayState": "https://evil.test/"}
    )
    assert browser.get(response["Location"])["Location"] == "/orgs/acme/"  # an absolute RelayState is ignored
    browser = Client()
    response = browser.post(
        "/sso/acme/saml/acs/", {"SAMLResponse": answer(test_idp, sp, None), "RelayState": "/orgs/acme/members/"}
    )
    assert browser.get(response["Location"])["Location"] == "/orgs/acme/members/"
    assert browser.get("/orgs/acme/").status_code == 200


def _wrap(saml_response: str, transform) -> str:
    return b64(transform(unb64(saml_response)))


def _evil_assertion(xml: str) -> str:
    start = xml.index("<saml:Assertion")
    end = xml.index("</saml:Assertion>") + len("</saml:Assertion>")
    original = xml[start:end]
    evil = original.replace("mia-123", "adam-42")
    evil = evil[: evil.index("<ds:Signature")] + evil[evil.index("</ds:Signature>") + len("</ds:Signature>") :]
    evil = evil.replace('ID="_a', 'ID="_evil', 1)
    return xml[:start], original, evil, xml[end:]


@pytest.mark.parametrize(
    "attack",
    [
        "duplicate_before",  # an unsigned evil assertion before the signed one
        "duplicate_after",
        "nested_in_evil",  # the signed assertion hidden inside the evil one (nested XSW)
        "signed_in_extensions",  # the signed assertion moved to Extensions, evil one in its place
    ],
)
def test_signature_wrapping_is_refused(test_idp, sp, admin, mia, saml_connection, attack):
    link(saml_connection, admin, "adam-42")
    browser = Client()
    saml_response = answer(test_idp, sp, start(browser))

    def transform(xml):
        head, original, evil, tail = _evil_assertion(xml)
        if attack == "duplicate_before":
            return head + evil + original + tail
        if attack == "duplicate_after":
            return head + original + evil + tail
        if attack == "nested_in_evil":
            return head + evil.replace("</saml:Subject>", "</saml:Subject>" + original, 1) + tail
        status_end = head.index("<samlp:Status>")
        return head[:status_end] + f"<samlp:Extensions>{original}</samlp:Extensions>" + head[status_end:] + evil + tail

    response = post_to_acs(_wrap(saml_response, transform))
    assert response.status_code == 403
    assert response.context["refusal"].code.startswith("saml_")
    assert "exactly one assertion" in refusal_text(response)
    assert browser.get("/orgs/acme/").status_code == 302
    assert not SAMLConsumedAssertion.objects.exists()


def test_an_assertion_changed_after_signing_is_refused(test_idp, sp, admin, mia, saml_connection):
    link(saml_connection, admin, "adam-42")
    saml_response = answer(test_idp, sp, start(Client()))
    response = post_to_acs(_wrap(saml_response, lambda xml: xml.replace("mia-123", "adam-42")))
    refused(response, 403, "changed after signing")


def test_a_signature_moved_onto_another_assertion_is_refused(test_idp, sp, admin, mia, saml_connection):
    link(saml_connection, admin, "adam-42")
    saml_response = answer(test_idp, sp, start(Client()))

    def transform(xml):
        head, original, evil, tail = _evil_assertion(xml)
        signature = original[original.index("<ds:Signature") : original.index("</ds:Signature>") + 15]
        return head + evil.replace("</saml:Issuer>", "</saml:Issuer>" + signature, 1) + tail

    refused(post_to_acs(_wrap(saml_response, transform)), 403, "possible signature wrapping")


def test_a_comment_inside_the_nameid_does_not_truncate_it(test_idp, sp, saml_connection, member):
    link(saml_connection, member, "mia@acme.test", EMAIL)
    browser = Client()
    saml_response = answer(test_idp, sp, start(browser), name_id="mia@acme.test.evil.example", name_id_format=EMAIL)
    tampered = _wrap(saml_response, lambda xml: xml.replace("mia@acme.test.evil", "mia@acme.test<!---->.evil"))
    assert "<!---->" in unb64(tampered)
    validated = validate_response(saml_connection, saml_connection.saml, tampered)
    assert validated.identity.subject == "mia@acme.test.evil.example"
    response = browser.get(post_to_acs(tampered)["Location"])
    assert response.status_code == 403  # signature still valid; the NameID read is the whole signed value
    assert "not linked" in response.content.decode() or "not linked" in response.content.decode().lower()
    assert browser.get("/orgs/acme/").status_code == 302


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"not_on_or_after": "past"}, "has expired"),
        ({"not_before": "future"}, "not valid yet"),
        ({"confirmation_not_on_or_after": "past"}, "SubjectConfirmationData NotOnOrAfter"),
        ({"confirmation_not_on_or_after": False}, "has no NotOnOrAfter"),
    ],
)
def test_time_conditions(test_idp, sp, mia, options, message):
    from datetime import UTC, datetime, timedelta

    moments = {"past": datetime.now(UTC) - timedelta(minutes=10), "future": datetime.now(UTC) + timedelta(minutes=10)}
    values = {key: moments.get(value, value) for key, value in options.items()}
    refused(post_to_acs(answer(test_idp, sp, start(Client()), **values)), 403, message)


def test_a_transient_nameid_cannot_identify_anyone(test_idp, sp, mia):
    from tests.sso.saml.idp import C

    response = post_to_acs(answer(test_idp, sp, start(Client()), name_id_format=C.NAMEID_TRANSIENT))
    refused(response, 403, "transient NameID")


def test_an_idp_error_status_is_explained(test_idp, sp, mia):
    request_id = start(Client())
    assertion = test_idp.assertion_xml(
        sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="x", in_response_to=request_id
    )
    xml = test_idp.response_xml(
        assertion, acs_url=sp.acs_url, in_response_to=request_id, status="urn:oasis:names:tc:SAML:2.0:status:Responder"
    )
    refused(post_to_acs(b64(xml)), 403, "The IdP did not sign you in")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not base64 at all!", "not valid base64"),
        (base64.b64encode(b"<samlp:Response").decode(), "not well-formed XML"),
        (
            b64(
                '<!DOCTYPE r [<!ENTITY e "x">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">'
                "&e;</samlp:Response>"
            ),
            "DOCTYPE",
        ),
        (b64('<!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>'), "DOCTYPE"),
        (b64("<r>" + "x" * 600_000 + "</r>"), "too large"),
        ("", "No SAMLResponse"),
        (b64("<hello/>"), "SAML 2.0"),
    ],
)
def test_hostile_input_gets_a_400_page_never_a_500(saml_connection, payload, message):
    response = post_to_acs(payload)
    refused(response, {"SAML 2.0": 403, "too large": 413}.get(message, 400), message)


def test_an_acs_without_saml_for_the_org_is_a_404(db):
    refused(post_to_acs(b64("<x/>"), org_slug="nowhere"), 404, "not set up")
    assert Client().get("/sso/acme/saml/acs/").status_code == 405


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_processes_posting_the_same_assertion_at_once_accept_it_once(test_idp, sp, org, owner, member):
    """Two ACS requests racing on separate database connections: the unique constraint lets exactly one through."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from tests.helpers.saml import connect

    connection = connect(org, owner, test_idp)
    link(connection, member, "mia-123")
    saml_response = answer(test_idp, sp, start(Client()))

    def post_once(_):
        try:
            return post_to_acs(saml_response).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(post_once, range(2)))
    assert statuses == [302, 400]
    assert SAMLConsumedAssertion.objects.count() == 1


def _drop(tag: str):
    def transform(xml: str) -> str:
        start = xml.index(f"<{tag}")
        closing = f"</{tag}>"
        self_closing = xml.index(">", start)
        if xml[self_closing - 1] == "/":
            return xml[:start] + xml[self_closing + 1 :]
        return xml[:start] + xml[xml.index(closing, start) + len(closing) :]

    return transform


@pytest.mark.parametrize(
    "transform",
    [
        _drop("saml:Subject"),
        _drop("saml:NameID"),
        _drop("saml:SubjectConfirmationData"),
        _drop("saml:Conditions"),
        _drop("saml:AudienceRestriction"),
        _drop("saml:AuthnStatement"),
        _drop("samlp:Status"),
        _drop("ds:SignatureValue"),
        lambda xml: xml.replace('NotOnOrAfter="', 'NotOnOrAfter="garbage', 1),
        lambda xml: xml.replace('AuthnInstant="', 'AuthnInstant="x', 1),
        lambda xml: xml.replace('Version="2.0"', 'Version="1.1"', 1),
        lambda xml: xml.replace(
            "<saml:Issuer>", "<saml:Issuer>https://idp.acme.test/saml/metadata</saml:Issuer><saml:Issuer>", 1
        ),
        lambda xml: xml.replace("urn:oasis:names:tc:SAML:2.0:assertion", "urn:example:not-saml"),
        lambda xml: xml.replace('URI="#', 'URI="#nope', 1),
        lambda xml: xml.replace('URI="#_a', 'URI="', 1),
    ],
)
def test_structurally_broken_responses_are_refused_never_a_500(test_idp, sp, mia, transform):
    browser = Client()
    response = post_to_acs(_wrap(answer(test_idp, sp, start(browser)), transform))
    assert response.status_code in {400, 403}, response.content[:500]
    assert "sent an answer we could not accept" in refusal_text(response)
    assert browser.get("/orgs/acme/").status_code == 302


def test_a_signature_without_keyinfo_verifies_with_the_stored_certificate(test_idp, sp, mia):
    browser = Client()
    saml_response = _wrap(answer(test_idp, sp, start(browser)), _drop("ds:KeyInfo"))
    assert "KeyInfo" not in unb64(saml_response)
    assert finish_in(browser, post_to_acs(saml_response))["Location"] == "/orgs/acme/"


def test_an_encrypted_assertion_is_decrypted_with_the_sp_key(test_idp, sp, mia, saml_connection):
    from tests.sso.saml.idp import encrypt_assertion

    browser = Client()
    saml_response = encrypt_assertion(answer(test_idp, sp, start(browser)), saml_connection.saml.sp_certificate)
    assert "EncryptedAssertion" in unb64(saml_response) and "mia-123" not in unb64(saml_response)
    assert finish_in(browser, post_to_acs(saml_response))["Location"] == "/orgs/acme/"


def test_an_assertion_encrypted_for_someone_else_is_refused(test_idp, sp, mia):
    from tests.sso.saml.idp import encrypt_assertion

    _key, stranger = make_key_pair("another sp")
    saml_response = encrypt_assertion(answer(test_idp, sp, start(Client())), stranger)
    refused(post_to_acs(saml_response), 400, "could not be decrypted")
