"""Every name, label and reason form field and action refuses control characters (CR, LF, ESC, NUL, ...) and
bidirectional overrides with a message naming the character, and nothing is saved: key names, service account and
workload names and descriptions, revocation reasons, allowlist labels (single and pasted), project and organization
names, tax IDs. Actions refuse them too, for the API and commands."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from allowlist.models import IPAllowlistEntry
from keys.models import APIKey, ServiceAccount, Workload
from orgsecurity import actions
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Organization
from tests.helpers.keys import issue

OFFICE = "198.51.100.0/24"
# --- forms ---------------------------------------------------------------------------------------------------

KEYS = "/orgs/acme/settings/security/keys/"
ALLOWLIST = "/orgs/acme/settings/security/allowlist/"


def test_key_names_with_a_bidi_override_are_refused(client_for, owner, acme):
    response = client_for(owner).post(
        KEYS + "new/", {"name": "backup\u202egpj.exe", "owner": "me", "permission": "read", "projects": [acme.web.pk]}
    )
    assert response.status_code == 400
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in response.content.decode()
    assert not APIKey.objects.exists()


@pytest.mark.parametrize("character", ["\x1b", "\u2066", "\x00"])
def test_allowlist_labels_with_control_or_bidi_characters_are_refused(client_for, owner, character):
    client = client_for(owner)
    response = client.post(ALLOWLIST + "entries/add/", {"cidr": OFFICE, "label": f"office{character}"})
    assert response.status_code == 400
    response = client.post(ALLOWLIST + "entries/bulk/", {"entries": f"{OFFICE} # office{character}vpn"})
    assert response.status_code == 400
    # Django's own check names NUL first ("Null characters are not allowed"); ours names every other character.
    assert ("cannot be saved" if character != "\x00" else "Null characters") in response.content.decode()
    assert not IPAllowlistEntry.objects.exists()


def test_service_account_and_workload_descriptions_are_refused(client_for, owner):
    client = client_for(owner)
    response = client.post(
        KEYS + "service-accounts/new/", {"account-name": "ci", "account-description": "deploys\u202e"}, follow=True
    )
    assert "The service account description cannot be saved" in response.content.decode()
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in response.content.decode()
    response = client.post(
        KEYS + "workloads/new/", {"workload-name": "batch", "workload-description": "a\x1bb"}, follow=True
    )
    assert "U+001B ESCAPE" in response.content.decode()
    assert not ServiceAccount.objects.filter(name="ci").exists() and not Workload.objects.filter(name="batch").exists()


# --- actions (the API and commands reach these without a form) -------------------------------------------------


def test_actions_refuse_unsafe_names(org, owner, acme):
    from allowlist import actions as allowlist_actions
    from keys import actions as key_actions

    with pytest.raises(ActionRefused, match=r"U\+202E"):
        issue(org, owner, name="report\u202e", project_ids=[acme.web.pk])
    with pytest.raises(ActionRefused, match=r"U\+001B"):
        key_actions.create_service_account(org, actor=owner, name="ci", description="\x1b[2J")
    with pytest.raises(ActionRefused, match=r"U\+2066"):
        key_actions.create_workload(org, actor=owner, name="ci", description="\u2066x")
    with pytest.raises(ActionRefused, match=r"U\+000A"):
        allowlist_actions.add_entry(org, OFFICE, actor=owner, label="a\nb")
    with pytest.raises(ActionRefused, match=r"U\+202D"):
        actions.rename_project(acme.web, actor=owner, name="web\u202d")
    with pytest.raises(ActionRefused, match=r"U\+0000"):
        actions.update_billing(org, actor=owner, tax_id="DE\x00123")
    with pytest.raises(ActionRefused, match=r"U\+202B"):
        actions.create_organization(slug="evil", name="Evil\u202b Corp", owner=owner, actor=None)
    assert not Organization.objects.filter(slug="evil").exists()
    key, _ = issue(org, owner, name="fine", project_ids=[acme.web.pk])
    with pytest.raises(ActionRefused, match=r"U\+000D"):
        key_actions.revoke_api_key(key, actor=owner, reason="leaked\r\nreally")
    key.refresh_from_db()
    assert key.revoked_at is None


def test_the_api_refuses_a_project_name_with_a_bidi_override(org, owner, acme):
    _, token = issue(org, owner, project_ids=[acme.web.pk], permission="read_write")
    response = Client().patch(
        f"/api/v1/projects/{acme.web.pk}/",
        json.dumps({"name": "web\u202eppa"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in response.json()["error"]["message"]
    acme.web.refresh_from_db()
    assert acme.web.name != "web\u202eppa"
