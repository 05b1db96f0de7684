"""SAML fixtures: a test IdP with keys made at test time, and acme's SAML connection trusting it."""

from __future__ import annotations

import pytest

from sso.models import SSOConnection
from sso.saml.config import SPEndpoints, sp_endpoints
from tests.helpers.saml import connect
from tests.sso.saml.idp import TestIdP


@pytest.fixture(scope="session")
def test_idp() -> TestIdP:
    return TestIdP()


@pytest.fixture(scope="session")
def globex_idp() -> TestIdP:
    return TestIdP("https://idp.globex.test/saml/metadata", host="idp.globex.test")


@pytest.fixture
def sp() -> SPEndpoints:
    return sp_endpoints("acme")


@pytest.fixture
def saml_connection(org, owner, test_idp) -> SSOConnection:
    """acme's SAML connection (status on) trusting ``test_idp``."""
    return connect(org, owner, test_idp)
