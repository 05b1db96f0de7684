"""Who may call /scim/: only a live SCIM token of the organization in the URL; never API keys or dashboard
sessions; the org's IP allowlist does not apply, the token's own networks do; failures are audited and throttled."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from scim import authentication
from scim.actions import revoke_token
from scim.models import ScimToken
from sso.connections import actions as sso_actions
from tests.helpers.allowlist import OFFICE, enable
from tests.helpers.keys import issue
from tests.helpers.scim import SCIM_TYPE, ScimClient, new_token


def test_no_token_is_401_in_scim_shape(db, org):
    response = ScimClient(None).get("Users")
    assert response.status_code == 401
    assert response["Content-Type"].startswith(SCIM_TYPE)
    assert response.json()["status"] == "401"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_opens_its_endpoint_and_records_its_use(scim, org):
    response = scim.get("ServiceProviderConfig")
    assert response.status_code == 200
    assert response.json()["patch"]["supported"] is True
    token = ScimToken.objects.get()
    assert token.last_used_at is not None and token.last_used_ip == "127.0.0.1"


def test_api_keys_and_sessions_never_open_scim(scim, org, owner, client_for):
    _, api_key = issue(org, owner, name="ops")
    assert ScimClient(api_key).get("Users").status_code == 401
    browser = client_for(owner)
    assert browser.get("/orgs/acme/").status_code == 200
    assert ScimClient(None, client=browser).get("Users").status_code == 401


def test_a_token_never_opens_another_organization(token, org, other_org):
    response = ScimClient(token, slug="globex").get("Users")
    assert response.status_code == 401
    assert ScimClient(token, slug="nope").get("Users").status_code == 401


def test_a_token_never_opens_the_api_or_dashboard(token):
    assert Client().get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert Client().get("/orgs/acme/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code in (302, 401)


def test_another_organizations_ids_are_404(scim, org, other_org, outsider):
    globex_connection = sso_actions.create_connection(other_org, actor=outsider, protocol="saml", name="G")
    globex = ScimClient(new_token(other_org, globex_connection), slug="globex")
    created = scim.post(
        "Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bea@acme.test"}
    ).json()
    assert globex.get(f"Users/{created['id']}").status_code == 404
    assert globex.delete(f"Users/{created['id']}").status_code == 404


def test_revoked_tokens_stop_at_once(scim, token, owner):
    revoke_token(ScimToken.objects.get(), actor=owner)
    response = scim.get("Users")
    assert response.status_code == 401
    refused = AuditEvent.objects.get(action="scim.token_refused")
    assert refused.details["code"] == "token_revoked"


def test_the_org_ip_allowlist_does_not_apply_but_token_networks_do(org, owner, connection, acme_domain):
    enable(org, owner, OFFICE, scope="both")
    open_token = ScimClient(new_token(org, connection))
    assert open_token.get("Users", REMOTE_ADDR="203.0.113.9").status_code == 200
    fenced = ScimClient(new_token(org, connection, name="fenced", allowed_cidrs=[OFFICE]))
    assert fenced.get("Users", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert fenced.get("Users", REMOTE_ADDR="198.51.100.7").status_code == 200


@pytest.mark.parametrize("presented", ["scim_short", "scim_" + "A" * 48, "osk_" + "A" * 48, "x" * 300])
def test_bad_tokens_are_401_and_audited(db, org, presented):
    response = ScimClient(presented).get("Users")
    assert response.status_code == 401
    assert response.json()["detail"]
    assert AuditEvent.objects.filter(action="scim.token_refused").exists()


def test_failed_attempts_are_throttled(db, org, monkeypatch):
    monkeypatch.setattr(authentication, "SCIM_AUTH_FAILURE_LIMIT", 3)
    client = ScimClient("scim_" + "A" * 48)
    statuses = [client.get("Users").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    assert int(client.get("Users")["Retry-After"]) > 0
