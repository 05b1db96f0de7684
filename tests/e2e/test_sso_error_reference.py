"""A member's SSO sign-in refused after a real SimpleSAMLphp round trip, and support finding out why (issue 20,
"members never see admin remediation text").

The organization requires MFA at the IdP, and SimpleSAMLphp signs people in with a password only, so the ACS refuses
the answer (``idp_mfa_missing``). The member's page says what happened in plain words, with the organization's
support contact, the time and a reference ID, and never the fix meant for admins. A platform support agent then
searches that reference ID in the support console and finds the refusal, with its technical reason.

An organization of its own (random slug), so the demo org acme and the other browser tests are left alone.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import ProductServer
from tests.e2e.harness import sign_in_with_password as sign_in
from tests.e2e.idp_saml import SAMLUser, SimpleSAMLphpIdP
from tests.e2e.saml_steps import idp_sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "sso-error-password-" + secrets.token_hex(4)
ADMIN_FIX = "ask your IdP administrator to require MFA"  # the remediation in the refusal's own message
MFA_VALUE = "http://schemas.microsoft.com/claims/multipleauthn"


@pytest.fixture
def mfa_org(product: ProductServer, saml_idp: SimpleSAMLphpIdP) -> tuple[str, SAMLUser]:
    """An organization whose SAML connection (SimpleSAMLphp, on) requires MFA at the IdP, with a support contact,
    a member who has an IdP account, and a platform support agent. Returns (slug, the member at the IdP)."""
    slug = f"err-{secrets.token_hex(3)}"
    member = SAMLUser(
        f"{slug}-mia", f"{slug}-mia-idp-pass", f"mia@{slug}.test", "Mia Member", "Mia", "Member", f"idp-{slug}-mia"
    )
    saml_idp.add_users(member)
    product.manage(
        "createorg", slug, "--name", "Refusal Co", "--owner", f"owner@{slug}.test", "--password-from-env", "PW",
        env={"PW": PASSWORD},
    )  # fmt: skip
    product.manage("configure_sso", slug, "--protocol", "saml", "--name", "Refusal IdP",
                   "--metadata-url", saml_idp.metadata_url)  # fmt: skip
    product.shell(
        "from orgsecurity import actions as core\n"
        "from orgsecurity.models import Organization, User\n"
        "from sso.connections import actions\n"
        "from sso.models import SSOConnection\n"
        f"org = Organization.objects.get(slug={slug!r})\n"
        f"owner = User.objects.get(email='owner@{slug}.test')\n"
        f"core.add_member(org, actor=owner, user=User.objects.create_user({member.email!r}, {PASSWORD!r}),"
        " role='member', via='e2e')\n"
        "connection = SSOConnection.objects.get(organization=org)\n"
        f"actions.update_connection(connection, actor=owner, require_idp_mfa=True, idp_mfa_values=[{MFA_VALUE!r}])\n"
        "actions.set_status(connection, actor=owner, status='testing')\n"
        "actions.set_status(connection, actor=owner, status='on')\n"
        # Where members get help: asked for when enforcing (a rollout step this test does not need), so set here.
        f"SSOConnection.objects.filter(pk=connection.pk).update(support_contact='it-help@{slug}.test')\n"
        f"User.objects.create_user('support-{slug}@platform.test', {PASSWORD!r}, is_staff=True)\n"
    )
    metadata = product.request("GET", f"/sso/{slug}/saml/metadata/")
    assert metadata.status == 200, metadata.status
    saml_idp.register_sp(metadata_xml=metadata.body)
    return slug, member


def test_a_members_refused_sign_in_shows_plain_words_and_support_finds_it_by_reference(
    new_context, product, saml_idp, mfa_org
):
    slug, member = mfa_org
    browser = new_context().pages[0]
    browser.goto(product.url(f"/sso/{slug}/login/"))
    idp_sign_in(browser, saml_idp, member.username, member.password)

    # The member's page: plain words, whom to ask, when, and the reference; not the admins' fix.
    expect(browser.get_by_role("heading", level=1)).to_have_text("Single sign-on did not work")
    main = browser.locator("main")
    expect(main).to_contain_text("Refusal Co's sign-in service sent an answer we could not accept")
    expect(main.get_by_role("link", name=f"it-help@{slug}.test")).to_have_attribute(
        "href", f"mailto:it-help@{slug}.test"
    )
    reference = browser.locator("#sso-reference").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", reference), reference
    shown_time = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", browser.inner_text("main"))
    assert shown_time, browser.inner_text("main")
    moment = datetime.strptime(shown_time.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=2)
    expect(main.get_by_text(re.compile(re.escape(ADMIN_FIX)))).not_to_be_visible()
    references = [reference]
    # The page says to try again; the IdP still has a session, so it answers at once, and is refused again. The
    # audit log records one refusal a minute per connection, address and reason: whichever reference the member
    # quotes must lead to it (three attempts over the product's two processes: at least one repeat is throttled).
    for _again in range(2):
        browser.goto(product.url(f"/sso/{slug}/login/"))
        expect(browser.get_by_role("heading", level=1)).to_have_text("Single sign-on did not work")
        references.append(browser.locator("#sso-reference").inner_text().strip())
    browser.goto(product.url(f"/orgs/{slug}/"))  # nobody was signed in
    assert browser.url.startswith(product.url("/accounts/login/"))

    # Platform support, given the reference, finds the refusal and why.
    staff = new_context().pages[0]
    sign_in(staff, product, f"support-{slug}@platform.test", PASSWORD)
    assert staff.url == product.url("/support/")
    results = staff.locator("#search-results tbody tr")
    for quoted in reversed(references):
        staff.get_by_label("Search every organization").fill(quoted)
        staff.get_by_role("button", name="Search").click()
        expect(results).to_have_count(1)
        expect(results.first).to_contain_text("Audit event")
        expect(results.first).to_contain_text("Refusal Co")
        expect(results.first).to_contain_text("sso.sign_in_refused")
    results.first.get_by_role("link").first.click()  # the first attempt's event, in the organization's audit log
    row = staff.locator("table.audit-log > tbody > tr")
    expect(row).to_have_count(1)
    row.first.get_by_text("Details").click()
    expect(row.first).to_contain_text("idp_mfa_missing")
    expect(row.first).to_contain_text(ADMIN_FIX)
