"""Before a key is revoked or the key policy changes: what it affects (``keys.preview``), the confirmation pages
with their CSV, and confirming applies the change."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.utils import timezone

from keys import actions
from keys.models import APIKey, KeyPolicy
from keys.preview import preview_key_policy, preview_revoke_key
from tests.helpers.keys import issue

BASE = "/orgs/acme/settings/security/keys/"


def csv_names(response) -> list[str]:
    return [row[1] for row in list(csv.reader(io.StringIO(response.content.decode())))[1:]]


def test_revoking_lists_the_key_and_warns_when_it_was_used_recently(org, owner):
    key, _ = issue(org, owner, name="deploy")
    APIKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now(), last_used_ip="192.0.2.7")
    key.refresh_from_db()
    impact = preview_revoke_key(key.organization, key)
    (item,) = impact.group("keys").items
    assert (item.ref, item.name) == (key.key_id, f"{key.prefix} (deploy)")
    assert "from 192.0.2.7: stops working at once" in item.detail
    assert impact.notes and "401 key_revoked" in impact.notes[0]
    unused, _ = issue(org, owner, name="unused")
    assert preview_revoke_key(unused.organization, unused).notes == ()
    assert "never used" in preview_revoke_key(unused.organization, unused).group("keys").items[0].detail


def test_a_stricter_policy_lists_the_keys_it_newly_finds_out_of_bounds(org, owner, acme):
    forever, _ = issue(org, owner, name="forever", team_ids=[acme.platform.pk])
    soon, _ = issue(
        org, owner, name="short", team_ids=[acme.platform.pk], expires_at=timezone.now() + timedelta(days=10)
    )
    unrestricted, _ = issue(org, owner, name="wide", expires_at=timezone.now() + timedelta(days=200))
    impact = preview_key_policy(org, require_expiry=False, max_lifetime_days=90, allow_unrestricted=False)
    items = {item.ref: item.detail for item in impact.group("keys").items}
    assert set(items) == {forever.key_id, unrestricted.key_id}
    assert items[forever.key_id].endswith("never expires")
    assert "over the maximum of 90" in items[unrestricted.key_id]
    assert "not restricted" in items[unrestricted.key_id]
    assert soon.key_id not in items
    # Keys already out of bounds under the saved policy are not news.
    actions.set_key_policy(org, actor=owner, require_expiry=True, max_lifetime_days=None, allow_unrestricted=True)
    impact = preview_key_policy(org, require_expiry=True, max_lifetime_days=None, allow_unrestricted=False)
    assert [item.ref for item in impact.group("keys").items] == [unrestricted.key_id]


def test_the_revoke_confirmation_lists_the_key_and_confirming_revokes(fresh_client, org, owner):
    key, _ = issue(org, owner, name="deploy")
    client = fresh_client(owner)
    index = client.get(BASE).content.decode()
    assert f'<form method="get" action="{BASE}{key.pk}/revoke/"' in index
    page = client.get(f"{BASE}{key.pk}/revoke/", {"reason": "leaked in a log"})
    text = page.content.decode()
    assert f"Revoke API key {key.prefix}?" in text and "leaked in a log" in text
    assert "The key (1)" in text
    assert APIKey.objects.get(pk=key.pk).revoked_at is None
    csv_response = client.get(f"{BASE}{key.pk}/revoke/", {"reason": "leaked in a log", "format": "csv"})
    assert csv_names(csv_response) == [f"{key.prefix} (deploy)"]
    response = client.post(f"{BASE}{key.pk}/revoke/", {"reason": "leaked in a log", "next": ""})
    assert response.status_code == 302
    assert APIKey.objects.get(pk=key.pk).revoked_reason == "leaked in a log"


def test_the_revoke_confirmation_needs_a_reason_and_a_visible_key(fresh_client, client_for, org, owner, outsider):
    key, _ = issue(org, owner)
    assert fresh_client(owner).get(f"{BASE}{key.pk}/revoke/").status_code == 302  # back, asking for a reason
    assert client_for(outsider).get(f"{BASE}{key.pk}/revoke/", {"reason": "x"}).status_code == 404


def test_the_policy_confirmation_lists_keys_and_confirming_saves(fresh_client, client_for, org, owner, admin):
    key, _ = issue(org, owner, name="forever")
    client = fresh_client(owner)
    assert f'<form method="get" action="{BASE}policy/confirm/"' in client.get(f"{BASE}policy/").content.decode()
    data = {"require_expiry": "on", "allow_unrestricted": "on"}
    text = client.get(f"{BASE}policy/confirm/", data).content.decode()
    assert "Keys that would no longer meet the policy (1)" in text and key.prefix in text
    assert f'action="{BASE}policy/"' in text
    assert csv_names(client.get(f"{BASE}policy/confirm/", {**data, "format": "csv"})) == [f"{key.prefix} (forever)"]
    assert not KeyPolicy.objects.exists()
    assert client.post(f"{BASE}policy/", data).status_code == 302
    assert KeyPolicy.objects.get().require_expiry is True
    assert client_for(admin).get(f"{BASE}policy/confirm/", data).status_code == 403
    assert client.get(f"{BASE}policy/confirm/", {"max_lifetime_days": "0"}).status_code == 400
