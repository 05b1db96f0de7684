"""Choosing admin API scopes when creating a key, and the owners' switch "allow security changes through the API"
on the key policy page."""

from __future__ import annotations

from audit.models import AuditEvent
from keys.models import APIKey, KeyPolicy
from orgsecurity.signin_state import REAUTH_AT_SESSION_KEY

BASE = "/orgs/acme/settings/security/keys/"
SWITCH = f"{BASE}policy/api-security-changes/"


def test_scopes_are_chosen_at_creation(fresh_client, owner, acme):
    client = fresh_client(owner)
    page = client.get(f"{BASE}new/").content.decode()
    assert 'value="security:write"' in page and 'value="audit:read"' in page
    posted = client.post(
        f"{BASE}new/",
        {"name": "terraform", "owner": "me", "permission": "read_write", "scopes": ["security:read", "audit:read"]},
    )
    assert posted.status_code == 302
    assert APIKey.objects.get(name="terraform").scopes == ["security:read", "audit:read"]


def test_members_are_not_offered_write_scopes(fresh_client, member, acme):
    page = fresh_client(member).get(f"{BASE}new/").content.decode()
    assert 'value="security:read"' in page
    assert 'value="security:write"' not in page and 'value="members:write"' not in page


def test_an_admin_cannot_give_a_service_account_key_write_scopes(fresh_client, org, owner, admin, acme):
    from keys import actions

    account = actions.create_service_account(org, actor=owner, name="terraform")
    response = fresh_client(admin).post(
        f"{BASE}new/",
        {"name": "tf", "owner": f"sa:{account.pk}", "permission": "read_write", "scopes": ["security:write"]},
    )
    assert response.status_code == 403
    assert "Only owners can give a service account" in response.content.decode()
    assert not APIKey.objects.filter(name="tf").exists()


def test_it_checks_access_to_the_api_switch(client_for, fresh_client, org, owner, admin, member, outsider, acme):
    assert fresh_client(outsider).post(SWITCH, {"allow_api_security_changes": "on"}).status_code == 404
    assert fresh_client(member).post(SWITCH, {"allow_api_security_changes": "on"}).status_code == 403
    assert fresh_client(admin).post(SWITCH, {"allow_api_security_changes": "on"}).status_code == 403
    stale = client_for(owner)
    session = stale.session
    session[REAUTH_AT_SESSION_KEY] = 0  # signed in long ago: asked to re-authenticate first
    session.save()
    assert stale.post(SWITCH, {"allow_api_security_changes": "on"}).status_code in {302, 303}
    assert not KeyPolicy.for_organization(org).allow_api_security_changes
    response = fresh_client(owner).post(SWITCH, {"allow_api_security_changes": "on"})
    assert response.status_code == 302
    assert KeyPolicy.for_organization(org).allow_api_security_changes
    assert AuditEvent.objects.filter(organization=org, action="key.api_security_changes_allowed").exists()
    policy_page = fresh_client(admin).get(f"{BASE}policy/").content.decode()
    assert "may" in policy_page and "security:write" in policy_page
    fresh_client(owner).post(SWITCH, {})
    assert not KeyPolicy.for_organization(org).allow_api_security_changes


def test_the_keys_page_shows_each_keys_admin_api_scopes(fresh_client, owner, acme):
    """An admin sees which admin API scopes a key holds without calling the API (the walkthrough could not tell)."""
    client = fresh_client(owner)
    client.post(
        f"{BASE}new/",
        {"name": "terraform", "owner": "me", "permission": "read_write", "scopes": ["security:read", "audit:read"]},
    )
    client.post(f"{BASE}new/", {"name": "plain", "owner": "me", "permission": "read"})
    page = client.get(BASE).content.decode()
    assert "admin API: security:read, audit:read" in page
    assert "no admin API" in page


def test_the_policy_page_says_whether_the_api_switch_is_on(fresh_client, owner, acme):
    """The switch's help text used to start with "Off: …" whatever its state, so after turning it on the page
    still seemed to say it was off."""
    client = fresh_client(owner)
    assert "Now: <strong>off</strong>" in client.get(f"{BASE}policy/").content.decode()
    client.post(SWITCH, {"allow_api_security_changes": "on"})
    page = client.get(f"{BASE}policy/").content.decode()
    assert "Now: <strong>on</strong>" in page
    assert "Off: no key can change" not in page
