"""Password sign-in in a real browser against the product as deployed: HTTPS, production cookies, lockouts."""

from __future__ import annotations

import secrets

import pytest

pytestmark = pytest.mark.e2e

DEMO_PASSWORD = "acme-demo-password"  # seed_demo's documented demo password


def sign_in(page, product, email: str, password: str):
    """Fill the sign-in form at /accounts/login/ and submit it; returns the response of the form POST."""
    page.goto(product.url("/accounts/login/"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign in").click()
    return navigation.value


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
