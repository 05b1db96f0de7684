"""The one guarded fetcher for identity-provider documents (SAML metadata and OIDC alike)."""

from __future__ import annotations

import pytest

from sso.fetch import FetchError, check_url, fetch
from sso.oidc.fetch import send
from sso.saml.metadata import MetadataError, fetch_metadata


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://idp.example.com/metadata", "plain http"),
        ("https://user:pw@idp.example.com/metadata", "user name or password"),
        ("ftp://idp.example.com/metadata", "not an https:// URL"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::1]/x", "loopback"),
        ("https://10.1.2.3/x", "private network"),
        ("https://[2002:a9fe:a9fe::1]/x", "link-local"),  # 6to4 wrapping 169.254.169.254
        ("https://[2002:7f00:1::]/x", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("https://[64:ff9b::a00:1]/x", "private network"),  # NAT64 wrapping 10.0.0.1
        ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x", "Teredo"),
        ("https://[fec0::1]/x", "site-local"),
        ("https://idp.example.com:notaport/x", "not a valid URL"),
    ],
)
def test_urls_that_are_never_fetched(settings, url, problem):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    with pytest.raises(FetchError, match=problem):
        check_url(url, "metadata")


def test_saml_metadata_over_plain_http_from_a_public_host_is_refused(settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    with pytest.raises(MetadataError, match="plain http"):
        fetch_metadata("http://idp.example.com/metadata")


def test_redirect_hops_are_checked_and_oidc_follows_none(httpserver, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8"]
    httpserver.expect_request("/hop").respond_with_data("", status=302, headers={"Location": "http://10.0.0.9/x"})
    with pytest.raises(FetchError, match=r"10\.0\.0\.9, which is a private network address"):
        fetch("GET", httpserver.url_for("/hop"), what="metadata", max_bytes=1000, max_redirects=3)
    with pytest.raises(FetchError, match="redirects are not followed"):
        send("GET", httpserver.url_for("/hop"), what="discovery document")


def test_the_size_cap_holds_without_a_content_length(httpserver, settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8"]

    def chunked(request):
        from werkzeug.wrappers import Response

        return Response((b"x" * 1024 for _ in range(8)), direct_passthrough=True)

    httpserver.expect_request("/big").respond_with_handler(chunked)
    with pytest.raises(FetchError, match="larger than 4 KiB"):
        fetch("GET", httpserver.url_for("/big"), what="metadata", max_bytes=4096)


def test_ipv6_transition_addresses_of_public_ipv4_hosts_are_fetched(settings):
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    check_url("https://[2002:5db8:d822::1]/x", "metadata")  # 6to4 of 93.184.216.34
    check_url("https://[2606:4700::6810:85e5]/x", "metadata")
