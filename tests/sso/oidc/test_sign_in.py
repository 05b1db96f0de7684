"""OIDC sign-in end to end against a real local provider: the authorization request, the callback, and what
a person sees. The ID tokens are real JWTs signed with the provider's keys."""

from __future__ import annotations

import hashlib
import time

from django.test import Client

from audit.models import AuditEvent
from sso.connections import actions as sso_actions
from sso.models import SSOIdentity, SSOPendingLogin
from tests.helpers.oidc import oidc_of
from tests.helpers.sso import own_identity, refusal_text
from tests.sso.oidc.provider import CLIENT_ID, b64url

CALLBACK = "/sso/acme/oidc/callback/"


def link(connection, user, subject: str = "mia-sub-123") -> SSOIdentity:
    identity = own_identity(connection, user, subject, issuer=oidc_of(connection).issuer, subject_format="oidc")
    return sso_actions.link_identity(connection, user, identity, actor=user, via="tests")


def sign_in(provider, browser: Client, *, next_url: str = "", **overrides):
    """Start at /sso/acme/oidc/login/, let the provider answer with a good token (``overrides`` change its
    claims), and return the callback's response."""
    authorization = provider.authorization(browser.get("/sso/acme/oidc/login/", {"next": next_url} if next_url else {}))
    claims = provider.claims(authorization, **overrides)
    query = provider.respond_with(authorization, provider.sign(claims), userinfo={"sub": claims.get("sub")})
    return browser.get(f"{CALLBACK}?{query}")


def test_the_authorization_request_uses_pkce_state_and_nonce(provider, oidc_connection, settings):
    browser = Client()
    authorization = provider.authorization(browser.get("/sso/acme/oidc/login/"))
    params = authorization.params
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == f"{settings.PUBLIC_BASE_URL}/sso/acme/oidc/callback/"
    assert params["scope"] == "openid email profile"
    assert params["code_challenge_method"] == "S256"
    assert "prompt" not in params and "max_age" not in params
    pending = SSOPendingLogin.objects.get(key=params["state"])
    assert pending.data["nonce"] == params["nonce"]
    verifier = pending.data["code_verifier"]
    assert 43 <= len(verifier) <= 128
    assert params["code_challenge"] == b64url(hashlib.sha256(verifier.encode()).digest())
    # Each sign-in gets its own state, nonce and verifier.
    again = provider.authorization(browser.get("/sso/acme/oidc/login/")).params
    assert again["state"] != params["state"] and again["nonce"] != params["nonce"]
    assert again["code_challenge"] != params["code_challenge"]


def test_a_linked_member_signs_in(provider, oidc_connection, member):
    link(oidc_connection, member)
    browser = Client()
    response = sign_in(provider, browser, next_url="/orgs/acme/members/")
    assert response.status_code == 302 and response["Location"].startswith("/sso/acme/finish/?token=")
    finished = browser.get(response["Location"])
    assert finished["Location"] == "/orgs/acme/members/"
    assert browser.get("/orgs/acme/").status_code == 200
    assert browser.session["auth_method"] == "oidc"
    assert AuditEvent.objects.filter(action="auth.signed_in", details__method="oidc").exists()
    form = provider.token_request_forms[-1]
    assert form["grant_type"] == "authorization_code" and form["code_verifier"]
    assert "client_secret" not in form  # client_secret_basic: the secret travels in the Authorization header


def test_es256_tokens_verify_with_the_providers_ec_key(provider, oidc_connection, member):
    from tests.sso.oidc.provider import ec_key

    provider.keys = [ec_key()]
    link(oidc_connection, member)
    browser = Client()
    response = sign_in(provider, browser)
    assert browser.get(response["Location"]).status_code == 302
    assert browser.get("/orgs/acme/").status_code == 200


def test_the_key_set_is_cached_in_the_database(provider, oidc_connection, member):
    link(oidc_connection, member)
    for _ in range(2):
        browser = Client()
        assert browser.get(sign_in(provider, browser)["Location"]).status_code == 302
    assert provider.jwks_requests == 1
    cached = oidc_of(oidc_connection)
    assert [key["kid"] for key in cached.jwks["keys"]] == ["rsa-1"] and cached.jwks_fetched_at is not None


def test_a_key_rotation_is_picked_up_on_the_next_sign_in(provider, oidc_connection, member):
    from tests.sso.oidc.provider import rsa_key

    link(oidc_connection, member)
    browser = Client()
    assert browser.get(sign_in(provider, browser)["Location"]).status_code == 302
    provider.keys = [rsa_key("rsa-2")]  # the provider rotates: new kid, old key withdrawn
    browser = Client()
    response = sign_in(provider, browser)
    assert browser.get(response["Location"]).status_code == 302
    assert browser.get("/orgs/acme/").status_code == 200
    assert provider.jwks_requests == 2
    assert [key["kid"] for key in oidc_of(oidc_connection).jwks["keys"]] == ["rsa-2"]


