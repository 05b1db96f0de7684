"""SSO fixtures: a connection, and an in-test IdP stand-in for the shared (protocol-neutral) flow.

``ScriptedIdP`` (``tests.helpers.sso``) replaces only the protocol step (sending the browser to an IdP and
validating its signed answer).
The SAML and OIDC test suites cover that step with real signed responses and tokens; here the answer is handed
to the shared flow exactly as the protocol code does after validation (``flow.claim`` then ``flow.answer``)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from sso.connections import actions
from sso.domains import verification as domains
from sso.models import SSOConnection
from sso.protocols import HANDLERS
from tests.helpers.sso import Ready, ScriptedIdP, make_ready


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttled audit events (refusals) remember their window in the shared cache; start every test without one."""
    cache.clear()


@pytest.fixture
def idp(monkeypatch) -> ScriptedIdP:
    scripted = ScriptedIdP()
    monkeypatch.setitem(HANDLERS, "saml", scripted)
    return scripted


@pytest.fixture
def connection(org, owner) -> SSOConnection:
    created = actions.create_connection(
        org, actor=owner, protocol="saml", name="Acme IdP", attribute_map={"email": "mail"}
    )
    actions.set_status(created, actor=owner, status="testing")
    return actions.set_status(created, actor=owner, status="on")


@pytest.fixture
def acme_domain(org, owner):
    """acme.test, claimed by acme and verified (by platform support, so no DNS is needed here)."""
    from tests.helpers.core import make_user

    staff = make_user("staff@platform.test", is_staff=True)
    return domains.verify_by_support(
        domains.claim(org, actor=owner, domain="acme.test"), staff=staff, note="checked in tests"
    )


@pytest.fixture
def ready(connection, idp, owner, member) -> Ready:
    return make_ready(connection, idp, owner, member)


@pytest.fixture
def enforced(ready, owner) -> Ready:
    actions.set_status(ready.connection, actor=owner, status="enforced")
    ready.connection.refresh_from_db()
    return ready


@pytest.fixture
def sso_client_for(client_for):
    """``sso_client_for(user, connection)``: a client whose session signed in through ``connection`` (what
    ``sso.signin`` leaves in the session after an SSO sign-in; test_flow covers that it does)."""

    def build(user, connection: SSOConnection) -> Client:
        client = client_for(user)
        session = client.session
        session["auth_method"] = connection.protocol
        session["sso_connection_id"] = connection.pk
        session["sso_verified_connections"] = [connection.pk]
        session.save()
        return client

    return build
