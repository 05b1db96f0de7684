"""SAML test helpers: a connection to the test IdP (``connect``), starting a sign-in, posting a signed response to
the ACS and following the finishing step."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.test import Client

from sso.connections import actions as sso_actions
from sso.models import SSOConnection
from sso.saml import actions
from sso.saml.metadata import parse_idp_metadata
from tests.sso.saml.idp import TestIdP, redirect_message


def connect(org, actor, idp: TestIdP, *, status: str = "on", **options) -> SSOConnection:
    connection = actions.create_saml_connection(
        org,
        actor=actor,
        idp=parse_idp_metadata(idp.metadata_xml()),
        source="xml",
        name="Acme IdP",
        attribute_map={"email": "mail", "display_name": "displayName"},
    )
    if options:
        actions.set_options(connection, actor=actor, **options)
    if status != "off":  # off → on goes through testing (sso.connections.actions.ALLOWED_MOVES)
        connection = sso_actions.set_status(connection, actor=actor, status="testing")
        connection = sso_actions.set_status(connection, actor=actor, status=status)
    return connection


def start(browser: Client, path: str = "/sso/acme/saml/login/", **params) -> str:
    """Start a sign-in in ``browser``; returns the AuthnRequest ID the IdP will answer."""
    response = browser.get(path, params)
    assert response.status_code == 302, response.content[:500]
    xml, query = redirect_message(response["Location"])
    request_id = query["RelayState"][0]
    assert f'ID="{request_id}"' in xml
    return request_id


def post_to_acs(saml_response: str, *, relay_state: str | None = None, org_slug: str = "acme"):
    """The IdP's cross-site POST: SameSite=Lax keeps the session cookie out, so it comes from a cookie-less client."""
    data = {"SAMLResponse": saml_response}
    if relay_state is not None:
        data["RelayState"] = relay_state
    return Client().post(f"/sso/{org_slug}/saml/acs/", data)


def finish_in(browser: Client, acs_response):
    """Follow the ACS's redirect to the finishing step in the browser that started the sign-in."""
    assert acs_response.status_code == 302, acs_response.content[:800]
    location = acs_response["Location"]
    assert location.startswith("/sso/") and "token" in parse_qs(urlsplit(location).query)
    return browser.get(location)
