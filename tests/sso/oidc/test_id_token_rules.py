"""Each ID token rule, broken by a real token from the local provider, is refused with a 4xx page.

Every test signs one token that is correct except for the one rule it breaks, sends it through the real
callback (token endpoint, key set, userinfo over HTTP), and checks the person is not signed in and sees why.
"""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.helpers.sso import refusal_text
from tests.sso.oidc.provider import CLIENT_ID, b64url, ec_key, hmac_token, rsa_key, unsigned_token
from tests.sso.oidc.test_sign_in import CALLBACK, link


@pytest.fixture
def linked(oidc_connection, member):
    """The member is linked, so a good token would sign them in: only the broken rule can stop it."""
    link(oidc_connection, member)
    return member


def answer(provider, make_token, *, userinfo=None):
    """Start a sign-in; the provider answers with ``make_token(authorization)``; return (browser, response)."""
    browser = Client()
    authorization = provider.authorization(browser.get("/sso/acme/oidc/login/"))
    query = provider.respond_with(authorization, make_token(authorization), userinfo=userinfo)
    response = browser.get(f"{CALLBACK}?{query}")
    return browser, response


def assert_refused(browser, response, words: str, status: int = 403) -> None:
    assert response.status_code == status, response.content[:400]
    assert words.lower() in refusal_text(response).lower()
    assert browser.get("/orgs/acme/").status_code == 302  # not signed in


def test_a_good_token_signs_in(provider, linked):
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth)))
    assert response.status_code == 302
    assert browser.get(response["Location"]).status_code == 302
    assert browser.get("/orgs/acme/").status_code == 200


def test_an_unsigned_token_is_refused(provider, linked):
    browser, response = answer(provider, lambda auth: unsigned_token(provider.claims(auth), {"kid": "rsa-1"}))
    assert_refused(browser, response, 'not signed (alg "none")')


def test_an_algorithm_not_allowed_for_the_connection_is_refused(provider, linked):
    # A valid RS384 signature with the provider's own key: the connection allows only RS256 and ES256.
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth), alg="RS384"))
    assert_refused(browser, response, "signed with RS384, but this connection accepts only RS256, ES256")


@pytest.mark.parametrize("public_value", ["pem", "jwk", "client_id"])
def test_an_hmac_token_keyed_with_a_public_value_is_refused(provider, linked, public_value):
    key = provider.keys[0]
    secret = {
        "pem": key.public_pem(),
        "jwk": json.dumps(key.public_jwk()).encode(),
        "client_id": CLIENT_ID.encode(),
    }[public_value]
    browser, response = answer(provider, lambda auth: hmac_token(provider.claims(auth), secret, {"kid": "rsa-1"}))
    assert_refused(browser, response, "signed with HS256, a shared-secret (HMAC) algorithm")


def test_a_tampered_token_fails_the_signature_check(provider, linked):
    def tampered(auth):
        header, _, signature = provider.sign(provider.claims(auth)).split(".")
        forged = b64url(json.dumps(provider.claims(auth, sub="admin-sub")).encode())
        return f"{header}.{forged}.{signature}"

    browser, response = answer(provider, tampered)
    assert_refused(browser, response, "signature does not verify with the provider's key 'rsa-1'")


def test_a_token_signed_by_another_key_with_a_known_kid_is_refused(provider, linked):
    impostor = rsa_key("impostor")
    impostor.kid = "rsa-1"  # claims to be the provider's key
    browser, response = answer(provider, lambda auth: impostor.sign(provider.claims(auth)))
    assert_refused(browser, response, "signature does not verify")


def test_an_unknown_kid_refetches_the_key_set_once_then_refuses(provider, linked):
    _, response = answer(provider, lambda auth: provider.sign(provider.claims(auth)))
    assert response.status_code == 302 and provider.jwks_requests == 1  # the key set is cached now
    stranger = rsa_key("not-published")
    browser, response = answer(provider, lambda auth: stranger.sign(provider.claims(auth)))
    assert_refused(browser, response, "signed with the key 'not-published', which the provider does not publish")
    assert "checked again just now" in refusal_text(response)
    assert provider.jwks_requests == 2  # one refetch for the unknown kid
    browser, response = answer(provider, lambda auth: stranger.sign(provider.claims(auth)))
    assert response.status_code == 403
    assert provider.jwks_requests == 3  # one refetch per sign-in, never a loop


