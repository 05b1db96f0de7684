"""Attacks on the admin API's outbound requests: an SSO metadata URL, an OIDC issuer or an audit stream URL that
points into our own network (loopback in every spelling, private, link-local, IPv4-mapped or NAT64 IPv6, a
trailing-dot host name) is refused with a JSON 400 before anything is fetched or stored."""

from __future__ import annotations

import pytest
from django.test import override_settings

from audit_stream.models import Destination
from sso.models import SSOConnection
from tests.helpers.adminapi import ALL_SCOPES, allow_api_changes, call, error_code, scoped_key

INTERNAL = [
    "https://127.0.0.1/metadata",
    "https://127.1/metadata",
    "https://2130706433/metadata",
    "https://0x7f000001/metadata",
    "https://017700000001/metadata",
    "https://0/metadata",
    "https://localhost./metadata",
    "https://LOCALHOST/metadata",
    "https://[::1]/metadata",
    "https://[::ffff:127.0.0.1]/metadata",
    "https://[::ffff:7f00:1]/metadata",
    "https://[64:ff9b::a9fe:a9fe]/metadata",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00::1]/metadata",
    "https://10.0.0.1/metadata",
    "https://0.0.0.0/metadata",
    "https://[::]/metadata",
    "https://[fe80::1%25eth0]/metadata",
    "https://[2002:7f00:1::]/metadata",
    "https://foo.localhost/metadata",
    "http://127.0.0.1:8000/metadata",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "https://user:pass@127.0.0.1/metadata",
]


@pytest.fixture
def owner_token(org, owner):
    allow_api_changes(org, owner)
    return scoped_key(org, owner, ALL_SCOPES)[1]


@override_settings(SSO_METADATA_ALLOW_PRIVATE_HOSTS=[])
@pytest.mark.parametrize("url", INTERNAL)
def test_a_saml_metadata_url_inside_our_network_is_refused(org, owner_token, url):
    body = {"protocol": "saml", "name": "x", "metadata_url": url, "preset": "ldap"}
    response = call("POST", "/api/v1/orgs/acme/sso/connections", owner_token, body)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid_request"
    assert not SSOConnection.objects.filter(organization=org).exists()


@override_settings(SSO_METADATA_ALLOW_PRIVATE_HOSTS=[])
@pytest.mark.parametrize("url", INTERNAL[:8] + INTERNAL[12:14])
def test_an_oidc_issuer_inside_our_network_is_refused(org, owner_token, url):
    issuer = url.removesuffix("/metadata")
    body = {"protocol": "oidc", "issuer": issuer, "client_id": "c", "client_secret": "s"}
    response = call("POST", "/api/v1/orgs/acme/sso/connections", owner_token, body)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid_request"
    assert not SSOConnection.objects.filter(organization=org).exists()


@override_settings(AUDIT_STREAM_ALLOW_PRIVATE_TARGETS=False, AUDIT_STREAM_ALLOW_HTTP=False)
@pytest.mark.parametrize("url", INTERNAL)
def test_an_audit_stream_inside_our_network_is_refused(org, owner_token, url):
    body = {"kind": "webhook", "url": url, "name": "siem"}
    response = call("POST", "/api/v1/orgs/acme/audit/streams", owner_token, body)
    assert response.status_code == 400, response.content
    assert error_code(response) in {"target_refused", "invalid_request"}
    assert not Destination.objects.filter(organization=org).exists()


@override_settings(AUDIT_STREAM_ALLOW_PRIVATE_TARGETS=False, AUDIT_STREAM_ALLOW_HTTP=False)
@pytest.mark.parametrize("url", ["tls://127.0.0.1:6514", "tls://[::1]:6514", "tls://localhost.:6514"])
def test_a_syslog_stream_inside_our_network_is_refused(org, owner_token, url):
    response = call("POST", "/api/v1/orgs/acme/audit/streams", owner_token, {"kind": "syslog", "url": url})
    assert response.status_code == 400, response.content
    assert not Destination.objects.filter(organization=org).exists()