def test_the_email_alone_never_signs_anyone_in(provider, oidc_connection, member):
    browser = Client()
    response = sign_in(provider, browser, sub="someone-else", email=member.email)
    finished = browser.get(response["Location"])
    assert finished.status_code == 403
    assert b"is not linked to this IdP identity yet" in finished.content
    assert browser.get("/orgs/acme/").status_code == 302
    assert not SSOIdentity.objects.exists()


def test_jit_trusts_only_a_verified_email(provider, oidc_connection, owner, acme_domain):
    sso_actions.update_connection(oidc_connection, actor=owner, allow_jit=True)
    browser = Client()
    response = sign_in(provider, browser, sub="new-1", email="new1@acme.test", email_verified=False)
    assert browser.get(response["Location"]).status_code == 403
    browser = Client()
    response = sign_in(provider, browser, sub="new-2", email="new2@acme.test", email_verified=None)
    finished = browser.get(response["Location"])
    assert finished.status_code == 403 and b"did not send a verified email" in finished.content
    browser = Client()
    response = sign_in(provider, browser, sub="new-3", email="new3@acme.test", email_verified="true")
    assert browser.get(response["Location"]).status_code == 302
    assert SSOIdentity.objects.get(subject="new-3").user.email == "new3@acme.test"


def test_the_switch_accepts_a_missing_but_not_a_false_email_verified(provider, oidc_connection, owner, acme_domain):
    from sso.oidc import actions

    sso_actions.update_connection(oidc_connection, actor=owner, allow_jit=True)
    actions.update_oidc_settings(oidc_connection, actor=owner, accept_missing_email_verified=True)
    browser = Client()
    response = sign_in(provider, browser, sub="new-2", email="new2@acme.test", email_verified=None)
    assert browser.get(response["Location"]).status_code == 302
    assert SSOIdentity.objects.filter(subject="new-2").exists()
    browser = Client()
    response = sign_in(provider, browser, sub="new-4", email="new4@acme.test", email_verified=False)
    assert browser.get(response["Location"]).status_code == 403
    assert not SSOIdentity.objects.filter(subject="new-4").exists()


def test_a_replayed_callback_is_refused_without_calling_the_provider(provider, oidc_connection, member):
    link(oidc_connection, member)
    browser = Client()
    authorization = provider.authorization(browser.get("/sso/acme/oidc/login/"))
    query = provider.respond_with(authorization, provider.sign(provider.claims(authorization)))
    assert browser.get(f"{CALLBACK}?{query}").status_code == 302
    replay = browser.get(f"{CALLBACK}?{query}")
    assert replay.status_code == 400 and b"already used" in replay.content
    assert provider.token_requests == 1


def test_an_unknown_state_is_refused(provider, oidc_connection):
    response = Client().get(f"{CALLBACK}?code=abc&state=never-issued")
    assert response.status_code == 400
    assert b"does not match any sign-in started here" in response.content


def test_a_state_of_another_organization_is_refused(provider, oidc_connection, other_org):
    browser = Client()
    authorization = provider.authorization(browser.get("/sso/acme/oidc/login/"))
    query = provider.respond_with(authorization, provider.sign(provider.claims(authorization)))
    response = browser.get(f"/sso/globex/oidc/callback/?{query}")
    assert response.status_code == 400
    assert provider.token_requests == 0


def test_sign_in_is_unavailable_while_the_connection_is_off(provider, oidc_connection, owner):
    sso_actions.set_status(oidc_connection, actor=owner, status="off")
    response = Client().get("/sso/acme/oidc/login/")
    assert response.status_code == 404
    assert b"not available for this organization" in response.content
    assert Client().get("/sso/nope/oidc/login/").status_code == 404


def test_the_provider_error_parameter_gives_a_clear_page_not_a_loop(provider, oidc_connection):
    for error, words in [
        ("access_denied", b"cancelled or refused at your identity provider"),
        ("login_required", b"needs you to sign in there first"),
    ]:
        browser = Client()
        authorization = provider.authorization(browser.get("/sso/acme/oidc/login/"))
        response = browser.get(CALLBACK, {"error": error, "error_description": "nope", "state": authorization.state})
        assert response.status_code == 403
        assert words in response.content
        assert b"Back to sign-in" in response.content and "Location" not in response
        # The pending sign-in is used up: the same state cannot be answered again.
        assert SSOPendingLogin.objects.get(key=authorization.state).answered_at is not None
    assert provider.token_requests == 0
    unknown = Client().get(CALLBACK, {"error": "weird<b>", "error_description": "Details <script>"})
    assert unknown.status_code == 403
    assert b"<script>" not in unknown.content and b"weird" not in unknown.content  # the provider's words: for admins
    assert "weird<b>" in refusal_text(unknown)


