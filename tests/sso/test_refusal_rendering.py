"""Refused SSO sign-ins are answered by the one refusal renderer (orgsecurity.errors.render_refusal): the SSO
refusal page for browsers, the product's JSON error for programs, with the refusal's status either way."""

from __future__ import annotations

from django.test import Client, RequestFactory

from orgsecurity.errors import render_refusal
from orgsecurity.refusals import Refusal
from sso.errors import SSO_REFUSAL_TEMPLATE, SSOSignInRefused
from sso.saml.response import SAMLResponseRejected

UNAVAILABLE = "Single sign-on is not available for this organization. Sign in with your password."


def test_a_browser_gets_the_sso_refusal_page(org):
    response = Client().get("/sso/acme/login/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Single sign-on did not work" in page
    assert UNAVAILABLE in page and "Code: sso_unavailable" in page


def test_a_program_gets_the_json_error(org):
    response = Client().get("/sso/acme/login/", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "sso_unavailable", "message": UNAVAILABLE}}


def test_every_sso_refusal_is_a_refusal_with_the_sso_page(db):
    request = RequestFactory().get("/sso/acme/acs/")
    for refused in (
        SSOSignInRefused("The IdP said no.", code="idp_refused", status=403),
        SAMLResponseRejected("The response is not signed.", code="unsigned"),
    ):
        assert isinstance(refused, Refusal) and refused.template == SSO_REFUSAL_TEMPLATE
        response = render_refusal(request, refused)
        assert response.status_code == 403
        assert refused.message in response.content.decode()
        assert f"Code: {refused.code}" in response.content.decode()
