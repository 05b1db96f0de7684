"""Before unlinking an SSO identity, in a real browser: the connection page's "Unlink…" opens the blast-radius page,
which names the person and what they lose (with a CSV of the same list); nothing changes until the admin confirms,
and then the page says so after a redirect.

An organization of its own (random slug), so the demo org acme and the other browser tests are left alone.
"""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import ProductServer
from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "unlink-product-password"


@pytest.fixture
def linked_org(product: ProductServer) -> tuple[str, str]:
    """An organization with an owner, a member linked to a SAML connection (status on); returns (slug, connection
    id)."""
    slug = f"unl-{secrets.token_hex(3)}"
    product.manage(
        "createorg",
        slug,
        "--name",
        "Unlink Co",
        "--owner",
        f"owner@{slug}.test",
        "--password-from-env",
        "PW",
        env={"PW": PASSWORD},
    )
    connection_id = product.shell(
        "from orgsecurity import actions as org_actions\n"
        "from orgsecurity.models import Organization, User\n"
        "from sso.assertion import AssertedIdentity\n"
        "from sso.connections import actions\n"
        f"org = Organization.objects.get(slug={slug!r}); owner = User.objects.get(email='owner@{slug}.test')\n"
        f"member = User.objects.create_user('peter@{slug}.test', 'x-password-1234')\n"
        "org_actions.add_member(org, actor=owner, user=member, role='member', via='tests')\n"
        "c = actions.create_connection(\n"
        "    org, actor=owner, protocol='saml', name='Unlink IdP', attribute_map={'email': 'mail'}\n"
        ")\n"
        "actions.set_status(c, actor=owner, status='testing'); actions.set_status(c, actor=owner, status='on')\n"
        "identity = AssertedIdentity(\n"
        "    issuer='https://idp.unlink.test', subject='peter-123', subject_format='persistent',\n"
        "    attributes={'mail': [member.email]},\n"
        ")\n"
        "actions.link_identity(c, member, identity, actor=member, via='tests')\n"
        "print(c.pk)\n"
    ).strip()
    return slug, connection_id


def test_unlinking_shows_who_is_affected_first(page, product, linked_org):
    slug, connection_id = linked_org
    sign_in(page, product, f"owner@{slug}.test", PASSWORD)
    page.goto(product.url(f"/orgs/{slug}/settings/security/sso/{connection_id}/"))
    page.get_by_role("button", name="Unlink…").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Unlink peter@{slug}.test's SSO identity?")
    expect(page.locator("#impact-people")).to_have_text("The person (1)")
    expect(page.locator("main")).to_contain_text("no longer signs in as peter-123 through Unlink IdP")
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()

    page.get_by_role("button", name="Unlink", exact=True).click()
    expect(page.locator("main")).to_contain_text(f"peter@{slug}.test is no longer linked to peter-123.")
    assert page.url.endswith(f"/settings/security/sso/{connection_id}/")
    page.reload()  # post/redirect/get: reloading repeats nothing
    expect(page.locator("main")).to_contain_text("Nobody is linked yet.")
