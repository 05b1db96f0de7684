"""OIDC admin pages: add a connection, change its settings. The client secret is never shown or audited."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from orgsecurity.crypto import decrypt_secret
from sso.connections import actions as sso_actions
from sso.models import OIDCSettings, SSOConnection
from tests.helpers.core import mark_reauthenticated_session
from tests.sso.oidc.provider import CLIENT_ID, CLIENT_SECRET

BASE = "/orgs/acme/settings/security/sso/"
CREATE = f"{BASE}oidc/new/"
NEW_SECRET = "brand-new-secret-91c3"


def create_payload(provider, **overrides):
    data = {
        "name": "Corp IdP",
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": "openid email profile groups",
        "preset": "okta",
    }
    return {**data, **overrides}


def audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("changes", "details", "target_label")))


def test_it_checks_access_to_the_create_page(client_for, provider, owner, admin, member, outsider):
    page = client_for(owner).get(CREATE)
    assert page.status_code == 200 and b"Add an OpenID Connect connection" in page.content
    # The redirect URI is needed to register the application at the provider, before there is a client ID.
    assert b'value="https://testserver/sso/acme/oidc/callback/"' in page.content
    assert client_for(admin).get(CREATE).status_code == 200
    assert client_for(member).get(CREATE).status_code == 403
    assert client_for(outsider).get(CREATE).status_code == 404
    assert client_for(member).post(CREATE, create_payload(provider)).status_code == 403
    assert client_for(outsider).post(CREATE, create_payload(provider)).status_code == 404
    assert not SSOConnection.objects.exists()


def test_the_sso_page_offers_to_add_an_oidc_connection(client_for, owner):
    page = client_for(owner).get(BASE).content.decode()
    assert f'href="{CREATE}"' in page and "Add OIDC connection" in page


def test_an_admin_creates_a_connection_and_sees_the_redirect_uri(client_for, provider, admin, settings):
    settings.PUBLIC_BASE_URL = "https://security.example.com"
    client = client_for(admin)
    response = client.post(CREATE, create_payload(provider), HTTP_HOST="testserver")
    connection = SSOConnection.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{BASE}{connection.pk}/"
    assert connection.protocol == "oidc" and connection.status == "off" and connection.admin_owner == admin
    assert connection.attribute_map["groups"] == "groups" and connection.attribute_map["email"] == "email"
    oidc = OIDCSettings.objects.get(connection=connection)
    assert oidc.issuer == provider.issuer and oidc.token_endpoint == f"{provider.issuer}/token"
    assert oidc.scopes == "openid email profile groups" and oidc.allowed_algorithms == ["RS256", "ES256"]
    assert CLIENT_SECRET not in oidc.client_secret_encrypted
    assert decrypt_secret(oidc.client_secret_encrypted) == CLIENT_SECRET

    page = client.get(response["Location"]).content.decode()
    assert 'value="https://security.example.com/sso/acme/oidc/callback/"' in page
    assert 'data-copy="oidc-redirect-uri"' in page and "copy.js" in page
    assert provider.issuer in page and CLIENT_ID in page and "stored encrypted" in page
    assert CLIENT_SECRET not in page

    assert CLIENT_SECRET not in audit_text()
    changed = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert changed.changes["issuer"] == [None, provider.issuer]
    assert changed.changes["client_id"] == [None, CLIENT_ID]
    assert changed.details["replaced"] == "client secret"
    assert AuditEvent.objects.filter(action="sso.connection_created", changes__protocol=[None, "oidc"]).exists()


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"issuer": "not a url"}, "is not an https:// URL"),
        ({"client_id": ""}, "This field is required"),
        ({"client_secret": "   "}, "Enter the client secret"),
        ({"scopes": "email profile"}, "must include openid"),
        ({"scopes": 'openid "quoted"'}, "is not a valid scope name"),
        ({"preset": "nope"}, "Select a valid choice"),
    ],
)
def test_bad_input_shows_the_reason_and_saves_nothing(client_for, provider, owner, overrides, words):
    response = client_for(owner).post(CREATE, create_payload(provider, **overrides))
    assert response.status_code == 400
    assert words in response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")
    assert CLIENT_SECRET not in response.content.decode()
    assert not SSOConnection.objects.exists() and not AuditEvent.objects.filter(action__startswith="sso.").exists()


def test_a_provider_that_cannot_be_used_saves_nothing(client_for, provider, owner, settings):
    client = client_for(owner)
    response = client.post(CREATE, create_payload(provider, issuer=f"{provider.issuer}/elsewhere"))
    assert response.status_code == 400 and b"answered HTTP 500" in response.content
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    response = client.post(CREATE, create_payload(provider))
    assert response.status_code == 400 and b"loopback address" in response.content
    assert not SSOConnection.objects.exists()


def test_a_stale_session_must_reauthenticate_first(client_for, provider, owner):
    client = client_for(owner)
    session = client.session
    session["reauth_at"] = 0
    session.save()
    for response in (client.get(CREATE), client.post(CREATE, create_payload(provider))):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    assert not SSOConnection.objects.exists()


# --- changing the settings ------------------------------------------------------------------------------------


def settings_url(connection) -> str:
    return f"{BASE}oidc/{connection.pk}/settings/"


def settings_payload(provider, **overrides):
    data = {
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": "",
        "scopes": "openid email profile",
        "allowed_algorithms": ["RS256", "ES256"],
        "preset": "",
    }
    return {**data, **overrides}


def test_it_checks_access_to_the_settings(client_for, provider, oidc_connection, owner, member, outsider, other_org):
    url = settings_url(oidc_connection)
    payload = settings_payload(provider, scopes="openid email")
    assert client_for(member).post(url, payload).status_code == 403
    assert client_for(outsider).post(url, payload).status_code == 404
    assert OIDCSettings.objects.get().scopes == "openid email profile"
    foreign = sso_actions.create_connection(other_org, actor=other_org.memberships.get().user, protocol="oidc")
    assert client_for(owner).post(settings_url(foreign), payload).status_code == 404
    saml = sso_actions.create_connection(oidc_connection.organization, actor=owner, protocol="saml")
    assert client_for(owner).post(settings_url(saml), payload).status_code == 404
    assert client_for(owner).get(url).status_code == 405


def test_the_connection_page_shows_the_settings_form(client_for, oidc_connection, owner):
    page = client_for(owner).get(f"{BASE}{oidc_connection.pk}/").content.decode()
    assert "Change OpenID Connect settings" in page and 'name="allowed_algorithms"' in page
    assert 'name="client_secret"' in page and CLIENT_SECRET not in page


def test_settings_are_changed_and_audited_without_the_secret(client_for, provider, oidc_connection, owner):
    client = client_for(owner)
    response = client.post(
        settings_url(oidc_connection),
        settings_payload(
            provider,
            client_secret=NEW_SECRET,
            scopes="openid email",
            allowed_algorithms=["RS256"],
            accept_missing_email_verified="on",
            preset="google",
        ),
    )
    assert response.status_code == 302
    oidc = OIDCSettings.objects.get()
    assert decrypt_secret(oidc.client_secret_encrypted) == NEW_SECRET
    assert oidc.scopes == "openid email" and oidc.allowed_algorithms == ["RS256"]
    assert oidc.accept_missing_email_verified
    assert "groups" not in SSOConnection.objects.get().attribute_map
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.changes["scopes"] == ["openid email profile", "openid email"]
    assert event.changes["allowed_algorithms"] == [["RS256", "ES256"], ["RS256"]]
    assert event.details["replaced"] == "client secret"
    assert NEW_SECRET not in audit_text() and NEW_SECRET not in client.get(response["Location"]).content.decode()


def test_replacing_only_the_secret_is_audited(client_for, provider, oidc_connection, owner):
    client_for(owner).post(settings_url(oidc_connection), settings_payload(provider, client_secret=NEW_SECRET))
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.changes == {} and event.details == {"replaced": "client secret"}


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"allowed_algorithms": []}, "This field is required"),
        ({"allowed_algorithms": ["HS256"]}, "Select a valid choice"),
        ({"allowed_algorithms": ["PS512"]}, "none of them is allowed for this connection"),
        ({"scopes": "profile"}, "must include openid"),
        ({"issuer": "https://10.1.2.3"}, "private network address"),
    ],
)
def test_bad_settings_show_the_reason_and_change_nothing(
    client_for, provider, oidc_connection, owner, settings, overrides, words
):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = [] if "issuer" in overrides else ["127.0.0.0/8"]
    response = client_for(owner).post(settings_url(oidc_connection), settings_payload(provider, **overrides))
    assert response.status_code == 400
    assert words in response.content.decode()
    oidc = OIDCSettings.objects.get()
    assert oidc.allowed_algorithms == ["RS256", "ES256"] and oidc.scopes == "openid email profile"
    assert oidc.issuer == provider.issuer


def test_discovery_is_read_again_on_request(client_for, provider, oidc_connection, owner):
    original = provider.discovery

    def moved():
        return {**original(), "token_endpoint": f"{provider.issuer}/v2/token"}

    provider.discovery = moved
    client = client_for(owner)
    client.post(settings_url(oidc_connection), settings_payload(provider))
    assert OIDCSettings.objects.get().token_endpoint == f"{provider.issuer}/token"  # not asked: not re-read
    client.post(settings_url(oidc_connection), settings_payload(provider, refresh_discovery="on"))
    assert OIDCSettings.objects.get().token_endpoint == f"{provider.issuer}/v2/token"
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.changes["code_exchange_endpoint"] == [f"{provider.issuer}/token", f"{provider.issuer}/v2/token"]


def test_a_connection_without_provider_is_set_up_from_its_page(client_for, provider, org, owner):
    connection = sso_actions.create_connection(org, actor=owner, protocol="oidc", name="Later")
    client = client_for(owner)
    page = client.get(f"{BASE}{connection.pk}/").content.decode()
    assert "has no provider yet" in page
    response = client.post(settings_url(connection), settings_payload(provider))
    assert response.status_code == 400 and b"This field is required" in response.content  # the secret
    response = client.post(settings_url(connection), settings_payload(provider, client_secret=CLIENT_SECRET))
    assert response.status_code == 302
    assert OIDCSettings.objects.get(connection=connection).jwks_uri == f"{provider.issuer}/jwks"


def test_an_admin_with_a_stale_session_is_sent_to_reauthenticate(client_for, provider, oidc_connection, owner):
    client = client_for(owner)
    session = client.session
    session["reauth_at"] = 0
    session.save()
    response = client.post(settings_url(oidc_connection), settings_payload(provider, scopes="openid"))
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert OIDCSettings.objects.get().scopes == "openid email profile"
    mark_reauthenticated_session(session)
    session.save()
    assert client.post(settings_url(oidc_connection), settings_payload(provider, scopes="openid")).status_code == 302


def test_a_provider_url_that_cannot_be_stored_is_a_clear_400(client_for, provider, owner):
    original = provider.discovery
    provider.discovery = lambda: {**original(), "token_endpoint": "https://bad_host.test/token"}
    response = client_for(owner).post(CREATE, create_payload(provider))
    assert response.status_code == 400
    assert b"cannot be stored (token_endpoint: Enter a valid URL.)" in response.content
    assert not SSOConnection.objects.exists()


def test_the_audit_log_shows_the_changes_but_never_the_secret(client_for, provider, owner):
    client = client_for(owner)
    client.post(CREATE, create_payload(provider))
    connection = SSOConnection.objects.get()
    client.post(settings_url(connection), settings_payload(provider, client_secret=NEW_SECRET, scopes="openid email"))
    page = client.get("/orgs/acme/audit/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "changed the SSO connection" in text and "created the SSO connection" in text
    assert "created the oidc" not in text  # the target already names the protocol; no raw "oidc" before it
    assert CLIENT_SECRET not in text and NEW_SECRET not in text
    export = client.get("/orgs/acme/audit/export.jsonl")
    body = b"".join(export.streaming_content).decode() if export.streaming else export.content.decode()
    assert export.status_code == 200 and "openid email" in body
    assert CLIENT_SECRET not in body and NEW_SECRET not in body


def test_only_an_owner_changes_the_issuer_owners_sign_in_through(provider, oidc_connection, org, owner, admin):
    """Identities are keyed on the issuer: a new one cuts every linked person off, so once an owner signs in
    through the connection an admin cannot switch it to another provider; other settings stay theirs."""
    from dataclasses import replace

    from orgsecurity.actions import ActionRefused
    from sso.oidc import actions as oidc_actions
    from sso.oidc.discovery import discover
    from tests.helpers.sso import own_identity

    current = discover(provider.issuer)
    other = replace(current, issuer="https://op.rogue.test", discovery_url="https://op.rogue.test/.well-known/x")
    assert oidc_actions.update_oidc_settings(oidc_connection, actor=admin, scopes="openid email profile groups")
    owners = own_identity(oidc_connection, owner, "olivia", issuer=provider.issuer, subject_format="oidc")
    sso_actions.link_identity(oidc_connection, owner, owners, actor=owner, via="tests")
    with pytest.raises(ActionRefused, match="only an owner can change which IdP it trusts"):
        oidc_actions.update_oidc_settings(oidc_connection, actor=admin, metadata=other)
    assert OIDCSettings.objects.get(connection=oidc_connection).issuer == provider.issuer
    assert oidc_actions.update_oidc_settings(oidc_connection, actor=owner, metadata=other)["issuer"] == [
        provider.issuer,
        "https://op.rogue.test",
    ]


def test_a_discovery_document_that_cannot_be_fetched_is_explained_on_our_page(client_for, provider, owner):
    response = client_for(owner).post(CREATE, create_payload(provider, issuer="http://127.0.0.1:9"))
    assert response.status_code == 400
    assert b"could not be reached" in response.content and b"discovery" in response.content
    assert not SSOConnection.objects.exists()
