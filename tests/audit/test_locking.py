"""Audited writes (audit.locking): the organization is locked first, in a mode inserts never wait for; an event whose
organization was not locked first is refused; deadlocks and serialization failures run the transaction again."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

import audit
from audit import locking
from audit.locking import LockOrderError, audited
from audit.models import AuditEvent
from audit.recorder import Actor
from keys import actions as key_actions
from orgsecurity import actions
from orgsecurity.models import Invitation, Membership, Project, Team
from orgsecurity.roles import Role
from sessions_policy.actions import update_session_policy

SYSTEM = Actor.system("tests")


def test_an_event_outside_an_audited_write_is_refused(org):
    before = AuditEvent.objects.count()
    with pytest.raises(LockOrderError, match="@audited"), transaction.atomic():
        audit.record("billing.updated", organization=org, actor=SYSTEM)
    assert AuditEvent.objects.count() == before


def test_an_event_for_an_organization_the_write_did_not_lock_first_is_refused(org, other_org):
    @audited("organization")
    def write(organization, elsewhere):
        audit.record("billing.updated", organization=elsewhere, actor=SYSTEM)

    before = AuditEvent.objects.count()
    with pytest.raises(LockOrderError, match="did not lock"):
        write(org, other_org)
    assert AuditEvent.objects.count() == before


def test_errors_that_are_not_about_concurrency_are_not_retried(org, owner):
    runs = []

    @audited("organization")
    def refuse(organization):
        runs.append(1)
        raise actions.ActionRefused("no")

    with pytest.raises(actions.ActionRefused):
        refuse(org)
    assert runs == [1]


# --- PostgreSQL: the locks themselves ----------------------------------------------------------------------------


def _locking_statements(queries) -> list[str]:
    return [
        query["sql"]
        for query in queries
        if " FOR " in query["sql"] or query["sql"].startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def _locks_an_organization_for_update(sql: str) -> bool:
    """FOR UPDATE on the organization table: named in OF, or (no OF) anywhere in the FROM clause."""
    if "FOR UPDATE" not in sql or "FOR NO KEY UPDATE" in sql:
        return False
    locked = sql.rsplit("FOR UPDATE", 1)[1]
    return '"orgsecurity_organization"' in (locked if " OF " in locked else sql)


@pytest.mark.postgres
def test_every_kind_of_audited_write_locks_its_organization_first_and_never_for_update(org, owner, admin, member):
    team = Team.objects.create(organization=org, slug="platform", name="Platform")
    project = Project.objects.create(organization=org, team=team, slug="web", name="Web app")
    key, _ = key_actions.create_api_key(org, actor=admin, name="deploy", permission="read_write")
    writes = {
        "rename a project": lambda: actions.rename_project(project, actor=owner, name="Web"),
        "invite": lambda: actions.invite_member(org, actor=owner, email="new@acme.test", role=Role.MEMBER),
        "revoke a key": lambda: key_actions.revoke_api_key(key, actor=owner, reason="test"),
        "change a role": lambda: actions.change_role(Membership.objects.get(user=admin), actor=owner, role=Role.MEMBER),
        "session policy": lambda: update_session_policy(
            org, actor=owner, idle_timeout_s=3600, absolute_timeout_s=86400, reauth_max_age_s=600, single_session=True
        ),
    }
    for name, write in writes.items():
        with CaptureQueriesContext(connection) as queries:
            write()
        statements = _locking_statements(queries)
        assert 'FROM "orgsecurity_organization"' in statements[0] and "FOR NO KEY UPDATE" in statements[0], (
            name,
            statements[:3],
        )
        assert not [sql for sql in statements if _locks_an_organization_for_update(sql)], name


def _run(function, errors: list[BaseException]) -> threading.Thread:
    def target() -> None:
        try:
            function()
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_organization_lock_does_not_hold_up_rows_that_point_at_the_organization(org):
    locked, release = threading.Event(), threading.Event()

    @audited("organization")
    def hold(organization):
        locked.set()
        release.wait(timeout=30)

    errors: list[BaseException] = []
    holder = _run(lambda: hold(org), errors)
    assert locked.wait(timeout=10)
    try:
        with transaction.atomic():
            connection.cursor().execute("SET LOCAL lock_timeout = '3s'")
            # The insert's foreign-key check takes FOR KEY SHARE on the organization row: not blocked.
            Team.objects.create(organization=org, slug="new", name="New")
    finally:
        release.set()
        holder.join(timeout=30)
    assert errors == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_deadlocked_transaction_runs_again_and_both_writes_commit_once(org):
    first = Team.objects.create(organization=org, slug="a", name="A")
    second = Team.objects.create(organization=org, slug="b", name="B")
    both_locked_one = threading.Barrier(2)
    runs: list[str] = []

    @audited(None)  # the platform log only: nothing serializes the two, so they lock the teams in opposite orders
    def rename_both(name: str, order: list[Team]):
        runs.append(name)
        Team.objects.select_for_update().get(pk=order[0].pk)
        if runs.count(name) == 1:
            both_locked_one.wait(timeout=10)
        for team in order:
            Team.objects.filter(pk=team.pk).update(name=f"{team.slug} by {name}")
        audit.record("billing.updated", organization=None, actor=Actor.system(name))

    errors: list[BaseException] = []
    threads = [
        _run(lambda: rename_both("x", [first, second]), errors),
        _run(lambda: rename_both("y", [second, first]), errors),
    ]
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(runs) in (["x", "x", "y"], ["x", "y", "y"])  # PostgreSQL aborted one; it ran again
    assert sorted(AuditEvent.objects.filter(organization=None).values_list("actor_label", flat=True)) == ["x", "y"]


def _invite_failing(organization, sqlstate: str, failures: int, runs: list[int]):
    """Invite someone (an audited action, with its email on commit) inside an @audited function whose first
    ``failures`` runs end in an error ``sqlstate`` raised by the server, as at the end of a real conflict."""

    @audited("organization")
    def invite(organization):
        runs.append(1)
        owner = organization.memberships.get().user
        invitation, _ = actions.invite_member(
            organization, actor=owner, email=f"new{len(runs)}@acme.test", role=Role.MEMBER
        )
        if len(runs) <= failures:
            connection.cursor().execute(f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{sqlstate}'; END $$")
        return invitation

    return invite(organization)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock_detected, serialization_failure
def test_a_transaction_that_fails_with_a_conflict_runs_again_and_commits_once(org, sqlstate, mailoutbox):
    runs: list[int] = []
    invitation = _invite_failing(org, sqlstate, 1, runs)
    assert len(runs) == 2
    assert list(Invitation.objects.filter(organization=org).values_list("email", flat=True)) == [invitation.email]
    assert AuditEvent.objects.filter(action="member.invited").count() == 1
    assert [message.to for message in mailoutbox] == [[invitation.email]]  # the failed run's email never went


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_transaction_runs_at_most_three_times_and_a_failed_run_leaves_nothing(org, sqlstate, mailoutbox):
    runs: list[int] = []
    with pytest.raises(OperationalError):
        _invite_failing(org, sqlstate, locking.ATTEMPTS, runs)
    assert len(runs) == locking.ATTEMPTS == 3
    assert not Invitation.objects.filter(organization=org).exists()
    assert not AuditEvent.objects.filter(action="member.invited").exists()
    assert mailoutbox == []
