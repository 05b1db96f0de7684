"""``manage.py configure_sso SLUG --protocol oidc``: creates or updates the connection, never prints the secret."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from orgsecurity.crypto import decrypt_secret
from sso.models import OIDCSettings, SSOConnection
from tests.sso.oidc.provider import CLIENT_ID, CLIENT_SECRET


def configure(*args: str) -> str:
    out = StringIO()
    call_command("configure_sso", *args, stdout=out)
    return out.getvalue()


def oidc_args(provider, *extra: str) -> list[str]:
    return ["acme", "--protocol", "oidc", "--issuer", provider.issuer, "--client-id", CLIENT_ID,
            "--client-secret-env", "ACME_OIDC_SECRET", *extra]  # fmt: skip


def test_it_creates_then_updates_the_connection(provider, org, owner, monkeypatch):
    monkeypatch.setenv("ACME_OIDC_SECRET", CLIENT_SECRET)
    output = configure(*oidc_args(provider, "--name", "Corp IdP", "--preset", "google"))
    connection = SSOConnection.objects.get()
    assert f"Created the OpenID Connect connection {connection.pk} of acme (status off)." in output
    assert "redirect URI: https://testserver/sso/acme/oidc/callback/" in output
    assert CLIENT_SECRET not in output
    oidc = OIDCSettings.objects.get()
    assert oidc.issuer == provider.issuer and decrypt_secret(oidc.client_secret_encrypted) == CLIENT_SECRET
    assert (
        connection.name == "Corp IdP" and connection.admin_owner == owner and "groups" not in connection.attribute_map
    )
    event = AuditEvent.objects.filter(action="sso.connection_created").get()
    assert event.actor_label == "configure_sso command"

    monkeypatch.setenv("ACME_OIDC_SECRET", "rotated-secret-1234")
    output = configure(*oidc_args(provider, "--scopes", "openid email"))
    assert "Updated the OpenID Connect connection" in output and "changed:      scopes" in output
    assert "rotated-secret-1234" not in output
    assert SSOConnection.objects.count() == 1
    oidc.refresh_from_db()
    assert oidc.scopes == "openid email" and decrypt_secret(oidc.client_secret_encrypted) == "rotated-secret-1234"


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["nope", "--protocol", "oidc", "--issuer", "{issuer}", "--client-id", "x", "--client-secret-env", "S"],
         {"S": "v"}, "There is no organization 'nope'."),
        (["acme", "--protocol", "oidc", "--issuer", "{issuer}", "--client-id", "x"], {}, "needs --client-secret-env"),
        (["acme", "--protocol", "oidc", "--issuer", "{issuer}", "--client-id", "x", "--client-secret-env", "UNSET"],
         {}, "The environment variable UNSET is not set or empty."),
        (["acme", "--protocol", "oidc", "--issuer", "{issuer}/wrong", "--client-id", "x", "--client-secret-env", "S"],
         {"S": "v"}, "answered HTTP 500"),
        (["acme", "--protocol", "oidc", "--issuer", "{issuer}", "--client-id", "x", "--client-secret-env", "S",
          "--scopes", "email"], {"S": "v"}, "must include openid"),
    ],
)  # fmt: skip
def test_it_fails_with_a_clear_message(provider, org, monkeypatch, args, env, words):
    monkeypatch.delenv("UNSET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(CommandError) as failed:
        configure(*[arg.replace("{issuer}", provider.issuer) for arg in args])
    assert words in str(failed.value)
    assert not SSOConnection.objects.exists()