def test_an_answer_from_another_issuer_is_refused(provider, oidc_connection, member):
    link(oidc_connection, member)
    browser = Client()
    authorization = provider.authorization(browser.get("/sso/acme/oidc/login/"))
    query = provider.respond_with(authorization, provider.sign(provider.claims(authorization)))
    response = browser.get(f"{CALLBACK}?{query}&iss=https://evil.example")
    assert response.status_code == 403
    assert "came from the issuer" in refusal_text(response)
    assert provider.token_requests == 0


def test_a_wrong_client_secret_gives_a_clear_page(provider, oidc_connection, owner):
    from sso.oidc import actions

    actions.update_oidc_settings(oidc_connection, actor=owner, client_secret="not-the-secret")
    browser = Client()
    response = sign_in(provider, browser)
    assert response.status_code == 403
    assert "did not accept this connection's client ID and secret" in refusal_text(response)
    assert "not-the-secret" not in refusal_text(response)


def test_an_unreachable_provider_gives_a_clear_page(provider, oidc_connection, owner):
    from sso.models import OIDCSettings

    OIDCSettings.objects.filter(connection=oidc_connection).update(token_endpoint="http://127.0.0.1:9/token")
    browser = Client()
    response = sign_in(provider, browser)
    assert response.status_code == 502
    assert "We could not reach Acme Inc.'s sign-in service" in refusal_text(response)  # what the member reads
    assert "token endpoint" in refusal_text(response) and b"token endpoint" not in response.content  # for admins


def test_a_test_run_shows_the_claims_and_links_nobody(provider, oidc_connection, client_for, admin):
    browser = client_for(admin)
    authorization = provider.authorization(browser.post(f"/orgs/acme/settings/security/sso/{oidc_connection.pk}/test/"))
    claims = provider.claims(authorization, sub="adam-sub", email="admin@acme.test", name="Adam Admin", groups=["ops"])
    query = provider.respond_with(authorization, provider.sign(claims), userinfo={"sub": "adam-sub", "locale": "en"})
    result_url = browser.get(browser.get(f"{CALLBACK}?{query}")["Location"])["Location"]
    page = browser.get(result_url).content.decode()
    assert "SSO test: Succeeded" in page
    assert "adam-sub" in page and "admin@acme.test" in page and "ops" in page and "locale" in page
    assert "never links an account" in page and not SSOIdentity.objects.exists()  # only checked
    run = oidc_connection.test_runs.get()
    assert run.details["mapped"]["display_name"] == "Adam Admin" and run.details["mapped"]["groups"] == ["ops"]


def test_a_failed_test_run_records_a_readable_error(provider, oidc_connection, client_for, admin):
    browser = client_for(admin)
    authorization = provider.authorization(browser.post(f"/orgs/acme/settings/security/sso/{oidc_connection.pk}/test/"))
    claims = provider.claims(authorization, iss="https://other.example")
    response = browser.get(f"{CALLBACK}?{provider.respond_with(authorization, provider.sign(claims))}")
    run = oidc_connection.test_runs.get()
    assert response["Location"].endswith(f"/tests/{run.pk}/")
    expected = f"the ID token's issuer was 'https://other.example' but this connection expects '{provider.issuer}'"
    assert expected.lower() in run.error.lower()
    page = browser.get(response["Location"]).content.decode()
    assert "SSO test: Failed" in page and "https://other.example" in page
    event = AuditEvent.objects.filter(action="sso.tested").latest("seq")
    assert event.details["result"] == "failure" and "https://other.example" in event.details["error"]


def test_reauthentication_asks_for_a_fresh_login_and_checks_auth_time(provider, oidc_connection, member):
    link(oidc_connection, member)
    browser = Client()
    browser.get(sign_in(provider, browser)["Location"])
    session = browser.session
    session["reauth_at"] = 0
    session.save()

    def reauthenticate(**overrides):
        authorization = provider.authorization(browser.get("/accounts/reauthenticate/", {"next": "/orgs/acme/"}))
        assert authorization.params["prompt"] == "login" and authorization.params["max_age"] == "0"
        claims = provider.claims(authorization, **overrides)
        response = browser.get(f"{CALLBACK}?{provider.respond_with(authorization, provider.sign(claims))}")
        return browser.get(response["Location"]) if response.status_code == 302 else response

    missing = reauthenticate(auth_time=None)
    assert missing.status_code == 403 and "no auth_time claim" in refusal_text(missing)
    stale = reauthenticate(auth_time=int(time.time()) - 1800)
    assert stale.status_code == 403 and b"did not ask you to sign in again" in stale.content
    assert browser.session["reauth_at"] == 0
    fresh = reauthenticate(auth_time=int(time.time()))
    assert fresh["Location"] == "/orgs/acme/"
    assert browser.session["reauth_at"] > 0


