"""An organization with two live connections lets people pick one at /sso/<org>/login/; with one, the sign-in goes
straight to its IdP."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.test import Client

from tests.helpers.saml import connect


def test_one_live_connection_goes_straight_to_its_idp(saml_connection, test_idp):
    response = Client().get("/sso/acme/login/")
    assert response.status_code == 302
    assert urlsplit(response["Location"]).hostname == urlsplit(test_idp.sso_url).hostname


def test_two_live_connections_let_people_pick(org, owner, saml_connection, globex_idp):
    second = connect(org, owner, globex_idp)
    from sso.models import SSOConnection

    SSOConnection.objects.filter(pk=second.pk).update(name="Contractors IdP")
    page = Client().get("/sso/acme/login/", {"next": "/orgs/acme/members/"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Sign in with Acme IdP" in text and "Sign in with Contractors IdP" in text
    assert f"connection={second.pk}&amp;next=%2Forgs%2Facme%2Fmembers%2F" in text

    picked = Client().get("/sso/acme/login/", {"connection": second.pk})
    assert picked.status_code == 302
    assert urlsplit(picked["Location"]).hostname == urlsplit(globex_idp.sso_url).hostname
