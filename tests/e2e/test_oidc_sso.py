"""OIDC SSO in a real browser: the product as deployed (gunicorn, HTTPS, production cookies) and node-oidc-provider.

An admin enters the provider's issuer, client ID and secret, runs Test SSO and turns SSO on; a member links
their account, signs in through the provider in a fresh browser, and signs out. The scenario uses an
organization of its own, so the demo org other browser tests use keeps its settings.
"""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import sign_in_with_password

pytestmark = pytest.mark.e2e

PASSWORD = "oidc-e2e-password-" + secrets.token_hex(4)


@pytest.fixture
def oidc_org(product, oidc_provider):
    """A fresh organization with an owner, an admin and a member, and its client at the provider."""
    slug = f"oidc{secrets.token_hex(3)}"
    product.manage(
        "createorg", slug, "--name", "OIDC Corp", "--owner", f"owner@{slug}.test", "--password-from-env", "PW",
        env={"PW": PASSWORD},
    )  # fmt: skip
    product.create_user(f"admin@{slug}.test", PASSWORD, org=slug, role="admin")
    product.create_user(f"member@{slug}.test", PASSWORD, org=slug, role="member")
    client = oidc_provider.add_org_client(product.base_url, slug)
    return slug, client


def sign_in_at_provider(page, oidc_provider, login: str) -> None:
    """On the provider's sign-in page: the test user's login and password."""
    user = oidc_provider.user(login)
    page.wait_for_url(f"{oidc_provider.issuer}/**")
    page.fill("input[name=login]", user.login)
    page.fill("input[name=password]", user.password)
    page.get_by_role("button", name="Sign-in").click()


def test_admin_configures_oidc_tests_it_and_a_member_signs_in_and_out(new_context, product, oidc_provider, oidc_org):
    slug, client = oidc_org
    sso_page = product.url(f"/orgs/{slug}/settings/security/sso/")

    # The admin adds the connection with three values from the provider.
    admin = new_context().pages[0]
    sign_in_with_password(admin, product, f"admin@{slug}.test", PASSWORD)
    admin.goto(sso_page)
    admin.get_by_role("button", name="Add OIDC connection").click()  # an <a role="button">
    expect(admin.locator("#oidc-redirect-uri")).to_have_value(product.url(f"/sso/{slug}/oidc/callback/"))
    admin.get_by_label("Issuer URL").fill(oidc_provider.issuer)
    admin.get_by_label("Client ID", exact=True).fill(client.client_id)
    admin.get_by_label("Client secret", exact=True).fill(client.client_secret)
    admin.get_by_role("button", name="Read the provider and save").click()
    expect(admin.locator("main")).to_contain_text("The OpenID Connect connection is saved")
    expect(admin.locator("#oidc-redirect-uri")).to_have_value(product.url(f"/sso/{slug}/oidc/callback/"))
    assert client.client_secret not in admin.content()
    connection_url = admin.url

    # Test SSO: a real round trip through the provider, as the admin.
    admin.get_by_role("button", name="Test SSO").click()
    sign_in_at_provider(admin, oidc_provider, "admin")
    expect(admin.get_by_role("heading", level=1)).to_have_text("SSO test: Succeeded")
    main = admin.inner_text("main")
    assert oidc_provider.user("admin").sub in main and "admin@acme.test" in main
    # Only a check: nothing is linked, and the provider's email is not this admin's account email.
    assert "never links an account" in main and f"not you (admin@{slug}.test)" in main

    admin.goto(connection_url)
    admin.get_by_role("button", name="Move to testing").click()  # off → on goes through testing
    expect(admin.locator("main")).to_contain_text("SSO is now Testing.")
    admin.get_by_role("button", name="Turn on for everyone").click()
    expect(admin.locator("main")).to_contain_text("SSO is now On.")

    # A member links their account: signed in with their password, then confirmed at the provider.
    member = new_context().pages[0]
    sign_in_with_password(member, product, f"member@{slug}.test", PASSWORD)
    member.goto(sso_page)
    member.get_by_role("button", name="Link SSO").click()
    sign_in_at_provider(member, oidc_provider, "member")
    # The provider knows them as member@acme.test, not member@<slug>.test: linking waits for their confirmation.
    expect(member.get_by_role("heading", level=1)).to_have_text("Link a different email?")
    emails = member.get_by_role("table", name="The two emails").inner_text()
    assert f"member@{slug}.test" in emails and oidc_provider.user("member").email in emails
    member.get_by_role("button", name="Link to my account").click()
    member.wait_for_url(sso_page)
    expect(member.locator("main")).to_contain_text(f"You are linked to {oidc_provider.user('member').sub}")

    # Later, in a fresh browser, the provider alone signs them in; then they sign out.
    fresh = new_context().pages[0]
    fresh.goto(product.url(f"/sso/{slug}/oidc/login/"))
    sign_in_at_provider(fresh, oidc_provider, "member")
    fresh.wait_for_url(product.url(f"/orgs/{slug}/"))
    expect(fresh.get_by_role("heading", level=1)).to_have_text("OIDC Corp")
    fresh.get_by_role("button", name=f"Sign out member@{slug}.test").click()
    fresh.wait_for_url(product.url("/accounts/login/"))
    fresh.goto(product.url(f"/orgs/{slug}/"))
    assert fresh.url.startswith(product.url("/accounts/login/"))


def test_a_cancelled_sign_in_at_the_provider_shows_a_clear_page(new_context, product, oidc_provider, oidc_org):
    slug, client = oidc_org
    command = ["configure_sso", slug, "--protocol", "oidc", "--issuer", oidc_provider.issuer,
               "--client-id", client.client_id, "--client-secret-env", "SECRET"]  # fmt: skip
    printed = product.manage(*command, env={"SECRET": client.client_secret}).stdout
    assert f"redirect URI: {product.url(f'/sso/{slug}/oidc/callback/')}" in printed
    assert client.client_secret not in printed
    product.shell(
        "from sso.connections import actions\nfrom sso.models import SSOConnection\n"
        f"connection = SSOConnection.objects.get(organization__slug={slug!r})\n"
        "actions.set_status(connection, actor=connection.admin_owner, status='testing')\n"
        "actions.set_status(connection, actor=connection.admin_owner, status='on')\n"
    )
    page = new_context().pages[0]
    page.goto(product.url(f"/sso/{slug}/oidc/login/"))
    page.wait_for_url(f"{oidc_provider.issuer}/**")
    page.get_by_role("link", name="[ Cancel ]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Single sign-on did not work")
    expect(page.locator("main")).to_contain_text("cancelled or refused at your identity provider (access_denied)")
    assert page.url.startswith(product.url(f"/sso/{slug}/oidc/callback/"))
