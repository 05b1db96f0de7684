"""Single-valued claims of the wrong JSON type are refused with a clear error (issue 14 item 16).

Each test signs a real ID token (or serves a real userinfo answer) that is correct except for the type of one
claim, sends it through the callback, and checks that a member is refused without a 500 and an admin's test run
says which claim was wrong.
"""

from __future__ import annotations

import json

import jwt
import pytest
from django.test import Client

from audit.models import AuditEvent
from sso.connections import actions as sso_actions
from sso.models import SSOIdentity
from tests.helpers.sso import refusal_text
from tests.sso.oidc.test_id_token_rules import answer, assert_refused
from tests.sso.oidc.test_sign_in import CALLBACK, link, sign_in


def sign_any(provider, claims) -> str:
    """Sign ``claims`` as they are: PyJWT's jwt.encode refuses a non-string iss, which a provider may still send."""
    key = provider.keys[0]
    return jwt.PyJWS().encode(json.dumps(claims).encode(), key.private_key, algorithm=key.alg, headers={"kid": key.kid})


@pytest.fixture
def linked(oidc_connection, member):
    link(oidc_connection, member)
    return member


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        # The example: a JSON list was accepted and its first value used.
        ({"email": ["member@acme.test"]}, "email claim is a list of 1 value, but it must be a single string"),
        ({"email": ["member@acme.test", "boss@acme.test"]}, "email claim is a list of 2 values"),
        ({"email": {"primary": "member@acme.test"}}, "email claim is a JSON object"),
        ({"sub": ["mia-sub-123"]}, "sub claim is a list of 1 value"),
        ({"sub": 12345}, "sub claim is a number"),
        ({"iss": ["ISSUER"]}, "iss claim is a list of 1 value"),
        ({"azp": ["orgsec-acme"]}, "azp claim is a list"),
        ({"email_verified": [True]}, "email_verified claim is a list of 1 value, but it must be a boolean"),
        ({"email_verified": 1}, "email_verified claim is a number, but it must be a boolean"),
        ({"email_verified": "yes"}, "email_verified claim is a string ('yes'), but it must be a boolean"),
    ],
)
def test_a_single_valued_claim_of_the_wrong_type_is_refused(provider, linked, overrides, words):
    overrides = {name: [provider.issuer] if value == ["ISSUER"] else value for name, value in overrides.items()}
    browser, response = answer(provider, lambda auth: sign_any(provider, provider.claims(auth, **overrides)))
    assert_refused(browser, response, words)
    assert "OIDC Core §5.1" in refusal_text(response)
    assert not AuditEvent.objects.filter(action="auth.signed_in").exists()


def test_the_same_claims_as_strings_sign_in(provider, linked):
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth, email_verified="true")))
    assert browser.get(response["Location"]).status_code == 302
    assert browser.get("/orgs/acme/").status_code == 200


def test_a_wrong_type_in_the_userinfo_answer_is_refused_too(provider, linked):
    userinfo = {"sub": "mia-sub-123", "email": ["member@acme.test", "other@acme.test"]}
    browser, response = answer(
        provider, lambda auth: provider.sign(provider.claims(auth, email=None)), userinfo=userinfo
    )
    assert_refused(browser, response, "The userinfo answer's email claim is a list of 2 values")


def test_the_claim_mapped_to_email_must_be_a_string(provider, oidc_connection, linked, owner):
    sso_actions.update_connection(oidc_connection, actor=owner, attribute_map={"email": "upn"})
    browser, response = answer(provider, lambda auth: provider.sign(provider.claims(auth, upn=["mia@acme.test"])))
    assert_refused(browser, response, "The ID token's upn claim is a list of 1 value")


def test_jit_never_creates_an_account_from_a_listed_email(provider, oidc_connection, owner, acme_domain):
    sso_actions.update_connection(oidc_connection, actor=owner, allow_jit=True)
    browser = Client()
    response = sign_in(provider, browser, sub="new-1", email=["new1@acme.test"])
    assert response.status_code == 403 and "email claim is a list" in refusal_text(response)
    assert not SSOIdentity.objects.exists()


def test_an_admins_test_run_names_the_claim_and_is_audited(provider, oidc_connection, client_for, admin):
    browser = client_for(admin)
    authorization = provider.authorization(browser.post(f"/orgs/acme/settings/security/sso/{oidc_connection.pk}/test/"))
    claims = provider.claims(authorization, sub="adam-sub", email=["admin@acme.test", "boss@acme.test"])
    response = browser.get(f"{CALLBACK}?{provider.respond_with(authorization, provider.sign(claims))}")
    run = oidc_connection.test_runs.get()
    assert response["Location"].endswith(f"/tests/{run.pk}/")
    page = browser.get(response["Location"]).content.decode().replace("&#x27;", "'")
    assert "SSO test: Failed" in page and "email claim is a list of 2 values" in page
    assert "boss@acme.test" in page  # what was received is shown for the admin to see
    event = AuditEvent.objects.filter(action="sso.tested").latest("seq")
    assert event.details["result"] == "failure" and "email claim is a list" in event.details["error"]
    assert not SSOIdentity.objects.exists()
