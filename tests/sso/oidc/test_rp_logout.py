"""OpenID Connect RP-Initiated Logout: signing out after an OIDC sign-in also ends the provider session when the
connection asks for it, with id_token_hint (the token of that sign-in) and a post_logout_redirect_uri from
PUBLIC_BASE_URL; the person is told which IdP session ended too."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.test import Client

from sso.models import OIDCSettings
from tests.helpers.oidc import oidc_of
from tests.sso.oidc.provider import CLIENT_ID
from tests.sso.oidc.test_sign_in import CALLBACK, link, sign_in


def _signed_in(provider, member) -> Client:
    browser = Client()
    finished = browser.get(sign_in(provider, browser)["Location"])
    assert finished.status_code == 302 and browser.session["auth_method"] == "oidc"
    return browser


def test_signing_out_also_ends_the_provider_session(provider, oidc_connection, member, settings):
    OIDCSettings.objects.filter(connection=oidc_connection).update(
        end_session_endpoint=f"{provider.issuer}/logout?tenant=acme", rp_initiated_logout=True
    )
    link(oidc_connection, member)
    browser = _signed_in(provider, member)
    issued = provider.token_response["id_token"]

    response = browser.post("/accounts/logout/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider.issuer}/logout"
    params = parse_qs(target.query)
    assert params["tenant"] == ["acme"]  # the endpoint's own query is kept
    assert params["id_token_hint"] == [issued]
    assert params["client_id"] == [CLIENT_ID]
    assert params["post_logout_redirect_uri"] == [f"{settings.PUBLIC_BASE_URL}/accounts/login/"]
    assert browser.get("/orgs/acme/").status_code != 200  # signed out here first
    page = browser.get("/accounts/login/").content.decode()
    assert f"You are signed out, here and at {oidc_connection.name}." in page


def test_without_the_choice_or_the_endpoint_only_the_session_here_ends(provider, oidc_connection, member):
    link(oidc_connection, member)
    OIDCSettings.objects.filter(connection=oidc_connection).update(end_session_endpoint=f"{provider.issuer}/logout")
    browser = _signed_in(provider, member)
    assert browser.post("/accounts/logout/")["Location"] == "/accounts/login/"

    OIDCSettings.objects.filter(connection=oidc_connection).update(end_session_endpoint="", rp_initiated_logout=True)
    browser = _signed_in(provider, member)
    assert browser.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert not oidc_of(oidc_connection).end_session_endpoint


def test_signing_out_of_a_test_session_sends_the_id_token_hint_too(provider, oidc_connection, client_for, owner):
    """The walkthrough's test session signed out without id_token_hint, so the provider asked "Do you want to
    sign-out?" where a member's sign-out goes straight through: the test session now keeps the ID token."""
    OIDCSettings.objects.filter(connection=oidc_connection).update(
        end_session_endpoint=f"{provider.issuer}/logout", rp_initiated_logout=True
    )
    browser = client_for(owner)
    url = f"/orgs/acme/settings/security/sso/{oidc_connection.pk}/test/"
    authorization = provider.authorization(browser.post(url, {"session_seconds": "120"}))
    claims = provider.claims(authorization, sub="olivia-sub", email="owner@acme.test")
    issued = provider.sign(claims)
    query = provider.respond_with(authorization, issued, userinfo={"sub": "olivia-sub"})
    browser.get(browser.get(browser.get(f"{CALLBACK}?{query}")["Location"])["Location"])
    assert browser.session["auth_method"] == "oidc"

    params = parse_qs(urlsplit(browser.post("/accounts/logout/")["Location"]).query)
    assert params["id_token_hint"] == [issued]


def test_the_sign_out_page_says_whether_the_provider_session_ends_too(provider, oidc_connection, member):
    import re

    def words(response) -> str:
        return " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).replace("&#x27;", "'").split())

    link(oidc_connection, member)
    browser = _signed_in(provider, member)
    page = words(browser.get("/accounts/logout/"))
    assert (
        f"Signing out here does not end your session there: on a shared computer, sign out of {oidc_connection.name}"
        in page
    )

    OIDCSettings.objects.filter(connection=oidc_connection).update(
        end_session_endpoint=f"{provider.issuer}/logout", rp_initiated_logout=True
    )
    page = words(browser.get("/accounts/logout/"))
    assert (
        f"Signing out here also ends your session at {oidc_connection.name} (OpenID Connect RP-initiated logout)"
        in page
    )
