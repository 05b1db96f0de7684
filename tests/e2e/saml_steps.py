"""Browser steps with SimpleSAMLphp that several SAML scenarios share: signing in at the IdP, and an admin adding an
organization's SAML connection from the IdP's metadata URL (and the IdP trusting our SP in return).

The one place that knows these pages, so scenarios keep working when they change.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.harness import ProductServer
from tests.e2e.idp_saml import SimpleSAMLphpIdP

SESSION_COOKIE = "__Host-orgsecurity-session"


def sso_page(org_slug: str) -> str:
    """The path of an organization's SSO settings page."""
    return f"/orgs/{org_slug}/settings/security/sso/"


def idp_sign_in(page: Any, saml_idp: SimpleSAMLphpIdP, username: str, password: str) -> None:
    """On SimpleSAMLphp's login page: type the IdP credentials and submit (its answer auto-posts to our ACS).

    Fails unless the browser is at the IdP's login form, so a scenario notices when the IdP answered by itself
    (it still had a session for this browser) or the product never sent the browser there.
    """
    expect(page.locator("#username")).to_be_visible()
    assert page.url.startswith(saml_idp.base_url), page.url
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit_button")


def session_cookie(page: Any, product: ProductServer) -> dict | None:
    """The product's session cookie in the page's browser (Playwright's cookie dict), or None when there is none."""
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies(product.base_url)}
    return cookies.get(SESSION_COOKIE)


def add_saml_connection(page: Any, product: ProductServer, saml_idp: SimpleSAMLphpIdP, org_slug: str, name: str) -> str:
    """As a signed-in owner or admin of ``org_slug`` in ``page``: add a SAML connection called ``name`` from the
    IdP's metadata URL, then have the IdP trust our SP by importing the SP metadata the product serves.

    Leaves ``page`` on the new connection's page and returns its URL. The connection's status is off.
    """
    page.goto(product.url(sso_page(org_slug)))
    page.get_by_role("button", name="Add SAML connection").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Metadata URL", exact=True).check()
    page.get_by_label("IdP metadata URL").fill(saml_idp.metadata_url)
    page.get_by_role("button", name="Create SAML connection").click()
    expect(page.locator("main")).to_contain_text("SAML connection created")

    # The IdP admin imports our SP metadata (served from PUBLIC_BASE_URL, https://app.test:<port>).
    metadata_path = f"/sso/{org_slug}/saml/metadata/"
    metadata = product.request("GET", metadata_path)
    assert metadata.status == 200, metadata.status
    assert f'entityID="{product.url(metadata_path)}"' in metadata.text
    # Its logout messages signed, as SAML Core §3.7 (and our SLS endpoint) requires of single logout over
    # HTTP-Redirect (Okta, Entra ID and ADFS sign them; SimpleSAMLphp does when asked).
    saml_idp.register_sp(metadata_xml=metadata.body, **{"sign.logout": True})
    return page.url
