"""Bad input to the organization resources is a JSON 4xx with a code, never a 500 and never a saved row: ids past
the database's range, NUL characters, wrong types, an invitation to something that is no email address."""

from __future__ import annotations

import pytest

from keys import actions
from keys.models import APIKey, ServiceAccount
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Invitation
from sso.models import VerifiedDomain
from tests.helpers.adminapi import ALL_SCOPES, allow_api_changes, call, error_code, scoped_key

HUGE = 10**30
ORG = "/api/v1/orgs/acme"


@pytest.fixture
def token(org, owner):
    allow_api_changes(org, owner)
    return scoped_key(org, owner, ALL_SCOPES)[1]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{ORG}/domains/{HUGE}", None),
        ("POST", f"{ORG}/domains/{HUGE}/check", None),
        ("DELETE", f"{ORG}/domains/{HUGE}?confirm=acme", None),
        ("POST", f"{ORG}/domains", {"domain": "acme\x00.test"}),
        ("POST", f"{ORG}/domains", {"domain": ["acme.test"]}),
        ("POST", f"{ORG}/recovery-accounts", {"membership_id": HUGE}),
        ("POST", f"{ORG}/recovery-accounts", {"membership_id": "1"}),
        ("DELETE", f"{ORG}/recovery-accounts/{HUGE}", None),
        ("POST", f"{ORG}/invitations", {"email": "not an email", "role": "member"}),
        ("POST", f"{ORG}/invitations", {"email": "a\x00@example.test", "role": "member"}),
        ("POST", f"{ORG}/invitations", {"email": "a@example.test", "role": "root"}),
        ("POST", f"{ORG}/invitations/{HUGE}/revoke", None),
        ("GET", f"{ORG}/invitations?after={HUGE}", None),
        ("POST", f"{ORG}/service-accounts", {"name": "ci\x00"}),
        ("POST", f"{ORG}/service-accounts", {"name": "ci", "description": "a\x00b"}),
        ("POST", f"{ORG}/service-accounts/{HUGE}/keys", {"name": "x"}),
    ],
)
def test_bad_input_is_a_json_4xx(org, token, method, path, body):
    response = call(method, path, token, body, **{"If-Match": "*"})
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert error_code(response)
    assert not VerifiedDomain.objects.exists() and not Invitation.objects.exists()
    assert not ServiceAccount.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "k\x00"},
        {"name": "k", "workloads": ["ci\x00"]},
        {"name": "k", "allowed_cidrs": ["10.0.0.0/8\x00"]},
        {"name": "k", "team_ids": [HUGE]},
        {"name": "k", "project_ids": ["1"]},
        {"name": "k", "scopes": ["admin:everything"]},
        {"name": "k", "expires_in_days": 0},
    ],
)
def test_bad_key_input_is_a_json_4xx(org, owner, token, body):
    account = actions.create_service_account(org, actor=owner, name="terraform")
    response = call("POST", f"{ORG}/service-accounts/{account.pk}/keys", token, body)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert error_code(response)
    assert not APIKey.objects.filter(owner_service_account=account).exists()


def test_the_key_action_refuses_ids_past_the_databases_range(org, owner):
    for field in ("team_ids", "project_ids"):
        with pytest.raises(ActionRefused) as refused:
            actions.create_api_key(org, actor=owner, name="x", **{field: [HUGE]})
        assert refused.value.code in {"bad_team", "bad_project"}
