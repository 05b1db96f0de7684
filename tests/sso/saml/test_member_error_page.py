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
    assert "<details>" in page  # the technical reason is folded away for members

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
