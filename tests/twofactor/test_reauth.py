"""Re-authentication with a factor: passkey holders use the passkey (user verification required), others the
password and a code; SSO sessions still go to their IdP."""

from __future__ import annotations

from urllib.parse import quote

from audit.models import AuditEvent
from tests.helpers.core import PASSWORD
from tests.helpers.twofactor import SoftAuthenticator, code_for_secret, give_totp, post_json, register_passkey

REAUTH = "/accounts/reauthenticate/"
FACTOR_REAUTH = "/accounts/2fa/reauthenticate/"


def stale(client) -> None:
    session = client.session
    session["reauth_at"] = 0
    session.save()


def test_an_account_with_a_factor_is_sent_to_the_factor_page(client_for, member, moving_clock):
    give_totp(member)
    client = client_for(member)
    stale(client)
    response = client.get(f"{REAUTH}?next=/orgs/acme/")
    assert response["Location"].startswith(FACTOR_REAUTH)


def test_password_and_code(client_for, member, moving_clock):
    secret = give_totp(member)
    moving_clock.advance(30)
    client = client_for(member)
    stale(client)
    next_url = quote("/accounts/2fa/")
    wrong = client.post(f"{FACTOR_REAUTH}?next={next_url}", {"password": PASSWORD, "code": "000000"})
    assert wrong.status_code == 400
    assert AuditEvent.objects.filter(action="auth.identity_check_failed", details__form="two-factor").exists()
    ok = client.post(f"{FACTOR_REAUTH}?next={next_url}", {"password": PASSWORD, "code": code_for_secret(secret)})
    assert ok["Location"] == "/accounts/2fa/"
    assert AuditEvent.objects.filter(action="session.reauthenticated", details__method="password + second factor")


def test_a_wrong_password_with_a_right_code_is_refused(client_for, member, moving_clock):
    secret = give_totp(member)
    moving_clock.advance(30)
    client = client_for(member)
    stale(client)
    response = client.post(FACTOR_REAUTH, {"password": "wrong", "code": code_for_secret(secret)})
    assert response.status_code == 400


def test_passkey_holders_reauthenticate_with_the_passkey(client_for, member):
    client = client_for(member)
    authenticator = SoftAuthenticator()
    register_passkey(client, authenticator)
    stale(client)
    page = client.get(f"{FACTOR_REAUTH}?next=/accounts/2fa/")
    assert "Use your passkey" in page.content.decode()
    options = post_json(client, "/accounts/2fa/reauthenticate/passkey/options/").json()
    assert options["userVerification"] == "required"
    response = post_json(
        client, "/accounts/2fa/reauthenticate/passkey/?next=/accounts/2fa/", {"credential": authenticator.get(options)}
    )
    assert response.json() == {"redirect": "/accounts/2fa/"}
    assert AuditEvent.objects.filter(action="session.reauthenticated", details__method="passkey").exists()


def test_passkey_reauthentication_without_user_verification_is_refused(client_for, member):
    client = client_for(member)
    authenticator = SoftAuthenticator()
    register_passkey(client, authenticator)
    stale(client)
    authenticator.user_verified = False
    options = post_json(client, "/accounts/2fa/reauthenticate/passkey/options/").json()
    response = post_json(client, "/accounts/2fa/reauthenticate/passkey/", {"credential": authenticator.get(options)})
    assert response.status_code == 400
    assert AuditEvent.objects.filter(action="auth.identity_check_failed").exists()


def test_an_account_without_a_factor_keeps_the_password_form(client_for, member):
    client = client_for(member)
    stale(client)
    assert client.get(REAUTH).status_code == 200
