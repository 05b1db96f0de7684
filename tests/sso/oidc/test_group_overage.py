"""Microsoft Entra ID's group overage in real signed OIDC answers (issue 14 item 13; SAML: tests/sso/saml/).

When a person is in too many groups, Entra leaves the groups out and says so: SAML sends the attribute
``http://schemas.microsoft.com/claims/groups.link``, OIDC names ``groups`` in ``_claim_names`` (a distributed
claim, OIDC Core §5.6.2) or sends ``hasgroups: true``. The groups are then unknown, not empty: the test run, its
audit event and its page say so, and a member's sign-in changes nothing that depends on groups.
"""

from __future__ import annotations

import html

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgsecurity.models import Membership
from sso.connections import actions as sso_actions
from sso.models import SSOPendingLogin, SSOTestRun
from tests.sso.oidc.test_sign_in import CALLBACK, link

GRAPH = "https://graph.microsoft.com/v1.0/users/6a2e1d9e/getMemberObjects"
WARNING = "The IdP did not send this person's groups."


def page_of(browser: Client, url: str) -> str:
    return html.unescape(browser.get(url).content.decode())


# --- OIDC ---------------------------------------------------------------------------------------------------


def oidc_test_run(browser, provider, connection, **claims) -> tuple[SSOTestRun, str]:
    authorization = provider.authorization(browser.post(f"/orgs/acme/settings/security/sso/{connection.pk}/test/"))
    signed = provider.sign(provider.claims(authorization, sub="adam-sub", email="admin@acme.test", **claims))
    response = browser.get(f"{CALLBACK}?{provider.respond_with(authorization, signed)}")
    result = browser.get(response["Location"])
    return SSOTestRun.objects.get(connection=connection), page_of(browser, result["Location"])


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        (
            {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": GRAPH}}},
            f"names it as a distributed claim (_claim_names) to be fetched from {GRAPH}",
        ),
        ({"hasgroups": True}, "carries hasgroups: true instead of the groups claim"),
    ],
)
def test_an_oidc_test_run_says_the_groups_were_not_sent(
    provider, oidc_connection, owner, client_for, admin, claims, words
):
    sso_actions.update_connection(oidc_connection, actor=owner, attribute_map={"email": "email", "groups": "groups"})
    run, page = oidc_test_run(client_for(admin), provider, oidc_connection, **claims)
    assert run.result == "success"
    assert run.details["mapped"]["groups"] is None
    assert words in run.details["groups_not_sent"] and "group overage" in run.details["groups_not_sent"]
    assert WARNING in page and words in page
    event = AuditEvent.objects.filter(action="sso.tested").latest("seq")
    assert words in event.details["groups_not_sent"]


def test_a_distributed_claims_access_token_is_never_stored(provider, oidc_connection, owner, client_for, admin):
    sources = {"src1": {"endpoint": GRAPH, "access_token": "secret-graph-token-1"}}
    run, page = oidc_test_run(
        client_for(admin), provider, oidc_connection, _claim_names={"groups": "src1"}, _claim_sources=sources
    )
    assert "secret-graph-token-1" not in str(run.details) and "secret-graph-token-1" not in page
    assert "secret-graph-token-1" not in str(list(SSOPendingLogin.objects.values_list("data", flat=True)))
    assert run.details["groups_not_sent"]


def test_an_oidc_member_with_too_many_groups_signs_in_and_keeps_their_role(provider, oidc_connection, member):
    link(oidc_connection, member)
    role = Membership.objects.get(user=member).role
    browser = Client()
    authorization = provider.authorization(browser.get("/sso/acme/oidc/login/"))
    signed = provider.sign(provider.claims(authorization, hasgroups=True))
    response = browser.get(f"{CALLBACK}?{provider.respond_with(authorization, signed)}")
    assert browser.get(response["Location"])["Location"] == "/orgs/acme/"
    assert Membership.objects.get(user=member).role == role
