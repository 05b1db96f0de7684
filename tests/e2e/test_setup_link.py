"""The IdP-admin set-up link in a real browser against SimpleSAMLphp (issue 21): an owner makes a link for their
SAML connection; the customer's IdP admin, with no account here, opens it, downloads our SP metadata for their IdP,
uploads the IdP's metadata file and runs a test sign-in with their own IdP account; another browser is refused; the
link reaches no organization page (nothing to enforce from there); the owner sees the passing test and is emailed.

Its own organization (umbrella), so the SP the IdP trusts here is not acme's of the other SAML scenarios.
"""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import sign_in_with_password as sign_in
from tests.e2e.saml_steps import idp_sign_in

pytestmark = pytest.mark.e2e

OWNER, PASSWORD = "owner@umbrella.test", "umbrella-owner-password"


def _umbrella_with_a_connection(product) -> int:
    """umbrella, its owner, and a SAML connection (status off) that still trusts a placeholder IdP: the IdP admin
    gives the real one. Returns the connection's id."""
    code = (
        "from audit.recorder import Actor\n"
        "from orgsecurity import actions\n"
        "from orgsecurity.models import User\n"
        "from sso.saml.actions import create_saml_connection\n"
        "from sso.saml.metadata import parse_idp_metadata\n"
        "from tests.sso.saml.idp import TestIdP\n"
        f"owner = User.objects.create_user({OWNER!r}, {PASSWORD!r})\n"
        "org = actions.create_organization(slug='umbrella', name='Umbrella', owner=owner, actor=Actor.system('e2e'))\n"
        "placeholder = TestIdP('https://placeholder.invalid/saml', host='placeholder.invalid')\n"
        "connection = create_saml_connection(org, actor=owner, idp=parse_idp_metadata(placeholder.metadata_xml()),"
        " source='xml', name='Umbrella IdP', attribute_map={'email': 'mail', 'display_name': 'displayName'})\n"
        "print(connection.pk)\n"
    )
    return int(product.shell(code).strip().splitlines()[-1])


def test_an_idp_admin_sets_sso_up_through_the_link_and_the_owner_sees_it(new_context, product, saml_idp, tmp_path):
    connection_id = _umbrella_with_a_connection(product)
    connection_url = product.url(f"/orgs/umbrella/settings/security/sso/{connection_id}/")

    owner = new_context().pages[0]
    sign_in(owner, product, OWNER, PASSWORD)
    owner.goto(connection_url)
    expect(owner.get_by_role("heading", name="Step 1. Give the IdP our details")).to_be_visible()
    owner.get_by_role("textbox", name=re.compile("^Recipient")).fill("Jane, Umbrella IT")
    owner.get_by_role("button", name="Make a set-up link").click()
    expect(owner.locator("main")).to_contain_text("shown only this once")
    link_url = owner.get_by_label("Set-up link").input_value()
    assert re.fullmatch(re.escape(product.url("/sso/umbrella/setup/")) + r"ossl_[\w-]+/", link_url), link_url
    owner.reload()
    expect(owner.locator("main")).to_contain_text("cannot be shown again")

    # The IdP admin: no account, their own browser.
    idp_admin = new_context(accept_downloads=True).pages[0]
    idp_admin.goto(link_url)
    idp_admin.get_by_role("button", name="Start the set-up in this browser").click()
    expect(idp_admin.get_by_role("heading", level=1)).to_have_text("Single sign-on for Umbrella")
    assert idp_admin.url == product.url("/sso/umbrella/setup/")  # the secret left the address bar
    main = idp_admin.inner_text("main")
    assert product.url("/sso/umbrella/saml/acs/") in main and "owner@umbrella.test" in main  # who made it
    with idp_admin.expect_download() as download:
        idp_admin.get_by_role("button", name="Download our SP metadata (XML)").click()
    saml_idp.register_sp(metadata_xml=download.value.path().read_text())  # the IdP admin's side

    metadata_file = tmp_path / "idp-metadata.xml"
    with urllib.request.urlopen(saml_idp.metadata_url, timeout=10) as response:
        metadata_file.write_bytes(response.read())
    idp_admin.get_by_label("Metadata XML", exact=True).check()
    idp_admin.get_by_label("…or upload the metadata file").set_input_files(str(metadata_file))
    idp_admin.get_by_role("button", name="Save the IdP's details").click()
    expect(idp_admin.locator("main")).to_contain_text("IdP details saved")
    expect(idp_admin.locator("main")).to_contain_text(saml_idp.entity_id)

    # Another browser with the same link is refused.
    other = new_context().pages[0]
    other.goto(link_url)
    expect(other.locator("main")).to_contain_text("already opened in another browser")

    idp_admin.get_by_role("button", name="Run a test sign-in").click()
    idp_sign_in(idp_admin, saml_idp, "newhire", saml_idp.user("newhire").password)
    expect(idp_admin.get_by_role("heading", level=1)).to_have_text("SSO test: Succeeded")
    result = idp_admin.inner_text("main")
    assert saml_idp.user("newhire").uid in result and "Nothing was linked" in result

    # The link reaches no organization page: nothing to turn on or enforce from there.
    idp_admin.goto(product.url(f"/orgs/umbrella/settings/security/sso/{connection_id}/rollout/"))
    expect(idp_admin.get_by_role("heading", level=1)).to_have_text("Sign in")

    owner.goto(connection_url)
    main = owner.inner_text("main")
    assert "IdP set-up link #" in main and "passed" in main
    assert "does not count toward enforcement" in main
    subjects = [message["Subject"] for message in product.emails()]
    assert any("test sign-in passed" in (subject or "") for subject in subjects), subjects
