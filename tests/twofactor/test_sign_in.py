"""The second sign-in step: after a correct password an account with a factor is asked for it before anyone is
signed in; codes once only; attempts throttled and audited like passwords; recovery sign-in asks for it too."""

from __future__ import annotations

from django.test import Client

from audit.models import AuditEvent
from orgsecurity.signin_state import auth_method
from tests.helpers.core import PASSWORD
from tests.helpers.twofactor import code_for_secret, give_totp
from twofactor import actions

LOGIN = "/accounts/login/"
VERIFY = "/accounts/2fa/verify/"


def password_step(client: Client, user, ip: str = "203.0.113.10", next_url: str = ""):
    url = f"{LOGIN}?next={next_url}" if next_url else LOGIN
    return client.post(url, {"username": user.email, "password": PASSWORD}, REMOTE_ADDR=ip)


def test_without_a_factor_the_password_signs_in_as_before(member):
    client = Client()
    assert password_step(client, member)["Location"] == "/"
    assert client.get("/orgs/acme/").status_code == 200


def test_a_correct_password_asks_for_the_code_before_signing_in(member, moving_clock):
    secret = give_totp(member)
    moving_clock.advance(30)
    client = Client()
    response = password_step(client, member, next_url="/orgs/acme/members/")
    assert response["Location"] == VERIFY
    assert client.get("/orgs/acme/").status_code == 302  # not signed in yet: sent to sign in
    assert not AuditEvent.objects.filter(action="auth.signed_in", actor_id=str(member.pk)).exists()
    page = client.get(VERIFY)
    assert "Signing in as member@acme.test" in page.content.decode()
    response = client.post(VERIFY, {"code": code_for_secret(secret)}, REMOTE_ADDR="203.0.113.10")
    assert response["Location"] == "/orgs/acme/members/"
    assert client.get("/orgs/acme/").status_code == 200


def test_a_replayed_code_is_refused(member, moving_clock):
    secret = give_totp(member)
    moving_clock.advance(30)
    code = code_for_secret(secret)
    first = Client()
    password_step(first, member)
    assert first.post(VERIFY, {"code": code})["Location"] == "/"
    second = Client()
    password_step(second, member)
    response = second.post(VERIFY, {"code": code})
    assert response.status_code == 400
    assert "used already" in response.content.decode()
    assert second.get("/orgs/acme/").status_code == 302


def test_a_backup_code_stands_in_once(member, moving_clock):
    give_totp(member)
    codes = actions.regenerate_backup_codes(member, actor=member)
    client = Client()
    password_step(client, member)
    assert client.post(VERIFY, {"code": codes[0].upper()})["Location"] == "/"
    again = Client()
    password_step(again, member)
    assert again.post(VERIFY, {"code": codes[0]}).status_code == 400


def test_the_verify_page_without_a_password_step_sends_to_sign_in(member):
    response = Client().get(VERIFY)
    assert response["Location"] == LOGIN


def test_the_pending_sign_in_expires(member, moving_clock, monkeypatch):
    import time as real_time

    secret = give_totp(member)
    moving_clock.advance(30)
    client = Client()
    password_step(client, member)
    now = real_time.time()
    monkeypatch.setattr("orgsecurity.auth.time.time", lambda: now + 11 * 60)
    response = client.post(VERIFY, {"code": code_for_secret(secret)})
    assert response["Location"] == LOGIN


def test_wrong_codes_are_throttled_per_account_and_network_and_audited(member, moving_clock, settings):
    secret = give_totp(member)
    moving_clock.advance(30)
    client = Client()
    password_step(client, member)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(VERIFY, {"code": "123456"}, REMOTE_ADDR="203.0.113.10").status_code == 400
    locked = client.post(VERIFY, {"code": "123456"}, REMOTE_ADDR="203.0.113.10")
    assert locked.status_code == 429
    # While locked, even the right code is not checked (no oracle).
    right = client.post(VERIFY, {"code": code_for_secret(secret)}, REMOTE_ADDR="203.0.113.10")
    assert right.status_code == 429
    failures = AuditEvent.objects.filter(action="auth.sign_in_failed", details__method="two-factor")
    assert failures.count() >= settings.AXES_FAILURE_LIMIT - 1
    # A wrong code reads as one in the audit log and on the overview, not as a wrong password.
    assert failures.first().details["reason"] in ("wrong second factor", "locked out")
    assert failures.filter(details__reason="wrong second factor").exists()
    # The same lockout holds for the password form of that account from that network.
    assert password_step(Client(), member).status_code == 429


def test_a_recovery_sign_in_asks_for_the_factor_too(owner, moving_clock):
    from sso.recovery import accounts as recovery

    membership = owner.memberships.get()
    account = recovery.designate(membership.organization, actor=owner, membership=membership)
    codes = recovery.generate_codes(account, actor=owner)
    secret = give_totp(owner)
    moving_clock.advance(30)
    client = Client()
    response = client.post(
        "/accounts/recovery/", {"username": owner.email, "password": PASSWORD, "recovery_code": codes[0]}
    )
    assert response["Location"] == VERIFY
    response = client.post(VERIFY, {"code": code_for_secret(secret)})
    assert response.status_code == 302
    assert auth_method(client_request(client)) == "recovery"


def client_request(client: Client):
    class Request:
        session = client.session

    return Request()