def test_a_token_without_kid_uses_the_only_key(provider, linked):
    provider.keys = [rsa_key(None)]
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth)))
    assert response.status_code == 302
    assert browser.get(response["Location"]).status_code == 302


def test_a_token_without_kid_is_refused_when_several_keys_fit(provider, linked):
    provider.keys = [rsa_key(None), rsa_key("rsa-2")]
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth)))
    assert_refused(browser, response, "does not say which key signed it (no kid), and the provider publishes 2")


def test_a_token_without_kid_picks_the_only_key_of_its_type(provider, linked):
    provider.keys = [rsa_key(None), ec_key("ec-1")]
    _, response = answer(provider, lambda auth: provider.sign(provider.claims(auth)))
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"iss": "http://127.0.0.1:1/"}, "the ID token's issuer was 'http://127.0.0.1:1/' but this connection expects"),
        ({"iss": None}, "the ID token's issuer was None but this connection expects"),
        ({"aud": "someone-else"}, "meant for someone-else but this connection's client ID is 'orgsec-acme'"),
        ({"aud": ["someone-else", CLIENT_ID]}, "names several audiences (someone-else, orgsec-acme) but no authorized"),
        ({"aud": ["someone-else", CLIENT_ID], "azp": "someone-else"}, "issued to the client 'someone-else' (azp)"),
        ({"azp": "someone-else"}, "issued to the client 'someone-else' (azp)"),
        ({"exp": None}, "has no exp claim"),
        ({"exp": int(time.time()) - 3600}, "The ID token expired at"),
        ({"iat": None}, "has no iat claim"),
        ({"iat": int(time.time()) + 3600}, "was issued in the future"),
        ({"iat": int(time.time()) - 3600}, "more than 10 minutes ago"),
        ({"exp": "tomorrow"}, "exp claim is not a number"),
        ({"nbf": int(time.time()) + 3600}, "is not valid before"),
        ({"nonce": "another-sign-in"}, "nonce does not match the sign-in started here"),
        ({"nonce": None}, "has no nonce"),
        ({"sub": None}, "has no subject (sub)"),
        ({"sub": ""}, "has no subject (sub)"),
        ({"auth_time": int(time.time()) + 3600}, "signed in in the future"),
    ],
)
def test_each_claim_rule_is_enforced(provider, linked, overrides, words):
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth, **overrides)))
    assert_refused(browser, response, words)
    assert not AuditEvent.objects.filter(action="auth.signed_in").exists()


def test_a_small_clock_skew_is_tolerated(provider, linked):
    now = int(time.time())
    for claims in ({"iat": now + 30}, {"iat": now - 100, "exp": now - 20}):
        _, response = answer(provider, lambda auth, claims=claims: provider.sign(provider.claims(auth, **claims)))
        assert response.status_code == 302


def test_several_audiences_with_our_azp_are_accepted(provider, linked):
    _, response = answer(
        provider, lambda auth: provider.sign(provider.claims(auth, aud=[CLIENT_ID, "api://other"], azp=CLIENT_ID))
    )
    assert response.status_code == 302


def test_userinfo_for_another_subject_is_not_used(provider, linked):
    browser, response = answer(
        provider,
        lambda auth: provider.sign(provider.claims(auth)),
        userinfo={"sub": "admin-sub", "email": "admin@acme.test", "email_verified": True},
    )
    assert_refused(browser, response, "answered for the subject 'admin-sub', but the ID token is for 'mia-sub-123'")


def test_a_missing_id_token_is_refused(provider, linked):
    browser, response = answer(provider, lambda auth: None)
    assert_refused(browser, response, "has no ID token")


def test_an_encrypted_id_token_is_refused_clearly(provider, linked):
    browser, response = answer(provider, lambda auth: "a.b.c.d.e")
    assert_refused(browser, response, "is encrypted (JWE)")