def test_a_test_run_cancelled_at_the_provider_says_so(provider, oidc_connection, client_for, admin):
    browser = client_for(admin)
    authorization = provider.authorization(browser.post(f"/orgs/acme/settings/security/sso/{oidc_connection.pk}/test/"))
    response = browser.get(CALLBACK, {"error": "access_denied", "state": authorization.state})
    run = oidc_connection.test_runs.get()
    assert response["Location"].endswith(f"/tests/{run.pk}/")
    assert run.result == "failure" and "cancelled or refused at your identity provider" in run.error
    assert "SSO test: Failed" in browser.get(response["Location"]).content.decode()


def test_a_test_session_signed_in_as_a_colleague_links_nobody(provider, oidc_connection, client_for, owner, member):
    """Issue 14 item 1, over a real signed ID token: the owner's test run signs in at the provider as a colleague."""
    browser = client_for(owner)
    url = f"/orgs/acme/settings/security/sso/{oidc_connection.pk}/test/"
    authorization = provider.authorization(browser.post(url, {"session_seconds": "120"}))
    claims = provider.claims(authorization, sub="mia-sub", email="member@acme.test")
    query = provider.respond_with(authorization, provider.sign(claims), userinfo={"sub": "mia-sub"})
    page = browser.get(browser.get(browser.get(f"{CALLBACK}?{query}")["Location"])["Location"]).content.decode()
    assert "SSO test: Succeeded" in page and "another member of Acme Inc." in page
    assert not SSOIdentity.objects.exists()
    assert browser.session["auth_method"] == "password"


def test_link_sso_with_another_email_is_confirmed_first(provider, oidc_connection, client_for, member):
    browser = client_for(member)
    authorization = provider.authorization(browser.post("/orgs/acme/settings/security/sso/link/"))
    claims = provider.claims(authorization, sub="mia-sub", email="mia@home.test")
    query = provider.respond_with(authorization, provider.sign(claims), userinfo={"sub": "mia-sub"})
    held_page = browser.get(browser.get(f"{CALLBACK}?{query}")["Location"])["Location"]
    page = browser.get(held_page).content.decode()
    assert "member@acme.test" in page and "mia@home.test" in page
    assert not SSOIdentity.objects.exists()
    browser.post(held_page, {"answer": "link"})
    assert SSOIdentity.objects.get(user=member).subject == "mia-sub"


# --- the provider cannot be reached at sign-in time: a page of ours says so, for every fetch --------------------


def _unreachable_page(response) -> None:
    assert response.status_code == 502
    page = refusal_text(response)
    assert "We could not reach Acme Inc.'s sign-in service (your identity provider) just now" in page
    assert "This is not a problem with your account" in page
    assert "Back to sign-in" in page


def test_a_key_set_that_cannot_be_fetched_gives_our_page(provider, oidc_connection, member):
    from sso.models import OIDCSettings

    link(oidc_connection, member)
    OIDCSettings.objects.filter(connection=oidc_connection).update(
        jwks_uri="http://127.0.0.1:9/jwks", jwks={}, jwks_fetched_at=None
    )
    browser = Client()
    response = sign_in(provider, browser)
    _unreachable_page(response)
    assert "key set (jwks_uri)" in refusal_text(response)  # the technical reason, for the admins
    assert browser.get("/orgs/acme/").status_code == 302


def test_a_token_endpoint_failing_with_a_server_error_gives_our_page(provider, oidc_connection, member):
    from sso.models import OIDCSettings

    link(oidc_connection, member)
    OIDCSettings.objects.filter(connection=oidc_connection).update(token_endpoint=f"{provider.issuer}/no-such-token")
    response = sign_in(provider, Client())  # pytest-httpserver answers 500 on a path it does not serve
    _unreachable_page(response)
    assert "token endpoint failed (HTTP 500)" in refusal_text(response)


def test_an_unreachable_provider_at_test_time_is_recorded_on_the_test_run(provider, oidc_connection, client_for, admin):
    from sso.models import OIDCSettings

    OIDCSettings.objects.filter(connection=oidc_connection).update(token_endpoint="http://127.0.0.1:9/token")
    browser = client_for(admin)
    authorization = provider.authorization(browser.post(f"/orgs/acme/settings/security/sso/{oidc_connection.pk}/test/"))
    claims = provider.claims(authorization, sub="adam-sub", email="admin@acme.test")
    response = browser.get(f"{CALLBACK}?{provider.respond_with(authorization, provider.sign(claims))}")
    page = browser.get(response["Location"]).content.decode()
    assert "SSO test: Failed" in page and "could not be reached" in page  # the admin sees the detailed reason
