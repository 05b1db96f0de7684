"""A single-valued attribute (email) arriving with several values, in real signed assertions (issue 14 item 16,
the SAML side): refused as OIDC refuses an ``email`` claim sent as a list, never "first value wins"."""

from __future__ import annotations

import html

from django.test import Client

from audit.models import AuditEvent
from sso.connections import actions as sso_actions
from sso.models import SSOIdentity
from tests.helpers.saml import finish_in, post_to_acs, start
from tests.helpers.sso import refusal_text
from tests.sso.saml.idp import redirect_message
from tests.sso.saml.test_acs import answer, mia  # noqa: F401 (fixture)

TWO_EMAILS = {"mail": ["mia@acme.test", "boss@acme.test"], "displayName": ["Mia", "M. Member"]}


def test_a_member_whose_email_attribute_has_two_values_is_refused(test_idp, sp, mia):  # noqa: F811
    browser = Client()
    request_id = start(browser)
    response = finish_in(browser, post_to_acs(answer(test_idp, sp, request_id, attributes=TWO_EMAILS)))
    assert response.status_code == 403
    page = refusal_text(response)
    assert "The IdP sent 2 different email addresses in the attribute 'mail'" in page
    assert "send exactly one value" in page
    assert browser.get("/orgs/acme/").status_code == 302
    assert not AuditEvent.objects.filter(action="auth.signed_in").exists()


def test_repeated_equal_values_count_as_one_and_names_take_the_first(test_idp, sp, saml_connection, client_for, admin):
    browser = client_for(admin)
    request_id = redirect_message(
        browser.post(f"/orgs/acme/settings/security/sso/{saml_connection.pk}/test/")["Location"]
    )[1]["RelayState"][0]
    attributes = {"mail": ["Admin@acme.test", "admin@ACME.test "], "displayName": ["Adam Admin", "A. Admin"]}
    result = finish_in(browser, post_to_acs(answer(test_idp, sp, request_id, name_id="adam", attributes=attributes)))
    run = saml_connection.test_runs.get()
    assert run.result == "success", run.error
    assert run.details["mapped"]["email"] == "admin@acme.test"
    assert run.details["mapped"]["display_name"] == "Adam Admin"
    assert "SSO test: Succeeded" in browser.get(result["Location"]).content.decode()


def test_an_admins_test_run_says_why_and_links_nobody(test_idp, sp, saml_connection, client_for, admin):
    browser = client_for(admin)
    request_id = redirect_message(
        browser.post(f"/orgs/acme/settings/security/sso/{saml_connection.pk}/test/")["Location"]
    )[1]["RelayState"][0]
    result = finish_in(browser, post_to_acs(answer(test_idp, sp, request_id, name_id="adam", attributes=TWO_EMAILS)))
    page = html.unescape(browser.get(result["Location"]).content.decode())
    assert "SSO test: Failed" in page and "2 different email addresses in the attribute 'mail'" in page
    event = AuditEvent.objects.filter(action="sso.tested").latest("seq")
    assert event.details["result"] == "failure" and "different email addresses" in event.details["error"]
    assert not SSOIdentity.objects.exists()


def test_jit_creates_no_account_from_two_emails(test_idp, sp, saml_connection, owner, acme_domain):
    sso_actions.update_connection(saml_connection, actor=owner, allow_jit=True)
    browser = Client()
    request_id = start(browser)
    attributes = {"mail": ["new@acme.test", "other@acme.test"]}
    response = finish_in(browser, post_to_acs(answer(test_idp, sp, request_id, name_id="new-1", attributes=attributes)))
    assert response.status_code == 403
    assert not SSOIdentity.objects.exists()
