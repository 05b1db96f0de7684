"""Audited writes of different kinds, at once, in one organization (PostgreSQL: real connections, real row locks).

Each writer is a person or an API client hitting the real views in its own thread (its own database connection).
A barrier starts every round together, so their transactions overlap. Whatever the interleaving, nobody gets a 500,
every change that committed has exactly one audit event, and the organization's chain verifies.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connections
from django.test import Client

from audit.chain import verify_chain
from audit.models import AuditEvent
from keys import actions as key_actions
from keys.models import APIKey
from orgsecurity.models import Invitation, Membership, Project, Team
from orgsecurity.roles import Role
from tests.helpers.core import PASSWORD, sign_in_client

ROUNDS = 6


class Writer:
    """One thread: ``request(client, round) -> response`` once per round; every status is kept."""

    def __init__(self, name: str, client: Client, request: Callable[[Client, int], object]) -> None:
        self.name, self.client, self.request = name, client, request
        self.statuses: list[int] = []
        self.errors: list[BaseException] = []

    def run(self, start: threading.Barrier) -> None:
        try:
            for number in range(ROUNDS):
                start.wait(timeout=60)
                try:
                    self.statuses.append(self.request(self.client, number).status_code)
                except BaseException as exc:  # reported to the test thread, which asserts there were none
                    self.errors.append(exc)
        finally:
            connections.close_all()  # each thread had its own connection


def _run_together(writers: list[Writer]) -> None:
    start = threading.Barrier(len(writers))
    threads = [threading.Thread(target=writer.run, args=(start,), name=writer.name) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"


def _client(user=None) -> Client:
    client = Client(raise_request_exception=False)  # a 500 is an answer to count, not an exception
    return sign_in_client(client, user) if user is not None else client


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_audited_writers_of_every_kind_at_once_get_no_500_and_keep_one_verifying_chain(org, owner, admin, member):
    team = Team.objects.create(organization=org, slug="platform", name="Platform")
    project = Project.objects.create(organization=org, team=team, slug="web", name="Web app")
    _, owner_token = key_actions.create_api_key(
        org, actor=owner, name="deploy", permission=APIKey.Permission.READ_WRITE
    )
    # The admin's read-write keys: revoked one by one by the owner, and all at once when the admin becomes a member.
    admin_keys = [
        key_actions.create_api_key(org, actor=admin, name=f"admin {n}", permission=APIKey.Permission.READ_WRITE)[0]
        for n in range(ROUNDS)
    ]
    admin_membership = Membership.objects.get(organization=org, user=admin)
    renamed = {f"api{thread}": [f"Web app {thread}-{n}" for n in range(ROUNDS)] for thread in (1, 2)}

    def rename(names: list[str]) -> Callable[[Client, int], object]:
        return lambda client, n: client.patch(
            f"/api/v1/projects/{project.pk}/",
            json.dumps({"name": names[n]}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {owner_token}",
        )

    writers = [
        Writer("api1", _client(), rename(renamed["api1"])),
        Writer("api2", _client(), rename(renamed["api2"])),
        Writer(
            "invite",
            _client(owner),
            lambda client, n: client.post(
                "/orgs/acme/members/invite/", {"email": f"new{n}@acme.test", "role": Role.MEMBER}
            ),
        ),
        Writer(
            "sign-in",
            _client(),
            lambda client, n: _client().post(  # a new browser each time: a signed-in one is not asked again
                "/accounts/login/", {"username": member.email, "password": PASSWORD}, REMOTE_ADDR="198.51.100.7"
            ),
        ),
        Writer(
            "role",
            _client(owner),
            lambda client, n: client.post(  # confirmed: the demotion's preview (keys it revokes) is not what runs here
                f"/orgs/acme/members/{admin_membership.pk}/role/",
                {"role": Role.MEMBER if n % 2 == 0 else Role.ADMIN, "confirmed": "1"},
            ),
        ),
        Writer(
            "revoke",
            _client(owner),
            lambda client, n: client.post(
                f"/orgs/acme/settings/security/keys/{admin_keys[n].pk}/revoke/", {"reason": f"round {n}"}
            ),
        ),
    ]
    before = AuditEvent.objects.filter(organization=org).count()

    _run_together(writers)

    assert {writer.name: writer.errors for writer in writers if writer.errors} == {}
    statuses = {writer.name: writer.statuses for writer in writers}
    assert not [name for name, codes in statuses.items() if 500 in codes], statuses
    assert statuses["api1"] == statuses["api2"] == [200] * ROUNDS
    assert all(code == 302 for name, codes in statuses.items() if not name.startswith("api") for code in codes)

    events = AuditEvent.objects.filter(organization=org, seq__gt=before)
    # One event per committed change, and none for a change that did not commit.
    renames = Counter(event.changes["name"][1] for event in events.filter(action="project.renamed"))
    assert renames == Counter(name for names in renamed.values() for name in names)
    invited = Counter(event.changes["email"][1] for event in events.filter(action="member.invited"))
    assert invited == Counter(Invitation.objects.filter(organization=org).values_list("email", flat=True))
    assert invited == Counter(f"new{n}@acme.test" for n in range(ROUNDS))
    sign_ins = events.filter(action="auth.signed_in", actor_label=member.email, details__method="password")
    assert sign_ins.count() == ROUNDS
    assert events.filter(action="member.role_changed").count() == ROUNDS
    revoked = Counter(int(event.target_id) for event in events.filter(action="key.revoked"))
    assert revoked == Counter(key.pk for key in APIKey.objects.filter(owner_user=admin, revoked_at__isnull=False))
    assert set(revoked) == {key.pk for key in admin_keys}  # every round's key was revoked, by one writer or the other

    report = verify_chain(org)
    assert report.ok, report.problem
    assert report.checked == AuditEvent.objects.filter(organization=org).count()
