"""A member whose SSO sign-in fails sees what happened in plain words, the time, the support contact and a
reference ID; the organization's admins find that reference in the audit log; admins see the technical reason."""

from __future__ import annotations

import re

from django.test import Client

from audit.models import AuditEvent
from tests.helpers.saml import post_to_acs, start
from tests.sso.saml.idp import TestIdP


def test_a_member_sees_plain_words_and_a_reference_the_admin_finds_in_the_audit_log(
    client_for, org, owner, saml_connection, sp, test_idp
):
    saml_connection.support_contact = "help@acme.test"
    saml_connection.save()
    browser = Client()
    request_id = start(browser)
    stranger = TestIdP(saml_connection.saml.idp_entity_id)
    response = post_to_acs(
        stranger.response(sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="mia-123", in_response_to=request_id)
    )
    page = response.content.decode()
    assert response.status_code in (400, 403)
    assert "Acme Inc.&#x27;s sign-in service sent an answer we could not accept" in page
    assert 'href="mailto:help@acme.test"' in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)
    reference = re.search(r'<code id="sso-reference">([0-9a-f]{32})</code>', page).group(1)
    assert reference == response["X-Request-ID"]
    # The technical reason (the IdP's signature did not verify) is not in the member's page at all, not folded away.
    assert "<details" not in page and "Details for admins" not in page
    assert "fingerprint" not in page and "certificate" not in page.lower() and "saml_" not in page
    assert "Your admin finds what went wrong under this reference." in page

    event = AuditEvent.objects.get(action="sso.sign_in_refused")
    assert event.request_id == reference
    found = client_for(owner).get(f"/orgs/acme/audit/?ref={reference}").content.decode()
    assert "sso.sign_in_refused" in found or "refused" in found.lower()
    assert found.count(reference) >= 1


def test_an_unreachable_idp_gets_a_page_of_ours_that_says_so(rf):
    from orgsecurity.refusals import Refusal
    from sso.signin.refusals import member_message

    refused = Refusal("provider_unreachable", "GET https://idp/.well-known/jwks.json: timed out", 502)
    assert "We could not reach Acme's sign-in service" in member_message(refused, "Acme")
    assert "jwks" not in member_message(refused, "Acme")


def test_a_program_asking_for_json_gets_the_plain_words_too(org, owner, saml_connection, sp, test_idp):
    browser = Client()
    request_id = start(browser)
    stranger = TestIdP(saml_connection.saml.idp_entity_id)
    answer = stranger.response(
        sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="mia-123", in_response_to=request_id
    )
    response = Client().post("/sso/acme/saml/acs/", {"SAMLResponse": answer}, headers={"accept": "application/json"})
    error = response.json()["error"]
    assert "sent an answer we could not accept" in error["message"]
    assert "signature" not in error["message"].lower()
    event = AuditEvent.objects.get(action="sso.sign_in_refused")  # the reason stays in the audit log for the admin
    assert event.details["message"] and event.details["message"] != error["message"]


def test_admins_of_the_organization_see_the_detailed_fix_members_do_not(rf, org, owner, member, saml_connection):
    from django.contrib.sessions.middleware import SessionMiddleware

    from sso.errors import SSOSignInRefused
    from sso.signin.refusals import refusal_page

    technical = "The IdP's certificate CN=idp.acme.test expired on 2026-01-01: upload its new certificate."

    def page_for(user) -> str:
        request = rf.get("/sso/acme/finish/")
        SessionMiddleware(lambda r: None).process_request(request)
        request.user = user
        refused = SSOSignInRefused(technical, code="saml_certificate_expired", status=403)
        return refusal_page(request, refused, saml_connection).content.decode()

    admin_page = page_for(owner)
    assert "Details for admins" in admin_page and "expired on 2026-01-01" in admin_page
    member_page = page_for(member)
    assert "expired on 2026-01-01" not in member_page and "CN=idp.acme.test" not in member_page
    assert "Acme Inc.&#x27;s sign-in service sent an answer we could not accept" in member_page


def test_a_repeat_within_the_audit_throttle_gets_a_reference_support_finds(client_for, saml_connection, sp, test_idp):
    """The refusal page tells members to try again and quote the reference if it keeps happening; the repeat is not
    audited on its own (throttled per connection, address and reason), so its reference must name the event that
    is: the one the support console's search finds."""
    from django.core.cache import cache

    from orgsecurity.models import User

    cache.clear()
    stranger = TestIdP(saml_connection.saml.idp_entity_id)
    references, request_ids = [], []
    for _attempt in range(2):
        request_id = start(Client())
        response = post_to_acs(
            stranger.response(
                sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="mia-123", in_response_to=request_id
            )
        )
        page = response.content.decode()
        references.append(re.search(r'<code id="sso-reference">([0-9a-f]{32})</code>', page).group(1))
        request_ids.append(response["X-Request-ID"])

    event = AuditEvent.objects.get(action="sso.sign_in_refused")  # one event for both attempts
    assert event.request_id == request_ids[0]
    assert references == [request_ids[0], request_ids[0]] and request_ids[1] != request_ids[0]
    staff = User.objects.create_user("ops@platform.test", "x-long-enough-password", is_staff=True)
    found = client_for(staff).get("/support/", {"q": references[1]}).content.decode()
    assert found.count("Audit event") == 1 and "sso.sign_in_refused" in found