def test_garbage_is_refused_not_a_500(provider, linked):
    browser, response = answer(provider, lambda auth: "not-a-jwt")
    assert_refused(browser, response, "not a well-formed signed JWT")


# --- which key verifies a token (issue 14 item 15): by kid when both sides have one, else by type ---------------


def test_a_token_naming_a_kid_verifies_with_the_only_key_which_has_none(provider, linked):
    # mozilla-django-oidc users hit this with real providers: the JWK Set's one key has no kid, the token names one.
    provider.keys = [rsa_key(None)]
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth), headers={"kid": "k-2026"}))
    assert response.status_code == 302, response.content[:400]
    assert browser.get(response["Location"]).status_code == 302
    assert browser.get("/orgs/acme/").status_code == 200


def test_a_kid_less_key_of_another_type_is_not_used(provider, linked):
    provider.keys = [ec_key(None)]
    browser, response = answer(provider, lambda auth: rsa_key(None).sign(provider.claims(auth), headers={"kid": "k"}))
    assert_refused(browser, response, "signed with the key 'k', which the provider does not publish")


def test_a_token_naming_a_kid_is_refused_when_several_kid_less_keys_fit(provider, linked):
    provider.keys = [rsa_key(None), rsa_key("other")]
    provider.keys[1].kid = None  # a second RSA key, also without kid
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth), headers={"kid": "k"}))
    assert_refused(browser, response, "publishes 2 RS256 keys without a kid, so there is no safe way to choose")


def test_kids_on_both_sides_that_differ_are_never_matched_even_by_the_right_key(provider, linked):
    # The published key is the very key that signed, but the token names another kid: kids are compared, and
    # no key is tried just because it would verify.
    provider.keys = [rsa_key("rsa-1")]
    assert answer(provider, lambda auth: provider.sign(provider.claims(auth)))[1].status_code == 302  # cached
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth), headers={"kid": "rsa-9"}))
    assert_refused(browser, response, "signed with the key 'rsa-9', which the provider does not publish")
    assert provider.jwks_requests == 2  # the rotation re-fetch still happens once, then the refusal


def test_a_kid_less_key_is_not_used_when_another_key_carries_the_kid(provider, linked):
    signer = rsa_key("rsa-1")
    provider.keys = [rsa_key(None), signer]
    _, response = answer(provider, lambda auth: signer.sign(provider.claims(auth)))
    assert response.status_code == 302  # picked by kid, not the kid-less key listed first


def test_a_cached_kid_less_key_that_fails_is_refetched_once_for_a_rotation(provider, linked):
    provider.keys = [rsa_key(None)]
    _, response = answer(provider, lambda auth: provider.sign(provider.claims(auth), headers={"kid": "old"}))
    assert response.status_code == 302 and provider.jwks_requests == 1
    provider.keys = [rsa_key("rsa-2")]  # the provider now publishes a key with a kid, and signs with it
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth)))
    assert response.status_code == 302 and provider.jwks_requests == 2
    # A token from a stranger naming an unknown kid: the cached kid-less key fails, one re-fetch, then refused.
    provider.keys = [rsa_key(None)]
    answer(provider, lambda auth: provider.sign(provider.claims(auth), headers={"kid": "x"}))  # caches it
    requests = provider.jwks_requests
    stranger = rsa_key("stranger")
    browser, response = answer(provider, lambda auth: stranger.sign(provider.claims(auth), headers={"kid": "x"}))
    assert_refused(browser, response, "does not verify with the provider's key (the provider's RS256 key without")
    assert provider.jwks_requests == requests + 1


@pytest.mark.parametrize("kind", ["none", "hmac"])
def test_a_kid_less_key_set_still_refuses_unsigned_and_hmac_tokens(provider, linked, kind):
    provider.keys = [rsa_key(None)]
    jwk = json.dumps(provider.keys[0].public_jwk()).encode()
    make = {
        "none": lambda auth: unsigned_token(provider.claims(auth), {"kid": "k"}),
        "hmac": lambda auth: hmac_token(provider.claims(auth), jwk, {"kid": "k"}),
    }[kind]
    browser, response = answer(provider, make)
    assert_refused(browser, response, 'alg "none"' if kind == "none" else "shared-secret (HMAC)")
