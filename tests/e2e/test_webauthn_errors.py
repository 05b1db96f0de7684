"""People read plain sentences, never the browser's raw WebAuthn errors (issue 20's walkthrough): in real Chromium
with its virtual authenticator, adding the same authenticator twice makes the browser refuse it (InvalidStateError,
"The user attempted to register an authenticator that contains one of the credentials already registered with the
relying party."); the page says so in words instead."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e


def test_a_passkey_added_twice_is_explained_in_plain_words(page, product):
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
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    email, password = f"wa-{secrets.token_hex(4)}@acme.test", "a-long-enough-password-" + secrets.token_hex(4)
    product.create_user(email, password, org="acme")
    sign_in(page, product, email, password)
    page.goto(product.url("/accounts/2fa/"))
    page.get_by_label("Name of the new passkey").fill("Virtual key")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("button", name="I saved them").click()
    expect(page.get_by_role("cell", name="Virtual key")).to_be_visible()

    page.get_by_label("Name of the new passkey").fill("The same key again")
    page.get_by_role("button", name="Add a passkey").click()
    status = page.locator("#webauthn-status")
    expect(status).to_have_text(re.compile("already set up for your account"))
    text = status.inner_text()
    assert "InvalidStateError" not in text and "relying party" not in text and "w3.org" not in text
    expect(page.get_by_role("button", name="Add a passkey")).to_be_enabled()  # they can try another one
