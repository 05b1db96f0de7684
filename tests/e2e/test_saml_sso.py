"""SAML SSO in a real browser against SimpleSAMLphp: the product over HTTPS as https://app.test, the IdP on
127.0.0.1, so the IdP's POST back to the ACS is cross-site as in real life and the SameSite=Lax session cookie is
exercised.

One scenario in steps (the IdP connection made in the first step is what the later ones use): an admin pastes the
IdP's metadata URL and runs Test SSO; a member links their account, signs out, and signs in through the IdP alone;
signing out ends the session here and, through SAML single logout, at the IdP; a wrong IdP password, a person the
IdP does not know, and an IdP account nobody linked here all end on clear pages.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import DEMO_MEMBER, DEMO_OWNER
from tests.e2e.harness import sign_in_with_password as sign_in
from tests.e2e.saml_steps import add_saml_connection, idp_sign_in, session_cookie, sso_page

pytestmark = pytest.mark.e2e

SSO_PAGE = sso_page("acme")


@pytest.fixture(scope="module")
def saml_connection_url() -> dict:
    """Carries the connection page's URL from the admin's step to the later ones."""
    return {}


def test_an_admin_pastes_the_idp_metadata_url_and_test_sso_succeeds(
    new_context, product, saml_idp, saml_connection_url
):
    admin = new_context().pages[0]
    sign_in(admin, product, DEMO_OWNER)
    saml_connection_url["url"] = add_saml_connection(admin, product, saml_idp, "acme", "Acme SimpleSAMLphp")
    main = admin.inner_text("main")
    assert saml_idp.entity_id in main
    assert saml_idp.signing.sha256_fingerprint in main  # the IdP's signing certificate, by fingerprint
    assert product.url("/sso/acme/saml/metadata/") in main and product.url("/sso/acme/saml/acs/") in main

    admin.get_by_role("button", name="Test SSO").click()
    idp_sign_in(admin, saml_idp, "owner", saml_idp.user("owner").password)
    expect(admin.get_by_role("heading", level=1)).to_have_text("SSO test: Succeeded")
    result = admin.inner_text("main")
    assert saml_idp.user("owner").uid in result  # the persistent NameID
    assert "owner@acme.test" in result and "Olivia Owner" in result
    assert "a test that only checks what the IdP sends never links an account" in result

    admin.goto(saml_connection_url["url"])
    admin.get_by_role("button", name="Move to testing").click()  # off → on goes through testing
    expect(admin.locator("main")).to_contain_text("SSO is now Testing.")
    admin.get_by_role("button", name="Turn on for everyone").click()
    expect(admin.locator("main")).to_contain_text("SSO is now On.")


def test_an_owners_test_run_signed_in_as_someone_else_asks_before_linking(
    new_context, product, saml_idp, saml_connection_url
):
    """Issue 14 item 1: Test SSO with a test session, and at the IdP the owner signs in as another person. The
    product shows both emails side by side and links nothing unless the owner confirms; here the owner declines."""
    assert saml_connection_url, "the admin step must run first"
    someone_else = saml_idp.user("newhire")
    owner = new_context().pages[0]
    sign_in(owner, product, DEMO_OWNER)
    owner.goto(saml_connection_url["url"])
    owner.get_by_label("Test session").select_option("120")
    owner.get_by_role("button", name="Test SSO").click()
    idp_sign_in(owner, saml_idp, "newhire", someone_else.password)

    expect(owner.get_by_role("heading", level=1)).to_have_text("Link a different email?")
    confirmation_url = owner.url
    assert re.fullmatch(re.escape(product.url(SSO_PAGE)) + r"link/\d+/", confirmation_url), confirmation_url
    emails = owner.get_by_role("table", name="The two emails")
    header = [cell.strip() for cell in emails.locator("thead th").all_inner_texts()]
    assert header == ["", "Your account here", "Signed in at the IdP"]
    email_row = [cell.strip() for cell in emails.locator("tbody tr").first.locator("th, td").all_inner_texts()]
    assert email_row == ["Email", DEMO_OWNER, someone_else.email]  # side by side
    assert someone_else.uid in emails.inner_text()

    owner.get_by_role("button", name="Don't link").click()
    expect(owner.get_by_role("heading", level=1)).to_have_text("SSO test: Succeeded")
    result = owner.inner_text("main")
    assert "Nothing was linked." in result and "Not linked (declined)" in result
    owner.goto(product.url(SSO_PAGE))
    expect(owner.get_by_role("region", name="Your account")).to_contain_text("Link SSO")  # still not linked
    owner.goto(confirmation_url)  # answered once: nothing more to confirm
    expect(owner.get_by_role("heading", level=1)).to_have_text("Nothing to confirm")


def test_a_member_links_their_account_then_signs_in_through_the_idp_alone(
    new_context, product, saml_idp, saml_connection_url
):
    assert saml_connection_url, "the admin step must run first"
    member = saml_idp.user("member")
    browser = new_context().pages[0]
    sign_in(browser, product, DEMO_MEMBER)
    browser.goto(product.url(SSO_PAGE))
    browser.get_by_role("button", name="Link SSO").click()
    idp_sign_in(browser, saml_idp, "member", member.password)

    expect(browser.locator("main")).to_contain_text(f"You are linked to {member.uid}")
    browser.get_by_role("button", name=re.compile("^Sign out")).click()
    expect(browser.get_by_role("heading", level=1)).to_have_text("Sign in")

    # A fresh browser: the IdP alone signs the member in.
    fresh = new_context().pages[0]
    fresh.goto(product.url("/sso/acme/login/"))
    idp_sign_in(fresh, saml_idp, "member", member.password)
    expect(fresh.get_by_role("heading", level=1)).to_have_text("Acme Inc.")
    assert fresh.url == product.url("/orgs/acme/")
    assert "You are member" in fresh.inner_text("main")
    cookie = session_cookie(fresh, product)
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # The sign-out page says the IdP session ends too (the IdP has a single logout URL).
    fresh.goto(product.url("/accounts/logout/"))
    expect(fresh.locator("#idp-sign-out")).to_contain_text(
        "Signing out here also ends your session at Acme SimpleSAMLphp (SAML single logout)"
    )
    # The plain "Sign out" ends the session here, then SAML single logout at the IdP: SimpleSAMLphp gets our signed
    # LogoutRequest, ends its session and answers with a signed LogoutResponse, which our page confirms.
    fresh.get_by_role("button", name=re.compile("^Sign out")).first.click()
    expect(fresh.get_by_role("heading", level=1)).to_have_text("You are signed out")
    expect(fresh.locator("main")).to_contain_text("Your session here has ended and Acme SimpleSAMLphp confirmed")
    assert fresh.url.startswith(product.url("/sso/acme/saml/sls/"))
    fresh.goto(product.url("/orgs/acme/"))
    assert fresh.url.startswith(product.url("/accounts/login/"))
    # The IdP session ended too: signing in through the IdP asks for the IdP password again.
    fresh.goto(product.url("/sso/acme/login/"))
    idp_sign_in(fresh, saml_idp, "member", member.password)
    expect(fresh.get_by_role("heading", level=1)).to_have_text("Acme Inc.")


def test_a_wrong_idp_password_and_an_unknown_person_stay_at_the_idp(
    new_context, product, saml_idp, saml_connection_url
):
    assert saml_connection_url, "the admin step must run first"
    browser = new_context().pages[0]
    browser.goto(product.url("/sso/acme/login/"))
    idp_sign_in(browser, saml_idp, "member", "not-the-password")
    expect(browser.locator("body")).to_contain_text("Incorrect username or password")
    assert browser.url.startswith(saml_idp.base_url)

    idp_sign_in(browser, saml_idp, "nobody-here", "whatever-password")
    expect(browser.locator("body")).to_contain_text("Incorrect username or password")
    assert browser.url.startswith(saml_idp.base_url)
    browser.goto(product.url("/orgs/acme/"))  # nobody was signed in here
    assert browser.url.startswith(product.url("/accounts/login/"))


def test_an_idp_account_nobody_linked_here_ends_on_a_clear_page(new_context, product, saml_idp, saml_connection_url):
    assert saml_connection_url, "the admin step must run first"
    browser = new_context().pages[0]
    browser.goto(product.url("/sso/acme/login/"))
    idp_sign_in(browser, saml_idp, "newhire", saml_idp.user("newhire").password)

    expect(browser.get_by_role("heading", level=1)).to_have_text("Single sign-on did not work")
    assert browser.url.startswith(product.url("/sso/acme/finish/"))
    assert "not linked to an account here" in browser.inner_text("main")
    browser.goto(product.url("/orgs/acme/"))
    assert browser.url.startswith(product.url("/accounts/login/"))
