"""Reload safety on every create page, in a real browser (issue 20, "forms that behave").

For each page that creates something (an API key, a service account's key, recovery codes, a SCIM token, a webhook
destination with its signing secret, 2FA backup codes, an invitation, an allowlist entry, a claimed domain, an SSO
connection, a set-up link): submit the form once, then reload the page the browser landed on, go back and forward
again. The browser never sends the form again (post/redirect/get: no POST leaves it after the submit), the action ran
exactly once (its audit events, counted in the database), and a one-time secret is shown once, with a copy button,
and never again: not on reload, not when history brings the page back.

An organization of its own (random slug), so the demo org acme and the other browser tests are left alone.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.harness import ProductServer
from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "reload-safety-password-" + secrets.token_hex(4)
SERVICE_ACCOUNT = "batch-export"
CONNECTION = "Reload IdP"


@dataclass(frozen=True)
class Org:
    """The organization of this module: its slug, its owner, and a member who uses an authenticator app."""

    slug: str
    owner: str
    twofa_member: str
    totp_secret: str
    saml_metadata_url: str = ""  # SimpleSAMLphp's, for the test that adds a connection

    def path(self, rest: str) -> str:
        return f"/orgs/{self.slug}/{rest}"


@pytest.fixture(scope="module")
def org(product: ProductServer) -> Org:
    """An organization with an owner (a recovery account), a service account, an SSO connection (status off, for
    SCIM tokens and set-up links) and a member with an authenticator app (for backup codes)."""
    slug = f"rl-{secrets.token_hex(3)}"
    owner, twofa_member = f"owner@{slug}.test", f"tf@{slug}.test"
    printed = product.shell(
        "import pyotp\n"
        "from audit.recorder import Actor\n"
        "from keys import actions as keys\n"
        "from orgsecurity import actions as core\n"
        "from orgsecurity.models import Membership, User\n"
        "from sso.connections import actions as sso\n"
        "from sso.recovery import accounts as recovery\n"
        "from twofactor import actions as twofactor, totp\n"
        "system = Actor.system('e2e')\n"
        f"owner = User.objects.create_user({owner!r}, {PASSWORD!r})\n"
        f"org = core.create_organization(slug={slug!r}, name='Reload Co', owner=owner, actor=system)\n"
        f"keys.create_service_account(org, actor=owner, name={SERVICE_ACCOUNT!r})\n"
        f"sso.create_connection(org, actor=owner, protocol='saml', name={CONNECTION!r})\n"
        "membership = Membership.objects.active().get(organization=org, user=owner)\n"
        "if not recovery.RecoveryAccount.objects.filter(membership=membership).exists():\n"
        "    recovery.designate(org, actor=owner, membership=membership)\n"
        f"member = User.objects.create_user({twofa_member!r}, {PASSWORD!r})\n"
        "core.add_member(org, actor=system, user=member, role='member', via='e2e')\n"
        "secret = totp.new_secret()\n"
        "twofactor.enable_totp(member, actor=member, secret=secret, code=pyotp.TOTP(secret).now())\n"
        "print(secret)\n"
    )
    return Org(slug, owner, twofa_member, totp_secret=printed.strip().splitlines()[-1])


def audit_count(product: ProductServer, slug: str, action: str) -> int:
    """How many ``action`` audit events the organization ``slug`` has: each create records one."""
    printed = product.shell(
        "from audit.models import AuditEvent\n"
        f"print(AuditEvent.objects.filter(organization__slug={slug!r}, action={action!r}).count())\n"
    )
    return int(printed.strip().splitlines()[-1])


# --- The create pages: how to create once, what it records, and where its one-time secret shows ---------------------


@dataclass(frozen=True)
class CreatePage:
    """One create page: ``create(page, product, org)`` fills and submits its form once (signed in as ``person``);
    ``action`` is the audit action each create records; ``secret`` the selector of the one-time secret on the page
    the browser lands on (None when nothing secret is made) and ``secret_property`` how it is read."""

    create: Callable[[Any, ProductServer, Org], None]
    action: str
    secret: str | None = None
    secret_property: str = "value"  # "value" for an <input>, "text" for a <pre>
    copy: str = ""  # the selector of its copy button: by default the one of orgsecurity/_one_time_secret.html
    person: str = "owner"

    def copy_button(self) -> str:
        return self.copy or f"button[data-copy='{(self.secret or '').lstrip('#')}']"


def _api_key(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("settings/security/keys/new/")))
    page.get_by_label("Name").fill("nightly export")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API key created")


def _service_account_key(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("settings/security/keys/new/")))
    page.get_by_label("Name").fill("warehouse sync")
    page.get_by_label("Owner").select_option(label=f"{SERVICE_ACCOUNT} (service account)")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API key created")
    expect(page.locator("label[for=api-key-secret]")).to_contain_text(SERVICE_ACCOUNT)


def _recovery_codes(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("settings/security/sso/recovery/")))
    page.get_by_role("button", name="Generate new recovery codes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes for Reload Co")


def _scim_token(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("settings/security/sso/")))
    section = page.locator("section#scim")
    section.get_by_label("Name", exact=True).fill("Entra ID provisioning")
    expect(section.get_by_label("SSO connection of the provisioning IdP")).to_contain_text(CONNECTION)  # the only one
    section.get_by_role("button", name="Create SCIM token").click()
    expect(page.locator("#scim-token-secret")).to_be_visible()


def _webhook_destination(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("settings/security/streaming/")))
    form = page.locator("#add-destination")
    form.get_by_label("Kind").select_option("webhook")
    form.get_by_label("Name").fill("SIEM webhook")
    form.get_by_label("URL").fill("https://siem.example.com/orgsecurity")
    form.get_by_role("button", name="Add destination").click()
    expect(page.locator("#webhook-secret")).to_be_visible()


def _backup_codes(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url("/accounts/2fa/"))
    page.get_by_role("button", name="Generate new backup codes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your backup codes")


def _invitation(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("members/")))
    email = f"invitee-{secrets.token_hex(3)}@{org.slug}.test"
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"Invitation sent to {email}.")).to_be_visible()


def _allowlist_entry(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("settings/security/allowlist/")))
    page.get_by_label("Address or CIDR block").fill("198.51.100.0/24")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".message-success")).to_contain_text("Added 198.51.100.0/24.")


def _domain_claim(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("settings/security/sso/domains/")))
    page.get_by_label("Domain").fill(f"{org.slug}.example")
    page.get_by_role("button", name="Claim").click()
    expect(page.locator("main")).to_contain_text(f"{org.slug}.example is claimed.")


def _sso_connection(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("settings/security/sso/")))
    page.get_by_role("button", name="Add SAML connection").click()
    page.get_by_label("Name").fill("Second IdP")
    page.get_by_label("Metadata URL", exact=True).check()
    page.get_by_label("IdP metadata URL").fill(org.saml_metadata_url)
    page.get_by_role("button", name="Create SAML connection").click()
    expect(page.locator("main")).to_contain_text("SAML connection created")


def _setup_link(page: Any, product: ProductServer, org: Org) -> None:
    page.goto(product.url(org.path("settings/security/sso/")))
    page.get_by_role("link", name=CONNECTION).first.click()
    page.get_by_role("button", name="Make a set-up link").click()
    expect(page.locator("#setup-link-url")).to_be_visible()


CREATE_PAGES = {
    "api-key": CreatePage(_api_key, "key.created", "#api-key-secret"),
    "service-account-key": CreatePage(_service_account_key, "key.created", "#api-key-secret"),
    "recovery-codes": CreatePage(_recovery_codes, "sso.recovery_codes_generated", "#recovery-codes", "text"),
    "scim-token": CreatePage(_scim_token, "scim.token_created", "#scim-token-secret"),
    "webhook-secret": CreatePage(_webhook_destination, "audit_stream.destination_added", "#webhook-secret"),
    "backup-codes": CreatePage(
        _backup_codes, "twofactor.backup_codes_generated", "#backup-codes", "text", person="twofa_member"
    ),
    "invitation": CreatePage(_invitation, "member.invited"),
    "allowlist-entry": CreatePage(_allowlist_entry, "allowlist.entries_added"),
    "domain": CreatePage(_domain_claim, "sso.domain_claimed"),
    "sso-connection": CreatePage(_sso_connection, "sso.connection_created"),
    "setup-link": CreatePage(
        _setup_link, "sso.setup_link_created", "#setup-link-url", copy="#setup-link-url + button[data-copy]"
    ),
}


def sign_in_as(page: Any, product: ProductServer, org: Org, person: str) -> None:
    if person == "owner":
        sign_in(page, product, org.owner, PASSWORD)
        return
    sign_in(page, product, org.twofa_member, PASSWORD)
    # The code of the step set-up used is spent: the next step's (within the ±1 step skew) signs in.
    code = pyotp.TOTP(org.totp_secret).at(time.time() + 30)
    page.get_by_label(re.compile("Code from your authenticator app")).fill(code)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(product.url(org.path("")))


def read_secret(page: Any, selector: str, how: str) -> str:
    element = page.locator(selector)
    return element.input_value() if how == "value" else element.inner_text()


@pytest.mark.parametrize("name", list(CREATE_PAGES))
def test_reloading_or_going_back_after_a_create_repeats_nothing_and_shows_no_secret_again(
    new_context, product, org, name, request
):
    case = CREATE_PAGES[name]
    if name == "sso-connection":  # a real IdP's metadata URL, read when the connection is created
        org = replace(org, saml_metadata_url=request.getfixturevalue("saml_idp").metadata_url)
    before = audit_count(product, org.slug, case.action)
    page = new_context().pages[0]
    sign_in_as(page, product, org, case.person)

    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    case.create(page, product, org)
    assert len(posts) == 1, f"the create sent {posts}"
    landed = page.url
    assert landed != posts[0], "the result rendered at the POST URL: reloading would repeat it"

    secret = ""
    if case.secret:
        secret = read_secret(page, case.secret, case.secret_property).strip()
        assert len(secret) >= 16, secret
        expect(page.locator(case.copy_button())).to_be_visible()  # shown by copy.js once it can copy

    page.reload()
    assert page.url == landed
    page.go_back()
    page.go_forward()
    assert page.url == landed
    page.reload()
    assert posts == posts[:1], f"reload or history sent the form again: {posts[1:]}"

    if secret:
        expect(page.locator(case.secret)).to_have_count(0)
        assert secret not in page.content()
        expect(page.locator("main")).to_contain_text("shown once")
    assert audit_count(product, org.slug, case.action) == before + 1
