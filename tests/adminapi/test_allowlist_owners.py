"""The allowlist's owners guard over the admin API: a program's client IP is a server's, so the self-lockout guard
cannot protect the owners; a change leaving no owner with a recent address inside the list is refused with 409
``owners_locked_out`` by the same action the page calls, and the preview lists the owners as blocking items."""

from __future__ import annotations

import pytest

from allowlist import actions as allowlist_actions
from allowlist.models import IPAllowlist, IPAllowlistEntry
from keys import actions as key_actions
from tests.helpers.adminapi import allow_api_changes, call, error_code, scoped_key
from tests.helpers.allowlist import HOME_IP, seen_from

SETTINGS = "/api/v1/orgs/acme/allowlist"
ENTRIES = "/api/v1/orgs/acme/allowlist/entries"
SERVERS = "127.0.0.0/8"  # the test client's address: the calling program is inside, so no self-lockout
HOME = "203.0.113.0/24"


@pytest.fixture
def servers_listed(org, owner):
    """The API may change security settings; the servers' block is on the (off) list; the owner was last seen
    from home, outside it."""
    allow_api_changes(org, owner)
    allowlist_actions.add_entries(org, SERVERS, actor=owner)
    seen_from(owner, HOME_IP)


def service_key(org, owner) -> str:
    account = key_actions.create_service_account(org, actor=owner, name="terraform")
    _, token = scoped_key(org, owner, ["security:read", "security:write"], service_account=account)
    return token


def turn_on(token: str, scope: str = "dashboard"):
    etag = call("GET", SETTINGS, token)["ETag"]
    return call("PUT", SETTINGS, token, {"enabled": True, "scope": scope}, **{"If-Match": etag})


def test_a_script_cannot_lock_every_owner_out(org, owner, servers_listed):
    response = turn_on(service_key(org, owner))
    assert response.status_code == 409 and error_code(response) == "owners_locked_out"
    message = response.json()["error"]["message"]
    assert f"owner@acme.test (seen from {HOME_IP})" in message and "platform support" in message
    assert not IPAllowlist.objects.get(organization=org).enabled


def test_an_owners_own_key_does_not_count_as_the_owner_inside(org, owner, servers_listed):
    """The key's client IP is a server's, not where its owner works from."""
    _, token = scoped_key(org, owner, ["security:read", "security:write"])
    response = turn_on(token)
    assert response.status_code == 409 and error_code(response) == "owners_locked_out"


def test_it_goes_through_once_an_owner_was_seen_inside(org, owner, servers_listed):
    seen_from(owner, "127.0.0.1", days_ago=2)
    response = turn_on(service_key(org, owner), scope="both")
    assert response.status_code == 200, response.content
    assert IPAllowlist.objects.get(organization=org).guards_dashboard


def test_deleting_the_entry_that_covers_the_owners_is_refused(org, owner, servers_listed):
    allowlist_actions.add_entries(org, HOME, actor=owner)
    allowlist_actions.update_settings(org, actor=owner, actor_ip=HOME_IP, enabled=True, scope="dashboard")
    home = IPAllowlistEntry.objects.get(organization=org, cidr=HOME)
    token = service_key(org, owner)
    etag = call("GET", f"{ENTRIES}/{home.pk}", token)["ETag"]
    response = call("DELETE", f"{ENTRIES}/{home.pk}", token, **{"If-Match": etag})
    assert response.status_code == 409 and error_code(response) == "owners_locked_out"
    assert response.json()["error"]["message"].startswith("Removing this entry would lock every owner out")
    assert IPAllowlistEntry.objects.filter(pk=home.pk).exists()


def test_self_lockout_still_comes_first(org, owner, servers_listed):
    servers = IPAllowlistEntry.objects.get(organization=org, cidr=SERVERS)
    allowlist_actions.remove_entries(org, [servers.pk], actor=owner, actor_ip=None)  # the list is off: allowed
    allowlist_actions.add_entries(org, HOME, actor=owner)
    response = turn_on(service_key(org, owner))
    assert response.status_code == 409 and error_code(response) == "self_lockout"


def test_the_preview_lists_the_owners_as_blocking(org, owner, servers_listed):
    token = service_key(org, owner)
    preview = call("POST", f"{SETTINGS}/preview", token, {"enabled": True, "scope": "dashboard"})
    assert preview.status_code == 200
    owners = next(group for group in preview.json()["groups"] if group["key"] == "owners")
    assert [(item["name"], item["blocking"]) for item in owners["items"]] == [("owner@acme.test", True)]
    assert any(note.startswith("Refused: ") for note in preview.json()["notes"])
