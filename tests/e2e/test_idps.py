"""The test IdPs themselves work: SimpleSAMLphp issues signed assertions to the SPs it trusts, node-oidc-provider
issues signed ID tokens through its login page with PKCE. These stand apart from the product (its SAML and OIDC
code is tested against them elsewhere), so a broken IdP setup is told apart from a broken product."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from xml.etree import ElementTree

import jwt
import pytest
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from playwright.sync_api import expect

from tests.e2e.harness import REPO_ROOT, free_port, http_ok
from tests.e2e.idp_oidc import OIDCClient
from tests.e2e.idp_saml import NAMEID_EMAIL, NAMEID_PERSISTENT

pytestmark = pytest.mark.e2e

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

# A stand-in SP and RP outside the product: the browser never reaches them, the tests catch the IdP's answer.
PROBE_ORIGIN = "https://sp.example.test"


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, data, headers or {}), timeout=10) as response:
        return response.read()


# --- SimpleSAMLphp ------------------------------------------------------------------------------------------------


def test_simplesamlphp_serves_its_idp_metadata(saml_idp):
    root = ElementTree.fromstring(fetch(saml_idp.metadata_url))  # noqa: S314 - our own IdP's metadata

    assert root.tag == f"{MD}EntityDescriptor"
    assert root.get("entityID") == saml_idp.entity_id
    idp = root.find(f"{MD}IDPSSODescriptor")
    sso = {element.get("Binding"): element.get("Location") for element in idp.iter(f"{MD}SingleSignOnService")}
    assert sso[REDIRECT_BINDING] == saml_idp.sso_url
    slo = {element.get("Binding"): element.get("Location") for element in idp.iter(f"{MD}SingleLogoutService")}
    assert slo[REDIRECT_BINDING] == saml_idp.slo_url
    certificates = [
        "".join(element.text.split())
        for descriptor in idp.iter(f"{MD}KeyDescriptor")
        if descriptor.get("use") in {None, "signing"}
        for element in descriptor.iter(f"{DS}X509Certificate")
    ]
    assert certificates == [saml_idp.signing.certificate_base64]
    formats = [element.text for element in idp.iter(f"{MD}NameIDFormat")]
    assert NAMEID_PERSISTENT in formats


def test_a_person_signs_in_on_simplesamlphps_own_test_page(page, saml_idp):
    member = saml_idp.user("member")
    page.goto(saml_idp.test_page_url)

    page.fill("#username", "member")
    page.fill("#password", "not-the-password")
    page.click("#submit_button")
    expect(page.locator("body")).to_contain_text("Incorrect username or password")

    page.fill("#username", "member")
    page.fill("#password", member.password)
    page.click("#submit_button")

    page.wait_for_url(saml_idp.test_page_url)
    assert "Your attributes" in page.inner_text("body")
    attributes = page.inner_text("table#table_with_attributes")
    assert member.email in attributes
    assert member.uid in attributes
    assert member.name in attributes


def _probe_sp_settings(saml_idp, name: str, name_id_format: str) -> dict:
    root = f"{PROBE_ORIGIN}/{name}"
    return {
        "strict": True,
        "sp": {
            "entityId": f"{root}/metadata/",
            "assertionConsumerService": {"url": f"{root}/acs/", "binding": POST_BINDING},
            "singleLogoutService": {"url": f"{root}/sls/", "binding": REDIRECT_BINDING},
            "NameIDFormat": name_id_format,
        },
        "idp": {
            "entityId": saml_idp.entity_id,
            "singleSignOnService": {"url": saml_idp.sso_url, "binding": REDIRECT_BINDING},
            "x509cert": saml_idp.signing.certificate_base64,
        },
        "security": {"wantAssertionsSigned": True, "rejectDeprecatedAlgorithm": True, "requestedAuthnContext": False},
    }


@pytest.mark.parametrize("registered_by", ["urls", "metadata_xml"])
def test_simplesamlphp_sends_a_trusted_sp_a_signed_assertion_across_sites(page, saml_idp, registered_by):
    name_id_format = NAMEID_PERSISTENT if registered_by == "urls" else NAMEID_EMAIL
    settings = OneLogin_Saml2_Settings(_probe_sp_settings(saml_idp, f"probe-{registered_by}", name_id_format))
    sp = settings.get_sp_data()
    if registered_by == "urls":
        saml_idp.register_sp(sp["entityId"], sp["assertionConsumerService"]["url"], sp["singleLogoutService"]["url"])
    else:
        saml_idp.register_sp(metadata_xml=settings.get_sp_metadata())
    authn_request = OneLogin_Saml2_Authn_Request(settings)
    query = urllib.parse.urlencode({"SAMLRequest": authn_request.get_request(), "RelayState": "/orgs/acme/"})
    posted = []

    def catch_the_post(route):
        posted.append((route.request.url, route.request.method, route.request.post_data))
        route.fulfill(status=200, content_type="text/html", body="<h1>ACS reached</h1>")

    page.route(f"{PROBE_ORIGIN}/**", catch_the_post)
    member = saml_idp.user("member")
    page.goto(f"{saml_idp.sso_url}?{query}")
    page.fill("#username", member.username)
    page.fill("#password", member.password)
    page.click("#submit_button")
    page.get_by_role("heading", name="ACS reached").wait_for()

    url, method, body = posted[0]
    assert (url, method) == (sp["assertionConsumerService"]["url"], "POST")
    form = urllib.parse.parse_qs(body)
    assert form["RelayState"] == ["/orgs/acme/"]
    response = OneLogin_Saml2_Response(settings, form["SAMLResponse"][0])
    acs = urllib.parse.urlsplit(url)
    request_data = {"https": "on", "http_host": acs.hostname, "server_port": 443, "script_name": acs.path}
    # python3-saml checks the signature with the IdP's certificate, audience, recipient, destination, timing.
    assert response.is_valid(request_data, authn_request.get_id(), raise_exceptions=True)
    assert response.get_issuers() == [saml_idp.entity_id]
    expected_name_id = member.uid if registered_by == "urls" else member.email
    assert (response.get_nameid(), response.get_nameid_format()) == (expected_name_id, name_id_format)
    attributes = response.get_attributes()
    assert attributes["mail"] == [member.email]
    assert attributes["displayName"] == [member.name]
    assert attributes["groups"] == list(member.groups)


# --- node-oidc-provider -------------------------------------------------------------------------------------------


def test_node_oidc_provider_serves_discovery_and_jwks(oidc_provider):
    discovery = json.loads(fetch(oidc_provider.discovery_url))

    assert discovery["issuer"] == oidc_provider.issuer
    assert discovery["jwks_uri"] == oidc_provider.jwks_url
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert {"RS256", "ES256"} <= set(discovery["id_token_signing_alg_values_supported"])
    assert {"openid", "email", "profile"} <= set(discovery["scopes_supported"])
    keys = json.loads(fetch(discovery["jwks_uri"]))["keys"]
    assert [key["kid"] for key in keys] == oidc_provider.signing_kids
    assert all("d" not in key for key in keys), "the JWKS must carry public keys only"


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@pytest.fixture
def probe_client(oidc_provider) -> OIDCClient:
    return oidc_provider.add_client(
        OIDCClient("e2e-probe", "probe-secret-" + "x" * 20, redirect_uris=[f"{PROBE_ORIGIN}/oidc/callback/"])
    )


def test_a_person_signs_in_on_the_providers_login_page_and_the_client_gets_a_signed_id_token(
    page, oidc_provider, probe_client
):
    discovery = json.loads(fetch(oidc_provider.discovery_url))
    verifier, challenge = _pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    redirect = probe_client.redirect_uris[0]
    authorize = (
        discovery["authorization_endpoint"]
        + "?"
        + urllib.parse.urlencode(
            {
                "client_id": probe_client.client_id,
                "response_type": "code",
                "scope": "openid email profile",
                "redirect_uri": redirect,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    callbacks = []

    def catch_the_callback(route):
        callbacks.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Callback reached</h1>")

    page.route(f"{redirect}**", catch_the_callback)
    member = oidc_provider.user("member")
    page.goto(authorize)

    page.fill("input[name=login]", member.login)
    page.fill("input[name=password]", "not-the-password")
    page.get_by_role("button", name="Sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in failed")
    page.get_by_role("link", name="Try again").click()

    page.fill("input[name=login]", member.login)
    page.fill("input[name=password]", member.password)
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("heading", name="Callback reached").wait_for()

    answer = urllib.parse.parse_qs(urllib.parse.urlsplit(callbacks[0]).query)
    assert answer["state"] == [state]
    assert answer["iss"] == [oidc_provider.issuer]  # RFC 9207
    credentials = base64.b64encode(f"{probe_client.client_id}:{probe_client.client_secret}".encode()).decode()
    token_request = {
        "grant_type": "authorization_code",
        "code": answer["code"][0],
        "redirect_uri": redirect,
        "code_verifier": verifier,
    }
    tokens = json.loads(
        fetch(
            discovery["token_endpoint"],
            urllib.parse.urlencode(token_request).encode(),
            {"Authorization": f"Basic {credentials}", "Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(tokens["id_token"])
    claims = jwt.decode(
        tokens["id_token"],
        signing_key.key,
        algorithms=["RS256"],
        audience=probe_client.client_id,
        issuer=oidc_provider.issuer,
    )
    assert claims["nonce"] == nonce
    assert claims["sub"] == member.sub
    assert (claims["email"], claims["email_verified"], claims["name"]) == (member.email, True, member.name)
    assert jwt.get_unverified_header(tokens["id_token"])["kid"] == oidc_provider.signing_kids[0]


def test_node_oidc_provider_refuses_an_authorization_request_without_pkce(oidc_provider, probe_client):
    query = urllib.parse.urlencode(
        {
            "client_id": probe_client.client_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": probe_client.redirect_uris[0],
            "state": "s",
        }
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{oidc_provider.issuer}/auth?{query}", timeout=10)
    location = urllib.parse.urlsplit(refused.value.headers["Location"])
    answer = urllib.parse.parse_qs(location.query)
    assert location._replace(query="").geturl() == probe_client.redirect_uris[0]
    assert answer["error"] == ["invalid_request"]
    assert "requires PKCE" in answer["error_description"][0]


def test_a_signing_key_rotation_publishes_new_kids_first(oidc_provider):
    old = oidc_provider.signing_kids

    new = oidc_provider.rotate_signing_keys()

    keys = json.loads(fetch(oidc_provider.jwks_url))["keys"]
    assert [key["kid"] for key in keys] == new + old
    assert not set(new) & set(old)


# --- make idp -----------------------------------------------------------------------------------------------------


def test_make_idp_starts_both_idps_prints_what_to_paste_and_stops_on_ctrl_c(tmp_path, saml_idp, oidc_provider):
    # saml_idp and oidc_provider only make this test skip or fail like the others when a tool is missing.
    saml_port, oidc_port = free_port(), free_port()
    command = [sys.executable, "-m", "tests.e2e.devidp", "--saml-port", str(saml_port), "--oidc-port", str(oidc_port)]
    command += ["--state-dir", str(tmp_path)]
    idp = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in idp.stdout:
            lines.append(line)
            if line.startswith("then sign in as"):
                break
        printed = "".join(lines)
        assert f"http://127.0.0.1:{saml_port}/saml2/idp/metadata.php" in printed
        assert "ACS URL   http://localhost:8000/sso/acme/saml/acs/" in printed
        assert f"issuer            http://127.0.0.1:{oidc_port}" in printed
        assert "client ID         orgsecurity-acme" in printed
        assert "http://localhost:8000/sso/acme/oidc/callback/" in printed
        assert "member   / member-idp-pass" in printed
        assert http_ok(f"http://127.0.0.1:{saml_port}/saml2/idp/metadata.php")
        assert http_ok(f"http://127.0.0.1:{oidc_port}/.well-known/openid-configuration")
    finally:
        idp.send_signal(subprocess.signal.SIGINT)
        assert idp.wait(20) == 0, idp.stdout.read()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and http_ok(f"http://127.0.0.1:{saml_port}/saml2/idp/metadata.php"):
        time.sleep(0.1)
    assert not http_ok(f"http://127.0.0.1:{saml_port}/saml2/idp/metadata.php")
    assert not http_ok(f"http://127.0.0.1:{oidc_port}/.well-known/openid-configuration")
