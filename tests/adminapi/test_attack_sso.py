"""Attacks on the admin API's SSO test runs: the page a run's ``open_url`` names cannot be claimed by a forged
cross-site POST, another organization's owner, a member or an anonymous visitor, and another organization's key
cannot start or read a run on our connection."""

from __future__ import annotations

import pytest
from django.test import Client

from keys import actions as key_actions
from sso.models import SSOTestRun
from tests.adminapi.test_sso import BASE, CONNECTIONS, create_from_xml
from tests.helpers.adminapi import ALL_SCOPES, allow_api_changes, call, error_code, scoped_key
from tests.helpers.core import sign_in_client
from tests.sso.saml.idp import TestIdP


@pytest.fixture(scope="module")
def idp() -> TestIdP:
    return TestIdP()


@pytest.fixture
def started(org, owner, idp):
    """A test run a service account's key started: (connection id, run document)."""
    allow_api_changes(org, owner)
    account = key_actions.create_service_account(org, actor=owner, name="terraform")
    _, token = scoped_key(org, owner, ["security:read", "security:write"], service_account=account)
    created = create_from_xml(token, idp)
    response = call("POST", f"{CONNECTIONS}/{created['id']}/tests", token, {})
    assert response.status_code == 201, response.content
    return created["id"], response.json()


def test_a_cross_site_post_does_not_claim_the_run(org, owner, started):
    _, run = started
    browser = sign_in_client(Client(enforce_csrf_checks=True), owner)  # freshly re-authenticated owner
    response = browser.post(run["open_url"].removeprefix(BASE))
    assert response.status_code == 403
    assert SSOTestRun.objects.get(pk=run["id"]).actor is None


def test_nobody_outside_the_organizations_managers_claims_it(org, member, outsider, client_for, started):
    _, run = started
    path = run["open_url"].removeprefix(BASE)
    assert client_for(outsider).post(path).status_code == 404  # another organization's owner
    assert client_for(member).post(path).status_code == 403
    assert Client().post(path).status_code == 401  # asked to sign in first
    assert SSOTestRun.objects.get(pk=run["id"]).actor is None


def test_another_organizations_key_cannot_start_or_read_our_runs(org, other_org, outsider, started):
    connection_id, run = started
    allow_api_changes(other_org, outsider)
    _, theirs = scoped_key(other_org, outsider, ALL_SCOPES)
    for method, path in (
        ("POST", f"/api/v1/orgs/globex/sso/connections/{connection_id}/tests"),
        ("GET", f"/api/v1/orgs/globex/sso/connections/{connection_id}/tests/{run['id']}"),
        ("GET", f"{CONNECTIONS}/{connection_id}/tests/{run['id']}"),
    ):
        response = call(method, path, theirs, {} if method == "POST" else None)
        assert response.status_code == 404 and error_code(response) == "not_found", (method, path)
    assert SSOTestRun.objects.filter(connection_id=connection_id).count() == 1
