"""OIDC RP-initiated logout in a real browser against node-oidc-provider (issue 20, "sign-out reaches the IdP").

A connection whose admins turned on "signing out here also signs out at the provider": a member signs in through the
provider and presses Sign out. The browser goes to the provider's end_session_endpoint with the sign-in's ID token
(``id_token_hint``), our client ID and ``post_logout_redirect_uri``; the provider ends its session and sends the
browser back to our sign-in page, which says the provider's session ended too. Signing in again then asks for the
provider password, where before it would have signed the member straight back in.

An organization of its own (random slug), so the demo org acme and the other browser tests are left alone.
"""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import ProductServer
from tests.e2e.idp_oidc import NodeOIDCProvider

pytestmark = pytest.mark.e2e

PASSWORD = "oidc-logout-password-" + secrets.token_hex(4)
IDP_NAME = "Node OP"


@pytest.fixture
def logout_org(product: ProductServer, oidc_provider: NodeOIDCProvider) -> str:
    """An organization with an OIDC connection to the provider (on, RP-initiated logout turned on) and a member
    linked to the provider's ``member`` (the demo member@acme.test, also a member here). Returns its slug."""
    slug = f"slo{secrets.token_hex(3)}"
    client = oidc_provider.add_org_client(product.base_url, slug)
    product.manage(
        "createorg", slug, "--name", "Logout Co", "--owner", f"owner@{slug}.test", "--password-from-env", "PW",
        env={"PW": PASSWORD},
    )  # fmt: skip
    product.manage("configure_sso", slug, "--protocol", "oidc", "--name", IDP_NAME, "--issuer", oidc_provider.issuer,
                   "--client-id", client.client_id, "--client-secret-env", "SECRET",
                   env={"SECRET": client.client_secret})  # fmt: skip
    person = oidc_provider.user("member")
    product.shell(
        "from orgsecurity import actions as core\n"
        "from orgsecurity.models import Organization, User\n"
        "from sso.assertion import AssertedIdentity\n"
        "from sso.connections import actions\n"
        "from sso.models import SSOConnection\n"
        "from sso.oidc.actions import update_oidc_settings\n"
        f"org = Organization.objects.get(slug={slug!r}); owner = User.objects.get(email='owner@{slug}.test')\n"
        # The demo member, whose email the provider's "member" signs in with, joins this organization too.
        f"member = User.objects.get(email={person.email!r})\n"
        "core.add_member(org, actor=owner, user=member, role='member', via='e2e')\n"
        "connection = SSOConnection.objects.get(organization=org)\n"
        "update_oidc_settings(connection, actor=owner, rp_initiated_logout=True)\n"
        "actions.set_status(connection, actor=owner, status='testing')\n"
        "actions.set_status(connection, actor=owner, status='on')\n"
        f"identity = AssertedIdentity(issuer={oidc_provider.issuer!r}, subject={person.sub!r}, subject_format='oidc',"
        f" attributes={{'email': [{person.email!r}]}}, email_verified=True)\n"
        "actions.link_identity(connection, member, identity, actor=owner, via='e2e')\n"
    )
    return slug


def sign_in_at_provider(page, oidc_provider: NodeOIDCProvider, login: str) -> None:
    """On the provider's sign-in page (failing unless the browser is there): the test user's login and password."""
    user = oidc_provider.user(login)
    page.wait_for_url(f"{oidc_provider.issuer}/**")
    expect(page.locator("input[name=login]")).to_be_visible()
    page.fill("input[name=login]", user.login)
    page.fill("input[name=password]", user.password)
    page.get_by_role("button", name="Sign-in").click()


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_signing_out_also_ends_the_provider_session(page, product, oidc_provider, logout_org):
    slug = logout_org
    page.goto(product.url(f"/sso/{slug}/oidc/login/"))
    sign_in_at_provider(page, oidc_provider, "member")
    page.wait_for_url(product.url(f"/orgs/{slug}/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Logout Co")

    with page.expect_request(lambda request: request.url.startswith(f"{oidc_provider.issuer}/session/end")) as sent:
        page.get_by_role("button", name=f"Sign out {oidc_provider.user('member').email}").click()
    query = parse_qs(urlsplit(sent.value.url).query)
    assert query["post_logout_redirect_uri"] == [product.url("/accounts/login/")]
    assert query["client_id"] == [f"orgsecurity-{slug}"]
    hint = jwt_claims(query["id_token_hint"][0])
    assert hint["iss"] == oidc_provider.issuer and hint["sub"] == oidc_provider.user("member").sub
    assert hint["aud"] == f"orgsecurity-{slug}"

    # The provider asks, as node-oidc-provider does; yes ends its session and sends the browser back to us.
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(product.url("/accounts/login/"))
    expect(page.locator("main")).to_contain_text(f"You are signed out, here and at {IDP_NAME}.")
    page.goto(product.url(f"/orgs/{slug}/"))
    assert page.url.startswith(product.url("/accounts/login/"))

    # The provider session is gone: signing in again asks for the provider password.
    page.goto(product.url(f"/sso/{slug}/oidc/login/"))
    sign_in_at_provider(page, oidc_provider, "member")
    page.wait_for_url(product.url(f"/orgs/{slug}/"))
