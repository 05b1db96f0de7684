"""Audit export links over the admin API: the log viewer's export (its filters, CSV or JSON Lines), behind a link
signed for one key of one organization that still needs that key, expiring after 15 minutes, and audited."""

from __future__ import annotations

import csv
import io
import json

import pytest

from adminapi.routes import audit_exports
from allowlist import actions as allowlist_actions
from audit.models import ActorType, AuditEvent
from keys import actions as key_actions
from orgsecurity.models import Membership, Team
from tests.helpers.adminapi import call, error_code, scoped_key

EXPORTS = "/api/v1/orgs/acme/audit/exports"


@pytest.fixture
def reader(org, owner):
    for number in range(3):
        allowlist_actions.add_entry(org, f"192.0.2.{number}", actor=owner)
    return scoped_key(org, owner, ["audit:read"])


def path_of(url: str) -> str:
    assert url.startswith("https://testserver/api/v1/orgs/acme/audit/exports/"), url
    return url.removeprefix("https://testserver")


def download(path: str, token: str | None):
    response = call("GET", path, token)
    body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    return response, body


def test_a_csv_export_of_the_filtered_log(org, reader):
    key, token = reader
    link = call("POST", EXPORTS, token, {"format": "csv", "action": "allowlist.entries_added"})
    assert link.status_code == 201, link.content
    assert link.json()["filters"] == {"action": "allowlist.entries_added"} and link.json()["format"] == "csv"
    response, body = download(path_of(link.json()["url"]), token)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Cache-Control"] == "no-store" and ".csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["action"] for row in rows] == ["allowlist.entries_added"] * 3
    assert "192.0.2.2/32" in rows[0]["details"]  # newest first
    exported = AuditEvent.objects.get(organization=org, action="audit.exported")
    assert exported.actor_type == ActorType.API_KEY and key.prefix in exported.actor_label
    assert exported.details["format"] == "CSV"


def test_a_json_lines_export(org, reader):
    _, token = reader
    link = call(
        "POST", EXPORTS, token, {"format": "jsonl", "action": "allowlist.entries_added", "q": "192.0.2.1"}
    ).json()
    response, body = download(path_of(link["url"]), token)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in body.splitlines()]
    assert [line["details"]["added"] for line in lines] == [["192.0.2.1/32"]]


def test_bad_filters_are_400_with_fields(org, reader):
    _, token = reader
    response = call("POST", EXPORTS, token, {"action": "no.such.action", "since": "yesterday"})
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert set(response.json()["error"]["fields"]) == {"action", "since"}
    response = call("POST", EXPORTS, token, {"format": "xlsx"})
    assert response.status_code == 400 and "format" in response.json()["error"]["fields"]


def test_only_the_key_that_made_the_link_downloads_it(org, owner, admin, other_org, outsider, reader):
    _, token = reader
    path = path_of(call("POST", EXPORTS, token, {}).json()["url"])
    export_id = path.rsplit("/", 1)[1]
    # No key, another key of this organization, another organization's key (on either organization's path).
    assert error_code(download(path, None)[0]) == "missing_key"
    _, admins = scoped_key(org, admin, ["audit:read"])
    assert error_code(download(path, admins)[0]) == "not_found"
    _, theirs = scoped_key(other_org, outsider, ["audit:read"])
    assert error_code(download(path, theirs)[0]) == "not_found"
    response, _ = download(f"/api/v1/orgs/globex/audit/exports/{export_id}", theirs)
    assert response.status_code == 404 and error_code(response) == "not_found"
    # A link edited by hand is not ours.
    assert error_code(download(path[:-3] + "abc", token)[0]) == "not_found"
    assert not AuditEvent.objects.filter(action="audit.exported").exists()
    assert download(path, token)[0].status_code == 200


def test_a_link_expires_after_15_minutes(org, reader, monkeypatch):
    _, token = reader
    monkeypatch.setattr(audit_exports, "clock", lambda: 1_800_000_000.0)
    link = call("POST", EXPORTS, token, {}).json()
    assert link["expires_at"].startswith("2027-01-15T08:15:00")
    monkeypatch.setattr(audit_exports, "clock", lambda: 1_800_000_000.0 + 15 * 60)
    assert download(path_of(link["url"]), token)[0].status_code == 200
    monkeypatch.setattr(audit_exports, "clock", lambda: 1_800_000_000.0 + 15 * 60 + 1)
    response, _ = download(path_of(link["url"]), token)
    assert response.status_code == 410 and error_code(response) == "export_link_expired"


def test_exports_need_the_audit_scope_and_a_role_that_reads_the_log(org, owner, member, reader):
    _, token = reader
    path = path_of(call("POST", EXPORTS, token, {}).json()["url"])
    _, security_only = scoped_key(org, owner, ["security:read"])
    assert error_code(call("POST", EXPORTS, security_only, {})) == "scope_missing"
    team = Team.objects.create(organization=org, slug="platform", name="Platform")
    team.members.add(Membership.objects.get(user=member, organization=org))
    _, members = key_actions.create_api_key(
        org, actor=member, name="mine", permission="read", team_ids=[team.pk], scopes=["audit:read"]
    )
    assert error_code(call("POST", EXPORTS, members, {})) == "role_not_allowed"
    # The key that made the link loses the scope's role: the link stops working with it.
    key_actions.revoke_api_key(reader[0], actor=owner, reason="rotated")
    assert download(path, token)[0].status_code == 401
