"""The IP allowlist over the admin API: the page's actions with the page's refusals, ETag/If-Match shared with the
page's form, Idempotency-Key on POST, and the key as the audit actor."""

from __future__ import annotations

import pytest

from allowlist import actions as allowlist_actions
from allowlist.models import IPAllowlistEntry
from audit.models import ActorType, AuditEvent
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key

SETTINGS = "/api/v1/orgs/acme/allowlist"
ENTRIES = "/api/v1/orgs/acme/allowlist/entries"


@pytest.fixture
def writer(org, owner):
    allow_api_changes(org, owner)
    return scoped_key(org, owner, ["security:read", "security:write"])


def test_add_list_read_and_delete_an_entry(org, writer):
    key, token = writer
    response = call("POST", ENTRIES, token, {"cidr": "203.0.113.0/24", "label": "office"})
    assert response.status_code == 201, response.content
    added = response.json()["added"][0]
    assert added["cidr"] == "203.0.113.0/24" and added["label"] == "office"
    listed = call("GET", ENTRIES, token).json()
    assert [entry["cidr"] for entry in listed["entries"]] == ["203.0.113.0/24"] and listed["next_after"] is None
    read = call("GET", f"{ENTRIES}/{added['id']}", token)
    assert read["ETag"] == added["etag"]
    event = AuditEvent.objects.get(organization=org, action="allowlist.entries_added")
    assert event.actor_type == ActorType.API_KEY and key.prefix in event.actor_label
    response = call("DELETE", f"{ENTRIES}/{added['id']}", token, **{"If-Match": added["etag"]})
    assert response.status_code == 204
    assert not IPAllowlistEntry.objects.filter(organization=org).exists()
    assert AuditEvent.objects.filter(organization=org, action="allowlist.entries_removed").exists()


def test_bulk_paste_refuses_bad_lines_with_their_numbers(org, writer):
    _, token = writer
    response = call("POST", f"{ENTRIES}/bulk", token, {"text": "10.0.0.0/8 # vpn\nnot-an-ip\n"})
    assert response.status_code == 400 and error_code(response) == "invalid_entries"
    assert response.json()["error"]["lines"][0]["line"] == 2
    assert not IPAllowlistEntry.objects.filter(organization=org).exists()
    response = call("POST", f"{ENTRIES}/bulk", token, {"text": "10.0.0.0/8 # vpn\n192.0.2.1\n"})
    assert response.status_code == 201 and len(response.json()["added"]) == 2


def test_the_pages_refusals_apply_with_their_codes(org, writer):
    _, token = writer
    call("POST", ENTRIES, token, {"cidr": "203.0.113.0/24"})
    duplicate = call("POST", ENTRIES, token, {"cidr": "203.0.113.0/24"})
    assert duplicate.status_code == 400 and error_code(duplicate) == "duplicate_entry"
    etag = call("GET", SETTINGS, token)["ETag"]
    # The test client's 127.0.0.1 is not on the list: guarding dashboard pages would lock the caller out.
    lockout = call("PUT", SETTINGS, token, {"enabled": True, "scope": "dashboard"}, **{"If-Match": etag})
    assert lockout.status_code == 409 and error_code(lockout) == "self_lockout"


def test_writes_need_if_match_and_a_current_etag(org, owner, writer):
    _, token = writer
    body = {"enabled": False, "scope": "both"}
    missing = call("PUT", SETTINGS, token, body)
    assert missing.status_code == 428 and error_code(missing) == "precondition_required"
    etag = call("GET", SETTINGS, token)["ETag"]
    # Someone changes the settings on the page meanwhile (same action, same version).
    allowlist_actions.update_settings(org, actor=owner, actor_ip="127.0.0.1", enabled=False, scope="api")
    stale = call("PUT", SETTINGS, token, body, **{"If-Match": etag})
    assert stale.status_code == 412 and error_code(stale) == "precondition_failed"
    fresh = call("GET", SETTINGS, token)["ETag"]
    assert fresh != etag
    done = call("PUT", SETTINGS, token, body, **{"If-Match": fresh})
    assert done.status_code == 200 and done["ETag"] != fresh and done.json()["scope"] == "both"


def test_the_etag_is_the_version_the_page_form_carries(org, writer):
    from orgsecurity.versions import version_of

    _, token = writer
    etag = call("GET", SETTINGS, token)["ETag"]
    assert etag == f'"{version_of(allowlist_actions.settings_values(org))}"'


def test_a_retried_post_with_the_same_idempotency_key_adds_once(org, writer):
    _, token = writer
    body = {"cidr": "198.51.100.0/24", "label": "ci"}
    first = call("POST", ENTRIES, token, body, **{"Idempotency-Key": "run-42"})
    again = call("POST", ENTRIES, token, body, **{"Idempotency-Key": "run-42"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert IPAllowlistEntry.objects.filter(organization=org).count() == 1
    other = call("POST", ENTRIES, token, {"cidr": "192.0.2.0/24"}, **{"Idempotency-Key": "run-42"})
    assert other.status_code == 422 and error_code(other) == "idempotency_key_reused"


def test_a_failed_post_is_not_remembered(org, writer):
    _, token = writer
    bad = call("POST", ENTRIES, token, {"cidr": "nope"}, **{"Idempotency-Key": "k1"})
    assert bad.status_code == 400 and error_code(bad) == "invalid_entry"
    fixed = call("POST", ENTRIES, token, {"cidr": "nope"}, **{"Idempotency-Key": "k1"})
    assert fixed.status_code == 400


def test_another_organizations_entry_is_a_404(org, other_org, outsider, writer):
    _, token = writer
    theirs = allowlist_actions.add_entry(other_org, "192.0.2.0/24", actor=outsider).added[0]
    response = call("GET", f"{ENTRIES}/{theirs.pk}", token)
    assert response.status_code == 404 and error_code(response) == "not_found"
    response = call("DELETE", f"{ENTRIES}/{theirs.pk}", token, **{"If-Match": "*"})
    assert response.status_code == 404
    assert IPAllowlistEntry.objects.filter(pk=theirs.pk).exists()


def test_read_only_scope_cannot_write(org, owner):
    allow_api_changes(org, owner)
    _, token = scoped_key(org, owner, ["security:read"])
    response = call("POST", ENTRIES, token, {"cidr": "192.0.2.0/24"})
    assert response.status_code == 403 and error_code(response) == "scope_missing"
