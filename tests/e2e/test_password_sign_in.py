"""Password sign-in in a real browser against the product as deployed: HTTPS, production cookies, lockouts."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import DEMO_PASSWORD
from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e


def test_the_demo_owner_signs_in_and_sees_the_acme_dashboard(page, product):
    response = page.goto(product.url("/accounts/login/"))
    assert response.status == 200
    # Production hardening is on: HSTS on every HTTPS answer.
    assert "max-age=31536000" in response.headers["strict-transport-security"]

    sign_in(page, product, "owner@acme.test", DEMO_PASSWORD)

    assert page.url == product.url("/orgs/acme/")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme Inc."
    assert "You are owner" in page.inner_text("main")


def test_the_session_cookie_is_host_prefixed_secure_httponly_and_samesite_lax(page, product):
    sign_in(page, product, "owner@acme.test", DEMO_PASSWORD)

    cookies = {cookie["name"]: cookie for cookie in page.context.cookies(product.base_url)}
    session = cookies["__Host-orgsecurity-session"]
    assert session["secure"] is True
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    # __Host- means host-only (no Domain attribute, so no leading dot) and Path=/.
    assert session["domain"] == "app.test"
    assert session["path"] == "/"
    csrf = cookies["__Host-orgsecurity-csrf"]
    assert csrf["secure"] is True
    assert csrf["sameSite"] == "Lax"
    assert not [name for name in cookies if name in {"sessionid", "csrftoken", "orgsecurity-session"}]


def test_an_outsider_gets_404_on_acme_but_reaches_their_own_org(page, product):
    sign_in(page, product, "outsider@globex.test", DEMO_PASSWORD)
    assert page.url == product.url("/orgs/globex/")

    response = page.goto(product.url("/orgs/acme/"))

    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert "Acme" not in page.inner_text("main")


def test_five_wrong_passwords_lock_that_email_from_this_network(new_context, product):
    # A person of its own: the lockout lasts 15 minutes and must not touch the demo people other tests use.
    email = f"locked-{secrets.token_hex(4)}@acme.test"
    password = "a-long-enough-password-" + secrets.token_hex(4)
    product.create_user(email, password, org="acme")
    page = new_context().pages[0]

    for attempt in range(1, 5):
        response = sign_in(page, product, email, f"wrong-password-{attempt}")
        assert response.status == 200, f"attempt {attempt}"
        assert page.url.startswith(product.url("/accounts/login/"))
        assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    response = sign_in(page, product, email, "wrong-password-5")

    assert response.status == 429
    assert page.get_by_role("heading", level=1).inner_text() == "Sign-in paused"
    message = page.inner_text("main")
    assert f"Too many failed sign-in attempts for {email} from your network (127.0.0.1)" in message
    assert "Try again in 15 minutes" in message

    # The lock holds even for the right password...
    response = sign_in(page, product, email, password)
    assert response.status == 429
    assert page.get_by_role("heading", level=1).inner_text() == "Sign-in paused"
    assert page.context.cookies(product.base_url) == [] or "__Host-orgsecurity-session" not in {
        cookie["name"] for cookie in page.context.cookies(product.base_url)
    }

    # ...but only for that email: someone else on the same network still signs in.
    colleague = new_context().pages[0]
    sign_in(colleague, product, "member@acme.test", DEMO_PASSWORD)
    assert colleague.url == product.url("/orgs/acme/")


def test_an_invitation_email_links_to_the_public_https_url(new_context, product):
    invitee = f"invitee-{secrets.token_hex(4)}@example.test"
    owner = new_context().pages[0]
    sign_in(owner, product, "owner@acme.test")
    owner.goto(product.url("/orgs/acme/members/"))

    owner.get_by_label("Email").fill(invitee)
    owner.get_by_role("button", name="Send invitation").click()

    expect(owner.locator("main")).to_contain_text(f"Invitation sent to {invitee}.")
    [invitation] = [message for message in product.emails() if message["To"] == invitee]
    # Every URL handed out is built from PUBLIC_BASE_URL: here https://app.test:<port>, never the Host header.
    link = re.search(r"Accept the invitation: (\S+)", invitation.get_payload()).group(1)
    assert link.startswith(product.url("/invitations/"))

    newcomer = new_context().pages[0]
    response = newcomer.goto(link)
    assert response.status == 200
    assert newcomer.get_by_role("heading", level=1).inner_text() == "Join Acme Inc."
    assert invitee in newcomer.inner_text("main")
