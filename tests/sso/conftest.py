"""SSO fixtures: a connection, and an in-test IdP stand-in for the shared (protocol-neutral) flow.

``ScriptedIdP`` replaces only the protocol step (sending the browser to an IdP and validating its signed answer).
The SAML and OIDC test suites cover that step with real signed responses and tokens; here the answer is handed
to the shared flow exactly as the protocol code does after validation (``flow.claim`` then ``flow.answer``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from django.http import HttpResponseRedirect

from sso import actions, domains, flow
from sso.identity import AssertedIdentity
from sso.models import SSOConnection
from sso.protocols import HANDLERS

IDP_ISSUER = "https://idp.acme.test/saml"


class ScriptedIdP:
    create_url_name = ""

    def __init__(self) -> None:
        self.started: list = []

    def start_login(self, request, connection, *, purpose, next_url, user=None, test_run=None, force_authn=False):
        key = "_" + secrets.token_hex(16)
        pending = flow.begin(
            request, connection, key=key, purpose=purpose, next_url=next_url, user=user, test_run=test_run
        )
        self.started.append((pending, force_authn))
        return HttpResponseRedirect(f"https://idp.acme.test/sso?request={key}")

    def answer(self, subject: str, *, email: str = "", verified: bool = True, authenticated_at=None, key=None) -> str:
        """The IdP answers the most recent request (or ``key``): returns the finish URL the browser goes to."""
        pending = self.started[-1][0] if key is None else next(p for p, _ in self.started if p.key == key)
        claimed = flow.claim(pending.connection, pending.key)
        identity = AssertedIdentity(
            issuer=IDP_ISSUER,
            subject=subject,
            subject_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            attributes={"mail": [email]} if email else {},
            email_verified=verified,
            authenticated_at=authenticated_at or datetime.now(UTC),
        )
        return flow.answer(claimed, identity)


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
    from tests.conftest import make_user

    staff = make_user("staff@platform.test", is_staff=True)
    return domains.verify_by_support(
        domains.claim(org, actor=owner, domain="acme.test"), staff=staff, note="checked in tests"
    )
