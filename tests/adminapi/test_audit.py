"""Audit events over the admin API: the dashboard's filters, newest first, signed cursors per organization."""

from __future__ import annotations

from allowlist import actions as allowlist_actions
from tests.helpers.adminapi import call, error_code, scoped_key

EVENTS = "/api/v1/orgs/acme/audit/events"


def test_events_page_newest_first_with_cursors(org, owner):
    _, token = scoped_key(org, owner, ["audit:read"])
    for number in range(5):
        allowlist_actions.add_entry(org, f"192.0.2.{number}", actor=owner)
    first = call("GET", f"{EVENTS}?action=allowlist.entries_added&limit=2", token)
    assert first.status_code == 200, first.content
    body = first.json()
    labels = [event["details"]["added"][0] for event in body["events"]]
    assert labels == ["192.0.2.4/32", "192.0.2.3/32"]
    assert body["newer"] is None and body["older"]
    second = call("GET", f"{EVENTS}?action=allowlist.entries_added&limit=2&cursor={body['older']}", token).json()
    assert [event["details"]["added"][0] for event in second["events"]] == ["192.0.2.2/32", "192.0.2.1/32"]
    assert second["events"][0]["sentence"]


def test_bad_filters_and_cursors_are_400_with_fields(org, owner):
    _, token = scoped_key(org, owner, ["audit:read"])
    response = call("GET", f"{EVENTS}?action=no.such.action", token)
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert "action" in response.json()["error"]["fields"]
    response = call("GET", f"{EVENTS}?since=yesterday", token)
    assert response.status_code == 400 and "since" in response.json()["error"]["fields"]
    response = call("GET", f"{EVENTS}?cursor=forged", token)
    assert response.status_code == 400 and response.json()["error"]["fields"] == {"cursor": "invalid"}


def test_audit_needs_its_scope(org, owner):
    _, token = scoped_key(org, owner, ["security:read"])
    response = call("GET", EVENTS, token)
    assert response.status_code == 403 and error_code(response) == "scope_missing"


def test_another_organizations_cursor_does_not_read_this_log(org, owner, other_org, outsider):
    _, ours = scoped_key(org, owner, ["audit:read"])
    _, theirs = scoped_key(other_org, outsider, ["audit:read"])
    for number in range(3):
        allowlist_actions.add_entry(other_org, f"192.0.2.{number}", actor=outsider)
    older = call("GET", "/api/v1/orgs/globex/audit/events?limit=1", theirs).json()["older"]
    response = call("GET", f"{EVENTS}?cursor={older}", ours)
    assert response.status_code == 400
