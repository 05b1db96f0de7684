"""scim2-tester's compliance run against this server, live (pytest-django ``live_server``, real HTTP through
scim2-client's httpx2 engine): every check it makes passes, except the deliberate differences ``EXPECTED_FAILURES``
lists (the README's SCIM section says why).

Its generated users have random email domains, so this run turns on ``SCIM_ACCEPT_ANY_EMAIL_DOMAIN``, which a system
check (``scim.checks``) refuses outside the test settings."""

from __future__ import annotations

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.helpers.scim import new_token

# What scim2-tester reports as failed on purpose (README, SCIM section, "Deliberate differences"): (check title,
# resource type, words of its reason). A listed check may also pass (its attribute is picked at random).
DELIBERATE = {
    # Removing `active` leaves the user active: an absent `active` reads as true, never as a deprovisioning.
    ("check_remove_attribute", "User", "'active'"),
    # A group member's `display` is always that user's current userName, read from the user, never stored.
    ("check_add_attribute", "Group", "'members'"),
    ("check_replace_attribute", "Group", "'members'"),
}


def _deliberate(result) -> bool:
    kind = getattr(result, "resource_type", "") or ""
    return any(
        result.title == title and kind == rtype and words in (result.reason or "") for title, rtype, words in DELIBERATE
    )


@pytest.fixture
def live_token(live_server, org, connection, settings) -> str:
    settings.SCIM_ACCEPT_ANY_EMAIL_DOMAIN = True
    return new_token(org, connection)


def test_scim2_tester_finds_every_check_passing(live_server, live_token):
    http = httpx2.Client(
        base_url=f"{live_server.url}/scim/v2/acme/", headers={"Authorization": f"Bearer {live_token}"}, timeout=30
    )
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client)
    assert results, "scim2-tester ran no check"
    failures = [
        f"{result.title} [{getattr(result, 'resource_type', '')}]: {result.reason}"
        for result in results
        if result.status not in (Status.SUCCESS, Status.SKIPPED) and not _deliberate(result)
    ]
    assert failures == [], "\n".join(failures)
