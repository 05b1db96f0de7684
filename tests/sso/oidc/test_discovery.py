"""Discovery: real providers' documents (tests/fixtures/idp) are read correctly or refused with a clear reason,
and fetching them is guarded (private addresses, size, redirects, time)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from werkzeug import Response

from sso import fetch as sso_fetch
from sso.models import OIDCSettings
from sso.oidc import fetch, keys
from sso.oidc.discovery import DiscoveryError, discover, parse_discovery, split_issuer_input
from sso.oidc.keys import KeyRefused, parse_jwks, select_key

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "idp"
ENTRA_TENANT = "a51dae83-9ea9-4d51-ae6b-52ae0337a7f9"
ENTRA_TENANT_ISSUER = f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
MSA_ISSUER = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def parse(name: str, typed_issuer: str):
    issuer, url = split_issuer_input(typed_issuer)
    return parse_discovery(fixture(name), discovery_url=url, expected_issuer=issuer)


def test_okta_is_read_with_its_path_issuer():
    metadata = parse("oidc-okta-openid-configuration.json", "https://dev-265911.oktapreview.com/oauth2/default")
    assert metadata.issuer == "https://dev-265911.oktapreview.com/oauth2/default"
    assert (
        metadata.discovery_url == "https://dev-265911.oktapreview.com/oauth2/default/.well-known/openid-configuration"
    )
    assert metadata.authorization_endpoint == "https://dev-265911.oktapreview.com/oauth2/default/v1/authorize"
    assert metadata.jwks_uri == "https://dev-265911.oktapreview.com/oauth2/default/v1/keys"
    assert metadata.end_session_endpoint == "https://dev-265911.oktapreview.com/oauth2/default/v1/logout"
    assert metadata.token_auth_method == "client_secret_basic"
    assert metadata.signing_algorithms == ("RS256",)


def test_google_is_read_with_endpoints_on_other_hosts():
    metadata = parse("oidc-google-openid-configuration.json", "https://accounts.google.com/")
    assert metadata.issuer == "https://accounts.google.com"  # stored as the provider states it
    assert metadata.token_endpoint == "https://oauth2.googleapis.com/token"
    assert metadata.userinfo_endpoint == "https://openidconnect.googleapis.com/v1/userinfo"
    assert metadata.jwks_uri == "https://www.googleapis.com/oauth2/v3/certs"
    assert metadata.end_session_endpoint == ""


def test_an_entra_tenant_document_is_read_verbatim():
    metadata = parse("oidc-entra-v2-tenant-openid-configuration.json", ENTRA_TENANT_ISSUER)
    assert metadata.issuer == ENTRA_TENANT_ISSUER
    assert metadata.jwks_uri == f"https://login.microsoftonline.com/{ENTRA_TENANT}/discovery/v2.0/keys"
    assert metadata.userinfo_endpoint == "https://graph.microsoft.com/oidc/userinfo"
    assert metadata.token_auth_method == "client_secret_basic"


def test_the_entra_multi_tenant_template_is_refused_with_what_to_enter():
    with pytest.raises(DiscoveryError) as refused:
        parse("oidc-entra-v2-common-openid-configuration.json", "https://login.microsoftonline.com/common/v2.0")
    message = refused.value.message
    assert "{tenantid}" in message and "would match every Microsoft Entra ID tenant" in message
    assert "https://login.microsoftonline.com/<your tenant ID>/v2.0" in message


def test_a_templated_issuer_is_refused_even_when_typed_as_is():
    with pytest.raises(DiscoveryError, match="template"):
        parse("oidc-entra-v2-common-openid-configuration.json", "https://login.microsoftonline.com/{tenantid}/v2.0")


def test_keycloak_on_plain_http_localhost_is_refused_unless_private_hosts_are_allowed(settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    with pytest.raises(DiscoveryError, match="localhost, which is a loopback address"):
        parse("oidc-keycloak-openid-configuration.json", "http://localhost:8080/realms/myrealm")
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8", "::1/128"]
    metadata = parse("oidc-keycloak-openid-configuration.json", "http://localhost:8080/realms/myrealm")
    assert metadata.issuer == "http://localhost:8080/realms/myrealm"
    assert metadata.token_endpoint == "http://localhost:8080/realms/myrealm/protocol/openid-connect/token"
    assert "HS256" in metadata.signing_algorithms and "RS256" in metadata.signing_algorithms


def test_every_fixture_is_either_read_or_refused_with_a_reason(settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    outcomes = {}
    for path in sorted(FIXTURES.glob("oidc-*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        issuer = document["issuer"].replace("{tenantid}", "common")
        try:
            outcomes[path.name] = parse(path.name, issuer).issuer
        except DiscoveryError as exc:
            outcomes[path.name] = f"refused: {exc.message}"
    assert outcomes["oidc-okta-openid-configuration.json"] == "https://dev-265911.oktapreview.com/oauth2/default"
    assert outcomes["oidc-google-openid-configuration.json"] == "https://accounts.google.com"
    assert outcomes["oidc-entra-v2-tenant-openid-configuration.json"] == ENTRA_TENANT_ISSUER
    assert outcomes["oidc-entra-v2-common-openid-configuration.json"].startswith("refused: This is a multi-tenant")
    assert (
        "plain http" in outcomes["oidc-keycloak-openid-configuration.json"]
        or "loopback" in (outcomes["oidc-keycloak-openid-configuration.json"])
    )
    assert len(outcomes) == 5


def test_the_issuer_must_be_the_one_typed():
    with pytest.raises(
        DiscoveryError, match=re.escape("names the issuer https://accounts.google.com, not https://evil")
    ):
        parse("oidc-google-openid-configuration.json", "https://evil.example")


@pytest.mark.parametrize(
    ("document_change", "words"),
    [
        ({"issuer": None}, "has no issuer"),
        ({"jwks_uri": None}, "has no jwks_uri"),
        ({"token_endpoint": "http://oauth2.googleapis.com/token"}, "uses plain http"),
        ({"authorization_endpoint": "https://10.0.0.5/authorize"}, "10.0.0.5, which is a private network address"),
        ({"userinfo_endpoint": "https://169.254.169.254/latest"}, "a link-local address"),
        ({"code_challenge_methods_supported": ["plain"]}, "does not support PKCE with S256"),
        ({"response_types_supported": ["id_token"]}, "does not support the authorization code flow"),
        ({"id_token_signing_alg_values_supported": ["HS256", "none"]}, "signs ID tokens only with HS256, none"),
        ({"token_endpoint_auth_methods_supported": ["private_key_jwt"]}, "accepts only private_key_jwt"),
    ],
)
def test_unusable_documents_are_refused_with_the_reason(settings, document_change, words):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    document = {**fixture("oidc-google-openid-configuration.json"), **document_change}
    document = {name: value for name, value in document.items() if value is not None}
    with pytest.raises(DiscoveryError) as refused:
        parse_discovery(
            document, discovery_url="https://accounts.google.com/x", expected_issuer="https://accounts.google.com"
        )
    assert words in refused.value.message


@pytest.mark.parametrize(
    ("typed", "issuer", "url"),
    [
        ("https://idp.test/", "https://idp.test/", "https://idp.test/.well-known/openid-configuration"),
        (
            "  https://idp.test/realm ",
            "https://idp.test/realm",
            "https://idp.test/realm/.well-known/openid-configuration",
        ),
        (
            "https://idp.test/realm/.well-known/openid-configuration",
            "https://idp.test/realm",
            "https://idp.test/realm/.well-known/openid-configuration",
        ),
    ],
)
def test_what_admins_type_becomes_a_discovery_url(typed, issuer, url):
    assert split_issuer_input(typed) == (issuer, url)


@pytest.mark.parametrize("typed", ["idp.test", "ftp://idp.test", "https://idp.test/?tenant=1", ""])
def test_what_is_not_an_issuer_is_refused(typed):
    with pytest.raises(DiscoveryError):
        split_issuer_input(typed)


# --- the Entra key set ------------------------------------------------------------------------------------


def test_the_entra_key_set_is_read():
    entra_keys = parse_jwks(fixture("jwks-entra-common-keys.json"))
    assert len(entra_keys) == 8
    for key in entra_keys:
        assert keys.select_key([key], alg="RS256", kid=key["kid"], issuer=key["issuer"].replace("{tenantid}", "t1")).key


def test_entra_keys_of_another_tenant_cannot_sign_for_ours():
    entra_keys = parse_jwks(fixture("jwks-entra-common-keys.json"))
    template_kid, msa_kid = "Mc7l3Iz93g7uwgNeEmmw_WYGPko", "8IIDH6M8c3cXoeojKme8Jvqsr2Y"
    assert select_key(entra_keys, alg="RS256", kid=template_kid, issuer=ENTRA_TENANT_ISSUER).key["kid"] == template_kid
    refused = select_key(entra_keys, alg="RS256", kid=msa_kid, issuer=ENTRA_TENANT_ISSUER)
    assert refused.key is None and "its type, curve, use or issuer differ" in refused.reason
    assert select_key(entra_keys, alg="RS256", kid=msa_kid, issuer=MSA_ISSUER).key["kid"] == msa_kid
    # The template stands for one path segment, never more: it does not widen the issuer.
    for issuer in (
        "https://login.microsoftonline.com/v2.0",
        "https://login.microsoftonline.com/a/b/v2.0",
        "https://evil.example/login.microsoftonline.com/x/v2.0",
    ):
        assert select_key(entra_keys, alg="RS256", kid=template_kid, issuer=issuer).key is None


def test_the_entra_key_set_is_fetched_and_used_for_the_tenant(provider_server, oidc_connection):
    provider_server.expect_request("/entra-keys").respond_with_data(
        (FIXTURES / "jwks-entra-common-keys.json").read_bytes(), content_type="application/json"
    )
    oidc = OIDCSettings.objects.get(connection=oidc_connection)
    oidc.issuer, oidc.jwks_uri = ENTRA_TENANT_ISSUER, provider_server.url_for("/entra-keys")
    key = keys.signing_key(oidc, {"alg": "RS256", "kid": "Mc7l3Iz93g7uwgNeEmmw_WYGPko"})
    assert key.algorithm_name == "RS256"
    with pytest.raises(KeyRefused, match="8IIDH6M8c3cXoeojKme8Jvqsr2Y"):
        keys.signing_key(oidc, {"alg": "RS256", "kid": "8IIDH6M8c3cXoeojKme8Jvqsr2Y"})


# --- fetching ---------------------------------------------------------------------------------------------


def test_discovery_is_fetched_from_the_provider(provider):
    metadata = discover(provider.issuer)
    assert metadata.issuer == provider.issuer and metadata.jwks_uri == f"{provider.issuer}/jwks"


def test_private_addresses_are_refused_in_production(provider, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    with pytest.raises(DiscoveryError, match=re.escape("127.0.0.1, which is a loopback address")):
        discover(provider.issuer)
    port = provider.server.port
    with pytest.raises(DiscoveryError, match="localhost, which is a loopback address"):
        discover(f"https://localhost:{port}")
    # Shorthand IPv4 spellings of loopback are read as the address they are (sso.fetch.literal_address), before any
    # lookup: refused as loopback by name.
    for disguised in (f"https://2130706433:{port}", f"https://127.1:{port}"):
        with pytest.raises(DiscoveryError, match="which is a loopback address"):
            discover(disguised)


def test_an_oversized_document_is_refused(provider_server):
    big = json.dumps({"issuer": "x", "padding": "x" * (fetch.MAX_RESPONSE_BYTES + 10)})
    provider_server.expect_request("/big/.well-known/openid-configuration").respond_with_data(
        big, content_type="application/json"
    )
    provider_server.expect_request("/streamed/.well-known/openid-configuration").respond_with_handler(
        lambda request: Response((b"x" * 65536 for _ in range(10)), content_type="application/json")
    )
    for path in ("big", "streamed"):
        with pytest.raises(DiscoveryError, match="larger than 512 KiB"):
            discover(provider_server.url_for(f"/{path}"))


def test_redirects_are_not_followed(provider_server):
    provider_server.expect_request("/moved/.well-known/openid-configuration").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data"}
    )
    with pytest.raises(DiscoveryError, match=re.escape("redirected to http://169.254.169.254/latest/meta-data")):
        discover(provider_server.url_for("/moved"))


def test_a_slow_provider_times_out(provider_server, monkeypatch):
    monkeypatch.setattr(sso_fetch, "TIMEOUT_SECONDS", 0.5)

    def slow(request):
        time.sleep(1.5)
        return Response("{}", content_type="application/json")

    provider_server.expect_request("/slow/.well-known/openid-configuration").respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(DiscoveryError, match="did not answer within"):
        discover(provider_server.url_for("/slow"))
    assert time.monotonic() - started < 1.4


def test_errors_and_non_json_are_refused_clearly(provider_server):
    provider_server.expect_request("/html/.well-known/openid-configuration").respond_with_data("<html>", status=200)
    with pytest.raises(DiscoveryError, match="did not answer with JSON"):
        discover(provider_server.url_for("/html"))
    with pytest.raises(DiscoveryError, match="answered HTTP 500"):
        discover(provider_server.url_for("/missing"))  # pytest-httpserver answers 500 for unknown paths
    with pytest.raises(DiscoveryError, match="could not be reached"):
        discover("http://127.0.0.1:9")


def test_check_deploy_warns_while_private_hosts_are_allowed(settings):
    from django.core.checks import run_checks

    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8", "::1/128"]
    assert "sso.W001" in [message.id for message in run_checks(include_deployment_checks=True)]
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    assert "sso.W001" not in [message.id for message in run_checks(include_deployment_checks=True)]
