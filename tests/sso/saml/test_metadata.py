"""IdP metadata: every real vendor document in tests/fixtures/idp imports (or is refused saying why), broken and
hostile XML is refused, and server-side fetches stay away from internal addresses."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sso.fetch import FetchError, vetted_address
from sso.saml.metadata import MetadataError, fetch_metadata, parse_idp_metadata

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "idp"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

# file -> (entity ID, SSO URL, SLO URL, signing certificate fingerprint prefixes, wants signed AuthnRequests)
EXPECTED = {
    "saml-google-workspace-metadata.xml": (
        "https://accounts.google.com/o/saml2?idpid=C023zw3x8",
        "https://accounts.google.com/o/saml2/idp?idpid=C023zw3x8",
        "",
        ["13:B8:E2:64", "DD:9E:7A:8E"],
        False,
    ),
    "saml-keycloak-realm-descriptor.xml": (
        "https://lxapocd5.transplace.com:8443/auth/realms/SpringBootKeycloak",
        "https://lxapocd5.transplace.com:8443/auth/realms/SpringBootKeycloak/protocol/saml",
        "https://lxapocd5.transplace.com:8443/auth/realms/SpringBootKeycloak/protocol/saml",
        ["7D:90:3E:A8"],
        True,
    ),
    "saml-okta-app-metadata.xml": (
        "http://www.okta.com/exkppsa1qwuFV4D7z0h7",
        "https://dev-513394.oktapreview.com/app/rstudioincdev513394_dev_1/exkppsa1qwuFV4D7z0h7/sso/saml",
        "",
        ["D4:0D:F0:1C"],
        False,
    ),
    "saml-onelogin-app-metadata.xml": (
        "https://app.onelogin.com/saml/metadata/398e7049-05d0-4966-a3f9-23bbd542b665",
        "https://rhombusdevteam-dev.onelogin.com/trust/saml2/http-redirect/sso/398e7049-05d0-4966-a3f9-23bbd542b665",
        "https://rhombusdevteam-dev.onelogin.com/trust/saml2/http-redirect/slo/1093103",
        ["AA:EC:87:82"],
        False,
    ),
    "saml-shibboleth-idp-metadata.xml": (
        "https://idp.unibuc.ro/idp/shibboleth",
        "https://idp.unibuc.ro/idp/profile/SAML2/Redirect/SSO",
        "",
        ["CC:BA:90:CB", "4F:73:E5:22"],  # the third KeyDescriptor is use="encryption": never trusted to sign
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vendor_metadata_imports_with_every_signing_certificate(name):
    entity_id, sso_url, slo_url, fingerprints, wants_signed = EXPECTED[name]
    idp = parse_idp_metadata((FIXTURES / name).read_bytes())
    assert idp.entity_id == entity_id
    assert idp.sso_url == sso_url and idp.sso_binding == REDIRECT
    assert idp.slo_url == slo_url
    assert [cert.fingerprint[:11] for cert in idp.certificates] == fingerprints
    assert idp.want_authn_requests_signed is wants_signed
    assert all(len(cert.fingerprint) == 95 and cert.subject for cert in idp.certificates)


def test_every_fixture_is_covered():
    names = {path.name for path in FIXTURES.glob("saml-*.xml")}
    assert names == set(EXPECTED) | {"saml-entra-id-common-federationmetadata.xml"}


def test_entra_tenant_independent_metadata_is_refused_saying_why():
    with pytest.raises(MetadataError, match=r"\{tenantid\}.*template.*your own tenant's metadata"):
        parse_idp_metadata((FIXTURES / "saml-entra-id-common-federationmetadata.xml").read_bytes())


def test_the_entra_document_with_a_real_tenant_imports_all_four_certificates():
    # The same real document as a tenant serves it: only the entity ID differs from the template.
    document = (FIXTURES / "saml-entra-id-common-federationmetadata.xml").read_text()
    tenant = "https://sts.windows.net/a51dae83-9ea9-4d51-ae6b-52ae0337a7f9/"
    idp = parse_idp_metadata(document.replace("https://sts.windows.net/{tenantid}/", tenant))
    assert idp.entity_id == tenant
    assert idp.sso_url == "https://login.microsoftonline.com/common/saml2"
    assert len(idp.certificates) == 4


def test_okta_space_broken_base64_parses():
    idp = parse_idp_metadata((FIXTURES / "saml-okta-app-metadata.xml").read_bytes())
    assert idp.certificates[0].not_after.year == 2028


SP_ONLY = (
    '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.test/">'
    '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
    'Location="https://sp.test/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>'
)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", "empty"),
        ("<md:EntityDescriptor", "not well-formed XML"),
        ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DOCTYPE or entities"),
        ("<html><body>Sign in</body></html>", "no EntityDescriptor"),
        (SP_ONLY, "describes no identity provider"),
        ("<x>" + "a" * (1024 * 1024) + "</x>", "larger than"),
    ],
)
def test_unusable_documents_are_refused_with_a_reason(document, message):
    with pytest.raises(MetadataError, match=message):
        parse_idp_metadata(document)


def test_an_idp_with_only_an_encryption_key_is_refused():
    document = (FIXTURES / "saml-okta-app-metadata.xml").read_text()
    document = document.replace('<md:KeyDescriptor use="signing">', '<md:KeyDescriptor use="encryption">')
    assert 'use="encryption"' in document
    with pytest.raises(MetadataError, match="no signing certificate"):
        parse_idp_metadata(document)


# --- fetching ------------------------------------------------------------------------------------------------


def test_metadata_is_fetched_from_an_allowed_server(httpserver, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    body = (FIXTURES / "saml-okta-app-metadata.xml").read_bytes()
    httpserver.expect_request("/metadata").respond_with_data(body, content_type="application/xml")
    assert fetch_metadata(httpserver.url_for("/metadata")) == body


def test_loopback_is_refused_unless_allowed(httpserver, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    httpserver.expect_request("/metadata").respond_with_data("<x/>")
    with pytest.raises(
        MetadataError,
        match=r"(127\.0\.0\.1|localhost), which is a loopback address; identity provider documents are fetched only",
    ):
        fetch_metadata(httpserver.url_for("/metadata"))
    assert not httpserver.log  # refused before connecting


def test_a_redirect_to_an_internal_address_is_refused(httpserver, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    httpserver.expect_request("/metadata").respond_with_data("", status=302, headers={"Location": "http://[::1]/x"})
    with pytest.raises(MetadataError, match="::1, which is a loopback address"):
        fetch_metadata(httpserver.url_for("/metadata"))


def test_redirects_are_followed_a_few_times_only(httpserver, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    with pytest.raises(MetadataError, match="redirects more than 3 times"):
        fetch_metadata(httpserver.url_for("/loop"))


def test_oversized_and_failed_answers_are_refused(httpserver, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.1/32"]
    httpserver.expect_request("/big").respond_with_data("x" * (1024 * 1024 + 10))
    httpserver.expect_request("/gone").respond_with_data("nope", status=404)
    with pytest.raises(MetadataError, match="larger than 1024 KiB"):
        fetch_metadata(httpserver.url_for("/big"))
    with pytest.raises(MetadataError, match="answered HTTP 404"):
        fetch_metadata(httpserver.url_for("/gone"))
    with pytest.raises(MetadataError, match="not an http"):
        fetch_metadata("file:///etc/passwd")


def test_every_resolved_address_is_checked(monkeypatch, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []

    def resolve(host, port, **kwargs):  # a public name that also resolves to a private address
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(FetchError, match=r"10\.0\.0\.7"):
        vetted_address("idp.example.com", 443)
    for internal in ("169.254.169.254", "::ffff:127.0.0.1", "fd00::1", "100.64.0.1", "0.0.0.0"):  # noqa: S104
        monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, _a=internal, **kw: [(0, 0, 0, "", (_a, port))])
        with pytest.raises(FetchError, match="only from public addresses"):
            vetted_address("idp.example.com", 443)
