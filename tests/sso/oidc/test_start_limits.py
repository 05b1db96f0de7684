"""Anonymous OIDC sign-in starts are limited per client network like SAML ones; a refused start stores nothing."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.test import Client

from sso.models import SSOPendingLogin


def test_oidc_starts_beyond_the_limit_are_refused_and_store_nothing(oidc_connection, provider, settings):
    settings.SSO_START_LIMIT = 2
    for _ in range(2):
        response = Client().get("/sso/acme/oidc/login/", REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 302 and "code_challenge=" in response["Location"]
    for _ in range(5):
        response = Client().get("/sso/acme/oidc/login/", REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert (SSOPendingLogin.objects.count(), Session.objects.count()) == (2, 2)
