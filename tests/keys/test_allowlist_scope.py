"""The organization's IP allowlist applies to its API keys when its scope covers them (issue 8 through the API)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from allowlist import actions as allowlist_actions
from audit.models import AuditEvent
from tests.helpers.keys import api_get, issue

OFFICE = "198.51.100.0/24"


def test_keys_from_outside_the_list_are_refused_only_when_the_scope_covers_keys(org, owner, acme):
    key, token = issue(org, owner, project_ids=[acme.web.pk])
    allowlist_actions.add_entries(org, OFFICE, actor=owner)
    allowlist_actions.update_settings(org, actor=owner, enabled=True, scope="dashboard", actor_ip="198.51.100.1")
    assert api_get(token, "/api/v1/whoami", REMOTE_ADDR="203.0.113.9").status_code == 200

    allowlist_actions.update_settings(org, actor=owner, enabled=True, scope="both", actor_ip="198.51.100.1")
    refused = api_get(token, "/api/v1/whoami", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ip_not_allowed"
    assert "203.0.113.9" in refused.json()["error"]["message"]
    assert api_get(token, "/api/v1/whoami", REMOTE_ADDR="198.51.100.20").status_code == 200
    event = AuditEvent.objects.get(action="allowlist.api_access_refused")
    assert event.actor_label == f"API key {key.prefix}"


def test_the_allowlist_costs_the_api_no_extra_query(org, owner, acme):
    _, token = issue(org, owner, project_ids=[acme.web.pk])
    allowlist_actions.add_entries(org, OFFICE, actor=owner)
    allowlist_actions.update_settings(org, actor=owner, enabled=True, scope="both", actor_ip="198.51.100.1")
    api_get(token, "/api/v1/whoami", REMOTE_ADDR="198.51.100.20")  # compiles the entries, writes last use
    with CaptureQueriesContext(connection) as queries:
        assert api_get(token, "/api/v1/whoami", REMOTE_ADDR="198.51.100.20").status_code == 200
    assert len(queries) == 1
