"""OIDC fixtures: a real local provider (pytest-httpserver on 127.0.0.1) and a connection to it for acme."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from sso.connections import actions as sso_actions
from sso.models import SSOConnection
from sso.oidc import actions
from sso.oidc.discovery import discover
from tests.e2e.harness import free_port
from tests.sso.oidc.provider import CLIENT_ID, CLIENT_SECRET, LocalProvider


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings) -> None:
    """The local provider listens on 127.0.0.1, which production refuses; tests that check that turn it off."""
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8", "::1/128"]


@pytest.fixture(scope="session")
def provider_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def provider(provider_server: HTTPServer) -> Iterator[LocalProvider]:
    provider_server.clear()
    local = LocalProvider(provider_server)
    local.serve()
    yield local
    provider_server.clear()


@pytest.fixture
def oidc_connection(provider: LocalProvider, org, owner) -> SSOConnection:
    """acme's OIDC connection to the local provider, switched on."""
    connection = actions.create_oidc_connection(
        org,
        actor=owner,
        metadata=discover(provider.issuer),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        name="Local OP",
    )
    sso_actions.set_status(connection, actor=owner, status="testing")  # off → on goes through testing
    return sso_actions.set_status(connection, actor=owner, status="on")
