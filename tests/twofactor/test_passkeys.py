"""Passkeys (WebAuthn, with a software authenticator that really signs): registration behind re-authentication,
sign in with a passkey, the passkey as second factor, and what must be refused: a wrong origin, a challenge from
another session or used twice, another account's passkey, a missing user verification; sign-count regressions
are recorded and shown."""

from __future__ import annotations

import json

from django.test import Client

from audit.models import AuditEvent
from orgsecurity.signin_state import auth_method
from tests.helpers.core import PASSWORD, mark_reauthenticated_session
from tests.helpers.twofactor import SoftAuthenticator, post_json, register_passkey
from twofactor.models import WebAuthnCredential

SIGN_IN_OPTIONS = "/accounts/2fa/sign-in/passkey/options/"
SIGN_IN = "/accounts/2fa/sign-in/passkey/"


def with_passkey(client_for, user, **authenticator_fields) -> tuple[Client, SoftAuthenticator]:
    client = client_for(user)
    authenticator = SoftAuthenticator(**authenticator_fields)
    response = register_passkey(client, authenticator)
    assert response.status_code == 200, response.content
    return client, authenticator


def passkey_sign_in(client: Client, authenticator: SoftAuthenticator, **get_kwargs):
    options = post_json(client, SIGN_IN_OPTIONS).json()
    return post_json(client, SIGN_IN, {"credential": authenticator.get(options, **get_kwargs)})


def session_method(client: Client) -> str:
    class Request:
        session = client.session

    return auth_method(Request())


def test_registering_a_passkey_is_stored_named_audited_and_gives_backup_codes(client_for, member):
    client = client_for(member)
    response = register_passkey(client, SoftAuthenticator())
    assert response.json()["redirect"].startswith("/accounts/2fa/backup-codes/?ticket=")
    credential = WebAuthnCredential.objects.get(user=member)
    assert credential.name == "Laptop" and credential.discoverable
    assert AuditEvent.objects.filter(action="twofactor.factor_added", details__factor="passkey Laptop").exists()
    assert "Laptop" in client.get("/accounts/2fa/").content.decode()


