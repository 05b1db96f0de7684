"""Two-factor authentication in real Chromium with its virtual authenticator (Chrome DevTools Protocol
``WebAuthn.enable`` / ``WebAuthn.addVirtualAuthenticator``): register a passkey, sign in with it, re-authenticate
with it; an authenticator app whose codes the test computes from the secret the page shows; and an organization
requiring 2FA that walks a factor-less member through set-up. The product is served at https://app.test:<port>
(a domain name: browsers refuse an IP address as WebAuthn RP ID)."""

from __future__ import annotations

import re
import secrets
import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e


def virtual_authenticator(page) -> dict:
    """Attach a platform authenticator with resident keys and user verification (a passkey) to ``page``."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    return cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})


def new_person(product, org: str = "acme") -> tuple[str, str]:
    email = f"tf-{secrets.token_hex(4)}@acme.test"
    password = "a-long-enough-password-" + secrets.token_hex(4)
    product.create_user(email, password, org=org)
    return email, password


def sign_out(page) -> None:
    page.get_by_role("button", name=re.compile("^Sign out")).click()


def test_register_a_passkey_sign_in_and_reauthenticate_with_it(page, product):
    email, password = new_person(product)
    virtual_authenticator(page)
    sign_in(page, product, email, password)
    page.goto(product.url("/accounts/2fa/"))
    page.get_by_label("Name of the new passkey").fill("Virtual key")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your backup codes")
    assert len(re.findall(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}", page.inner_text("main"))) == 10
    page.get_by_role("button", name="I saved them").click()
    expect(page.get_by_role("cell", name="Virtual key")).to_be_visible()

    sign_out(page)
    page.goto(product.url("/accounts/login/"))
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(product.url("/orgs/acme/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Inc.")

    page.goto(product.url("/accounts/reauthenticate/?next=/accounts/2fa/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    page.get_by_role("button", name="Use your passkey").click()
    page.wait_for_url(product.url("/accounts/2fa/"))
    count = product.shell(
        "from audit.models import AuditEvent\n"
        "print(AuditEvent.objects.filter(action='session.reauthenticated', details__method='passkey').count())"
    )
    assert int(count.strip()) >= 1


def test_password_then_passkey_as_second_factor(page, product):
    email, password = new_person(product)
    virtual_authenticator(page)
    sign_in(page, product, email, password)
    page.goto(product.url("/accounts/2fa/"))
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your backup codes")
    sign_out(page)

    sign_in(page, product, email, password)
    assert page.url == product.url("/accounts/2fa/verify/")
    page.get_by_role("button", name="Use your passkey").click()
    page.wait_for_url(product.url("/orgs/acme/"))


def test_authenticator_app_codes_from_the_secret_and_a_replay_refused(new_context, product):
    email, password = new_person(product)
    page = new_context().pages[0]
    sign_in(page, product, email, password)
    page.goto(product.url("/accounts/2fa/"))
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.locator("figure svg")).to_be_visible()
    secret = page.locator("#totp-secret").input_value()
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code the app shows").fill(totp.now())
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your backup codes")
    sign_out(page)

    # The code of the step set-up used is spent: the next step's code (within the ±1 step skew) signs in once.
    code = totp.at(time.time() + 30)
    sign_in(page, product, email, password)
    page.get_by_label(re.compile("Code from your authenticator app")).fill(code)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(product.url("/orgs/acme/"))

    other = new_context().pages[0]
    sign_in(other, product, email, password)
    other.get_by_label(re.compile("Code from your authenticator app")).fill(code)
    other.get_by_role("button", name="Continue").click()
    expect(other.get_by_text("That code is not right, or was used already.")).to_be_visible()


def test_an_org_requiring_2fa_sends_a_factorless_member_to_setup(page, product):
    slug = f"tf{secrets.token_hex(3)}"
    owner_email = f"owner-{slug}@acme.test"
    member_email, password = f"member-{slug}@acme.test", "a-long-enough-password-" + secrets.token_hex(4)
    product.shell(
        "import pyotp\n"
        "from audit.recorder import Actor\n"
        "from orgsecurity import actions as core\n"
        "from orgsecurity.models import User\n"
        "from twofactor import actions, totp\n"
        f"owner = User.objects.create_user({owner_email!r}, 'x-long-enough-password')\n"
        f"org = core.create_organization(slug={slug!r}, name='Strict Co', owner=owner, actor=Actor.system('e2e'))\n"
        "secret = totp.new_secret()\n"
        "actions.enable_totp(owner, actor=owner, secret=secret, code=pyotp.TOTP(secret).now())\n"
        f"member = User.objects.create_user({member_email!r}, {password!r})\n"
        "core.add_member(org, actor=Actor.system('e2e'), user=member, role='member', via='e2e')\n"
        "actions.set_policy(org, actor=owner, required=True, grace_days=0)\n"
    )
    sign_in(page, product, member_email, password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    assert "Strict Co requires it" in page.inner_text("main")
    response = page.goto(product.url(f"/orgs/{slug}/"))
    assert page.url.startswith(product.url("/accounts/2fa/required/"))
    assert response.status == 200

    virtual_authenticator(page)
    page.get_by_role("button", name="Set up a passkey or an authenticator app").click()
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your backup codes")
    page.get_by_role("button", name="I saved them").click()
    page.wait_for_url(product.url(f"/orgs/{slug}/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Strict Co")
