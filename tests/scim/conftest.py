"""SCIM fixtures: acme's verified domain, an SSO connection of the provisioning IdP, a token and a client."""

from __future__ import annotations

import email_validator
import pytest

from sso.connections import actions
from sso.domains import verification as domains
from tests.helpers.core import make_user
from tests.helpers.scim import ScimClient, new_token


@pytest.fixture(autouse=True)
def _test_domains_are_emails(monkeypatch):
    """The fixtures' people live at *.test, a special-use domain (RFC 6761) that email-validator (behind
    scim2-models' EmailStr) refuses; IdPs send real domains."""
    allowed = [name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES if name != "test"]
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", allowed)


@pytest.fixture
def acme_domain(org, owner):
    """acme.test, claimed by acme and verified by platform support (no DNS needed)."""
    staff = make_user("staff@platform.test", is_staff=True)
    return domains.verify_by_support(domains.claim(org, actor=owner, domain="acme.test"), staff=staff, note="tests")


@pytest.fixture
def connection(org, owner):
    created = actions.create_connection(
        org, actor=owner, protocol="saml", name="Entra ID", attribute_map={"email": "mail"}
    )
    actions.set_status(created, actor=owner, status="testing")
    return actions.set_status(created, actor=owner, status="on")


@pytest.fixture
def token(org, connection, acme_domain) -> str:
    return new_token(org, connection)


@pytest.fixture
def scim(token) -> ScimClient:
    return ScimClient(token)