def test_registering_needs_a_recent_reauthentication(client_for, member):
    client = client_for(member)
    session = client.session
    session["reauth_at"] = 0
    session.save()
    response = post_json(client, "/accounts/2fa/passkeys/options/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "reauthentication_required"


def test_sign_in_with_a_passkey_alone(client_for, member):
    _, authenticator = with_passkey(client_for, member)
    client = Client()
    response = passkey_sign_in(client, authenticator)
    assert response.status_code == 200, response.content
    assert response.json()["redirect"] == "/"
    assert client.get("/orgs/acme/").status_code == 200
    assert session_method(client) == "passkey"
    assert WebAuthnCredential.objects.get(user=member).last_used_at is not None


def test_a_wrong_origin_is_refused(client_for, member):
    _, authenticator = with_passkey(client_for, member)
    client = Client()
    response = passkey_sign_in(client, authenticator, origin="https://evil.test")
    assert response.status_code == 400
    assert client.get("/orgs/acme/").status_code == 302


def test_a_challenge_from_another_session_is_refused(client_for, member):
    _, authenticator = with_passkey(client_for, member)
    victim, attacker = Client(), Client()
    options = post_json(victim, SIGN_IN_OPTIONS).json()
    response = post_json(attacker, SIGN_IN, {"credential": authenticator.get(options)})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_challenge"


def test_a_challenge_works_once(client_for, member):
    _, authenticator = with_passkey(client_for, member)
    client = Client()
    options = post_json(client, SIGN_IN_OPTIONS).json()
    answer = authenticator.get(options)
    assert post_json(client, SIGN_IN, {"credential": answer}).status_code == 200
    assert post_json(client, SIGN_IN, {"credential": answer}).status_code == 400  # its challenge is gone


def test_user_verification_is_required_to_sign_in_with_a_passkey(client_for, member):
    _, authenticator = with_passkey(client_for, member)
    authenticator.user_verified = False
    assert passkey_sign_in(Client(), authenticator).status_code == 400


def test_one_accounts_passkey_never_completes_another_accounts_second_step(client_for, member, admin):
    _, members_key = with_passkey(client_for, member)
    with_passkey(client_for, admin)
    client = Client()
    client.post("/accounts/login/", {"username": admin.email, "password": PASSWORD})
    options = post_json(client, "/accounts/2fa/verify/passkey/options/").json()
    options["allowCredentials"] = []
    response = post_json(client, "/accounts/2fa/verify/passkey/", {"credential": members_key.get(options)})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_credential"
    assert client.get("/orgs/acme/").status_code == 302


def test_the_passkey_as_second_factor_after_the_password(client_for, member):
    _, authenticator = with_passkey(client_for, member)
    client = Client()
    assert client.post("/accounts/login/", {"username": member.email, "password": PASSWORD})["Location"] == (
        "/accounts/2fa/verify/"
    )
    assert "Use your passkey" in client.get("/accounts/2fa/verify/").content.decode()
    options = post_json(client, "/accounts/2fa/verify/passkey/options/").json()
    response = post_json(client, "/accounts/2fa/verify/passkey/", {"credential": authenticator.get(options)})
    assert response.json() == {"redirect": "/"}
    assert session_method(client) == "password"


def test_a_sign_count_regression_is_recorded_and_shown(client_for, member):
    client, authenticator = with_passkey(client_for, member)
    assert passkey_sign_in(Client(), authenticator, count_step=5).status_code == 200
    authenticator.sign_count = 1  # a clone with an older counter
    assert passkey_sign_in(Client(), authenticator, count_step=0).status_code == 200
    credential = WebAuthnCredential.objects.get(user=member)
    assert credential.sign_count_regressed_at is not None
    assert AuditEvent.objects.filter(action="twofactor.sign_count_regressed").exists()
    assert "may have been cloned" in client.get("/accounts/2fa/").content.decode()


def test_passkeys_are_unavailable_on_an_ip_address(client_for, member, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    client = client_for(member)
    page = client.get("/accounts/2fa/").content.decode()
    assert "IP address 127.0.0.1" in page
    assert post_json(client, "/accounts/2fa/passkeys/options/").status_code == 409


def test_removing_a_passkey_needs_reauthentication_and_is_audited(client_for, member):
    client, _ = with_passkey(client_for, member)
    credential = WebAuthnCredential.objects.get(user=member)
    session = client.session
    session["reauth_at"] = 0
    session.save()
    response = client.post(f"/accounts/2fa/passkeys/{credential.pk}/remove/")
    assert "/accounts/reauthenticate/" in response["Location"]
    assert WebAuthnCredential.objects.filter(pk=credential.pk).exists()
    session = client.session
    mark_reauthenticated_session(session)
    session.save()
    client.post(f"/accounts/2fa/passkeys/{credential.pk}/remove/")
    assert not WebAuthnCredential.objects.filter(pk=credential.pk).exists()
    assert AuditEvent.objects.filter(action="twofactor.factor_removed").exists()


def test_another_accounts_passkey_cannot_be_removed(client_for, member, admin):
    with_passkey(client_for, member)
    credential = WebAuthnCredential.objects.get(user=member)
    assert client_for(admin).post(f"/accounts/2fa/passkeys/{credential.pk}/remove/").status_code == 404


def test_garbage_answers_get_json_errors_not_500(client_for, member):
    client = client_for(member)
    post_json(client, "/accounts/2fa/passkeys/options/")
    bad = client.post("/accounts/2fa/passkeys/", data="not json", content_type="application/json")
    assert bad.status_code == 400 and "error" in json.loads(bad.content)
    post_json(client, SIGN_IN_OPTIONS)
    assert post_json(client, SIGN_IN, {"credential": {"id": "x", "response": {}}}).status_code == 400


def test_failed_passkey_sign_ins_count_against_the_account_and_lock_it(client_for, member, settings):
    _, authenticator = with_passkey(client_for, member)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert passkey_sign_in(client, authenticator, origin="https://evil.test").status_code == 400
    assert passkey_sign_in(client, authenticator, origin="https://evil.test").status_code == 429
    assert passkey_sign_in(client, authenticator).status_code == 429  # even the right answer while locked
    assert AuditEvent.objects.filter(
        action="auth.sign_in_failed", details__method="passkey", details__reason="passkey not accepted"
    ).exists()


def test_a_passkey_does_not_get_around_sso_enforcement(client_for, member, monkeypatch):
    _, authenticator = with_passkey(client_for, member)
    monkeypatch.setattr("twofactor.views.password_refused_by", lambda user: [user])
    response = passkey_sign_in(Client(), authenticator)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "sso_required"
