"""Action functions of the SSO rollout: the test group, the fallback login policy, the test plan, scheduled
enforcement (decided by ``apply_due_enforcements``, which the worker's ``sso.apply_due_enforcements`` job runs every
minute, ``sso.tasks``),
the preview of what enforcing does (``preview_enforcement``), and the hooks other apps act on.

Each validates, writes and records its audit event in one transaction; emails go out on commit. Status moves,
including enforcement, are in ``sso.connections.actions.set_status``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

import audit
from audit.locking import audited
from audit.recorder import Actor
from keys.actions import flag_keys_for_review, keys_to_flag
from orgsecurity.actions import ActionRefused
from orgsecurity.actors import ProgramActor
from orgsecurity.impact import Impact, ImpactGroup, ImpactItem
from orgsecurity.models import Membership, Organization, Team, User
from orgsecurity.roles import Role
from sessions_policy.models import AuthMethod, UserSession
from sso.connections.actions import enforce_locked
from sso.models import SSOConnection, SSOIdentity, SSOPasswordException, SSOTestPlanItem, SSOTestRun
from sso.rollout import readiness

SCHEDULABLE = (SSOConnection.Status.TESTING, SSOConnection.Status.ON)
MAX_SCHEDULE_AHEAD = timedelta(days=366)
SCHEDULED_ACTOR_LABEL = "Scheduled SSO enforcement"


def _lock(connection: SSOConnection) -> SSOConnection:
    # Not admin_owner: a nullable (outer) join cannot be locked on PostgreSQL.
    return SSOConnection.objects.select_for_update(of=("self",)).select_related("organization").get(pk=connection.pk)


# --- hooks for other apps ----------------------------------------------------------------------------------------


def request_key_review(organization: Organization, *, actor: Any, reason: str, user: User | None = None) -> None:
    """Ask for ``organization``'s API keys to be reviewed after an identity change (spec: "Leaving old keys after
    identity changes"): records ``sso.key_review_requested`` and flags the personal keys (``user``'s, or every
    member's when None) in the same transaction, so they show up in the stale-credentials report. SSO does not
    restrict keys; this is how its identity changes reach them. This is the only place SSO asks for that.
    """
    audit.record(
        "sso.key_review_requested",
        organization=organization,
        actor=actor,
        target=user,
        details={"reason": reason, "user": user.email if user else ""},
    )
    flag_keys_for_review(organization, actor=actor, reason=reason, user=user)


def on_enforcement_started(connection: SSOConnection, actor: Any, via: str) -> None:
    """Registered in ``sso.connections.actions.ENFORCEMENT_STARTED_HOOKS``, called inside the transaction that
    enforces ``connection``: the org's keys need a review, because people who now lose dashboard access may still
    hold working API keys. Enforced at once (``via`` other than "scheduled", whose members were told when it was
    scheduled), every member is emailed on commit."""
    request_key_review(
        connection.organization,
        actor=actor,
        reason=f"SSO is now enforced for {connection.organization.name}: review keys of people without SSO access.",
    )
    if via != "scheduled":
        email_members_about_enforcement(connection, enforce_at=connection.enforced_at, started=True)


def on_identity_unlinked(linked: SSOIdentity, actor: Any) -> None:
    """Registered in ``sso.connections.actions.IDENTITY_UNLINKED_HOOKS``, called inside the transaction that
    unlinks a member's SSO identity: that person's keys need a review."""
    request_key_review(
        linked.connection.organization,
        actor=actor,
        reason=f"The SSO identity {linked.subject} of {linked.user.email} was unlinked.",
        user=linked.user,
    )


def _person(actor: Any) -> User | None:
    """The person an action's ``actor`` stands for, for the "by whom" columns the rollout page shows: a user
    themself, an admin API key's person (``orgsecurity.actors.ProgramActor.user_id``, a personal key's owner), or None
    (a service account's key, the system); the audit event records the actor itself either way."""
    if isinstance(actor, User):
        return actor
    if isinstance(actor, ProgramActor) and actor.user_id is not None:
        return User.objects.filter(pk=actor.user_id).first()
    return None


# --- test group ------------------------------------------------------------------------------------------------


@audited("connection")
def set_test_group(
    connection: SSOConnection, *, actor: User | ProgramActor, memberships: Iterable[Membership], teams: Iterable[Team]
) -> dict[str, list[Any]]:
    """Choose who may sign in through SSO while the status is testing; returns the changes ({} when none).

    Raises ActionRefused when a member or team belongs to another organization.
    """
    memberships, teams = list(memberships), list(teams)
    with transaction.atomic():
        connection = _lock(connection)
        if any(m.organization_id != connection.organization_id for m in memberships) or any(
            t.organization_id != connection.organization_id for t in teams
        ):
            raise ActionRefused("Choose members and teams of this organization.", code="bad_test_group", status=400)
        before = {
            "members": sorted(connection.test_members.values_list("user__email", flat=True)),
            "teams": sorted(connection.test_teams.values_list("name", flat=True)),
        }
        after = {"members": sorted(m.user.email for m in memberships), "teams": sorted(t.name for t in teams)}
        changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
        if changes:
            connection.test_members.set(memberships)
            connection.test_teams.set(teams)
            audit.record(
                "sso.test_group_changed",
                organization=connection.organization,
                actor=actor,
                target=connection,
                changes=changes,
            )
    return changes


# --- fallback login policy ---------------------------------------------------------------------------------------


def _policy_details(connection: SSOConnection) -> dict[str, list[str]]:
    policy = readiness.current_fallback_policy(connection)
    emails = dict(User.objects.filter(pk__in=policy["recovery"] + policy["exceptions"]).values_list("pk", "email"))
    return {key: sorted(emails[pk] for pk in ids) for key, ids in policy.items()}


@audited("connection")
def confirm_fallback_policy(connection: SSOConnection, *, actor: User | ProgramActor) -> SSOConnection:
    """Confirm who keeps password sign-in once SSO is enforced (the recovery accounts, through
    /accounts/recovery/ with a code, and the listed exceptions). The confirmation lapses when that list changes.
    ``actor``: an owner or admin, or an admin API key (``ProgramActor``: confirmed by its person, if any)."""
    with transaction.atomic():
        connection = _lock(connection)
        connection.fallback_confirmed_policy = readiness.current_fallback_policy(connection)
        connection.fallback_confirmed_at = timezone.now()
        connection.fallback_confirmed_by = _person(actor)
        connection.save(update_fields=["fallback_confirmed_policy", "fallback_confirmed_at", "fallback_confirmed_by"])
        audit.record(
            "sso.fallback_confirmed",
            organization=connection.organization,
            actor=actor,
            target=connection,
            details=_policy_details(connection),
        )
    return connection


@audited("connection")
def add_password_exception(
    connection: SSOConnection, *, actor: User | ProgramActor, membership: Membership, reason: str
) -> SSOPasswordException:
    """List ``membership`` as an exception who keeps password sign-in under enforcement (``reason`` required,
    e.g. "outside contractor, no IdP account"). It takes effect once the fallback policy is confirmed again."""
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Say why this person keeps password sign-in.", code="no_reason")
    with transaction.atomic():
        connection = _lock(connection)
        if membership.organization_id != connection.organization_id:
            raise ActionRefused("Choose a member of this organization.", code="bad_member", status=400)
        if SSOPasswordException.objects.filter(connection=connection, membership=membership).exists():
            raise ActionRefused(f"{membership.user.email} is already an exception.", code="duplicate", status=409)
        exception = SSOPasswordException.objects.create(  # unique per member; the row lock above serializes
            connection=connection, membership=membership, reason=reason[:200], created_by=_person(actor)
        )
        audit.record(
            "sso.password_exception_added",
            organization=connection.organization,
            actor=actor,
            target=exception,
            changes={"user": [None, membership.user.email]},
            details={"reason": exception.reason},
        )
    return exception


@audited("exception.connection")
def remove_password_exception(exception: SSOPasswordException, *, actor: User | ProgramActor) -> None:
    """Take password sign-in under enforcement away from a listed exception (effective at once)."""
    with transaction.atomic():
        connection = _lock(exception.connection)
        email = exception.membership.user.email
        audit.record(
            "sso.password_exception_removed",
            organization=connection.organization,
            actor=actor,
            target=exception,
            changes={"user": [email, None]},
        )
        exception.delete()


# --- test plan -------------------------------------------------------------------------------------------------


@audited("connection")
def record_test_plan_item(
    connection: SSOConnection,
    item: str,
    *,
    actor: Any,
    via: str,
    note: str = "",
    test_run: SSOTestRun | None = None,
) -> SSOTestPlanItem:
    """Record that ``item`` (login, logout, session_timeout, failed_login) was just seen (``via`` test_run) or
    confirmed by hand (``via`` ticked). Keeps the latest observation per item. Call inside a transaction or not."""
    if item not in SSOTestPlanItem.Item.values:
        raise ActionRefused(f"{item!r} is not a step of the test plan.", code="bad_item")
    user = _person(actor)
    with transaction.atomic():
        seen, _ = SSOTestPlanItem.objects.update_or_create(
            connection=connection,
            item=item,
            defaults={"seen_at": timezone.now(), "seen_by": user, "via": via, "note": note[:500], "test_run": test_run},
        )
        audit.record(
            "sso.test_plan_recorded",
            organization=connection.organization,
            actor=actor,
            target=connection,
            details={"item": item, "via": via, "note": note[:500], "test_run": test_run.pk if test_run else None},
        )
    return seen


def on_test_run_finished(run: SSOTestRun, actor: Any, success: bool, error: str) -> None:
    """Registered in ``sso.connections.actions.TEST_RUN_FINISHED_HOOKS``: a finished test run counts for the test
    plan, a success as login working, a failure as the failed-login page members would see (noted with ``error``)."""
    if run.setup_link_id is not None:
        return  # the customer's IdP admin tested through a set-up link: an org admin still tests (issue 21)
    record_test_plan_item(
        run.connection,
        SSOTestPlanItem.Item.LOGIN if success else SSOTestPlanItem.Item.FAILED_LOGIN,
        actor=actor,
        via=SSOTestPlanItem.Via.TEST_RUN,
        note="" if success else error,
        test_run=run,
    )


def tick_test_plan_item(
    connection: SSOConnection, item: str, *, actor: User | ProgramActor, note: str
) -> SSOTestPlanItem:
    """The admin owner confirms by hand that ``item`` behaves as expected, with a note saying how it was seen.
    An admin API key (``ProgramActor``) ticks only for its person (a personal key's owner): the admin owner's own key
    passes, a service account's key (no person) never does.

    Raises ActionRefused when ``actor`` is not the connection's admin owner (403 ``not_admin_owner``) or the note is
    empty (``no_note``).
    """
    if actor.pk is None or connection.admin_owner_id != actor.pk:  # no person (a service account's key): never
        owner = connection.admin_owner.email if connection.admin_owner else "the admin owner (none is named)"
        raise ActionRefused(f"Only {owner} can tick test plan steps.", code="not_admin_owner", status=403)
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Add a note saying what you saw and how.", code="no_note")
    return record_test_plan_item(connection, item, actor=actor, via=SSOTestPlanItem.Via.TICKED, note=note)


# --- scheduled enforcement -------------------------------------------------------------------------------------


# --- what enforcing does ------------------------------------------------------------------------------------------


def preview_enforcement(connection: SSOConnection) -> Impact:
    """What enforcing ``connection`` would do if it happened now (read-only), for the confirmation page and any API:

    - ``people``: members who lose password sign-in and have no identity linked to the connection (not a recovery
      account with unused codes, not a listed exception; ``sso.rollout.readiness.members_without_a_way_in``). Owners and
      admins among them are ``blocking`` (ref: their user id): enforcement is refused until each is linked, made a
      recovery account, or acknowledged by name (``sso.connections.actions.set_status(..., acknowledged=)``,
      ``schedule_enforcement(..., acknowledged=)``).
    - ``keys``: the personal API keys flagged for review (``keys.actions.keys_to_flag``; they keep working).
    - ``sessions``: signed-in sessions that end in the organization: not signed in through its IdP, not a recovery
      sign-in of one of its recovery accounts, not a listed exception's (``sso.rollout.enforcement.session_satisfies``).

    Items are ordered by email, key and session; ``Impact.change`` is "sso.enforce".
    """
    organization = connection.organization
    without = readiness.members_without_a_way_in(connection)
    people = tuple(
        ImpactItem(
            ref=str(membership.user_id),
            name=membership.user.email,
            detail=membership.get_role_display()
            + (
                ": an owner or admin, locked out"
                if membership.role in readiness.MANAGER_ROLES
                else ": signs in through the IdP from now on"
            ),
            blocking=membership.role in readiness.MANAGER_ROLES,
        )
        for membership in without
    )
    keys = tuple(
        ImpactItem(
            ref=key.key_id,
            name=key.name,
            detail=f"{key.owner_label}'s key, created {key.created_at:%Y-%m-%d}"
            + (f", last used {key.last_used_at:%Y-%m-%d}" if key.last_used_at else ", never used"),
        )
        for key in keys_to_flag(organization)
    )
    members = Membership.objects.active().filter(organization=organization)
    keeping = set(connection.password_exceptions.values_list("membership__user_id", flat=True))
    recovery_holders = set(members.filter(recovery_account__isnull=False).values_list("user_id", flat=True))
    open_sessions = (
        UserSession.objects.filter(revoked_at=None, user__in=members.values("user_id"))
        .exclude(org_revocations__organization=organization)
        .select_related("user")
        .order_by("user__email", "pk")
    )
    sso_methods = {AuthMethod.SAML, AuthMethod.OIDC}
    sessions = tuple(
        ImpactItem(
            ref=str(session.pk),
            name=session.user.email,
            detail=f"{session.get_auth_method_display()} sign-in on {session}, "
            f"since {session.authenticated_at:%Y-%m-%d %H:%M} UTC",
        )
        for session in open_sessions
        if session.user_id not in keeping
        and not (session.auth_method in sso_methods and session.organization_id == organization.pk)
        and not (
            session.auth_method == AuthMethod.RECOVERY
            and session.organization_id == organization.pk
            and session.user_id in recovery_holders
        )
    )
    return Impact(
        change="sso.enforce",
        groups=(
            ImpactGroup(
                "people",
                "People who lose password sign-in and have no linked identity",
                f"They can no longer open {organization.name} with a password. Members below admin are linked on "
                "their first SSO sign-in when the IdP vouches for an email in a verified domain; owners and admins "
                "must link first (Link SSO, or Test SSO with a test session), or be made a recovery account.",
                people,
            ),
            ImpactGroup(
                "keys",
                "API keys flagged for review",
                "Flagged keys keep working; they are listed in the stale-credentials report until revoked or marked "
                "reviewed.",
                keys,
            ),
            ImpactGroup(
                "sessions",
                "Sessions that end",
                f"Signed in without {organization.name}'s IdP: each ends at its next page in {organization.name}.",
                sessions,
            ),
        ),
        notes=("Every member is emailed that single sign-on is required, with the support contact.",),
    )


def email_members_about_enforcement(connection: SSOConnection, *, enforce_at: datetime, started: bool) -> None:
    """Email every member that SSO is required from ``enforce_at`` (UTC), with the support contact and the SSO page:
    ahead of a scheduled enforcement, or when it was enforced at once (``started``). Sent on commit; call inside the
    transaction of the change."""
    organization, recipients = connection.organization, _member_emails(connection.organization)
    context = {
        "organization": organization,
        "enforce_at": enforce_at,
        "started": started,
        "support_contact": connection.support_contact,
        "sso_url": f"{settings.PUBLIC_BASE_URL}/orgs/{organization.slug}/settings/security/sso/",
    }
    body = render_to_string("sso/email/enforcement_scheduled.txt", context)
    if started:
        subject = f"{organization.name} requires single sign-on from now on ({enforce_at:%Y-%m-%d %H:%M} UTC)"
    else:
        subject = f"{organization.name} will require single sign-on from {enforce_at:%Y-%m-%d %H:%M} UTC"
    transaction.on_commit(lambda: _send_to_each(subject, body, recipients))


def _member_emails(organization: Organization) -> list[str]:
    return list(Membership.objects.active().filter(organization=organization).values_list("user__email", flat=True))


def _owner_emails(organization: Organization) -> list[str]:
    return list(
        Membership.objects.active()
        .filter(organization=organization, role=Role.OWNER)
        .values_list("user__email", flat=True)
    )


def _send_to_each(subject: str, body: str, recipients: list[str]) -> None:
    send_mass_mail([(subject, body, None, [email]) for email in recipients], fail_silently=False)


@audited("connection")
def schedule_enforcement(
    connection: SSOConnection,
    *,
    actor: User,
    enforce_at: datetime,
    support_contact: str,
    acknowledged: Collection[int] = (),
) -> list[readiness.Problem]:
    """Set the date (UTC) SSO becomes required and tell every member by email, with the support path.

    Needs status testing or on, a date in the future (within a year) and a support contact, and every owner and
    admin it would lock out as things stand (``sso.rollout.readiness.locked_out_managers``) acknowledged by user id in
    ``acknowledged``; those acknowledgements are stored with the date and audited by email. Returns what is still
    missing today (the guards are checked again when the date comes; if they fail then, including an owner or admin
    locked out who was not acknowledged, enforcement is postponed and the owners are told why). Raises ActionRefused
    otherwise (code ``admins_locked_out`` for an unacknowledged owner or admin).
    """
    support_contact = (support_contact or "").strip()
    now = timezone.now()
    if not support_contact:
        raise ActionRefused("Say where members get help (an email address or a URL).", code="no_support_contact")
    if enforce_at <= now:
        raise ActionRefused("Choose a date and time in the future.", code="past_date")
    if enforce_at > now + MAX_SCHEDULE_AHEAD:
        raise ActionRefused("Choose a date within the next year.", code="far_date")
    with transaction.atomic():
        connection = _lock(connection)
        if connection.status not in SCHEDULABLE:
            raise ActionRefused(
                "Schedule enforcement while SSO is in testing or on.", code="bad_status_for_schedule", status=409
            )
        refuse_unacknowledged_lockouts(connection, acknowledged)
        accepted = readiness.lockout_acknowledgements(connection, acknowledged)
        old = connection.enforce_at
        connection.enforce_at = enforce_at
        connection.support_contact = support_contact[:254]
        connection.enforcement_postponed_at = None
        connection.enforcement_postponed_reasons = []
        connection.enforcement_acknowledged = accepted
        connection.save(
            update_fields=[
                "enforce_at",
                "support_contact",
                "enforcement_postponed_at",
                "enforcement_postponed_reasons",
                "enforcement_acknowledged",
                "updated_at",
            ]
        )
        audit.record(
            "sso.enforcement_scheduled",
            organization=connection.organization,
            actor=actor,
            target=connection,
            changes={"enforce_at": [old.isoformat() if old else None, enforce_at.isoformat()]},
            details={
                "support_contact": connection.support_contact,
                "acknowledged_lockouts": [entry["email"] for entry in accepted],
            },
        )
        problems = readiness.enforcement_problems(
            connection, actor=actor, now=now, acknowledged=[entry["user_id"] for entry in accepted]
        )
        email_members_about_enforcement(connection, enforce_at=enforce_at, started=False)
    return problems


def refuse_unacknowledged_lockouts(connection: SSOConnection, acknowledged: Collection[int]) -> None:
    """Raise ActionRefused (code ``admins_locked_out``, 409) naming every owner and admin that enforcing
    ``connection`` would lock out and whose user id is not in ``acknowledged``."""
    wanted = {int(pk) for pk in acknowledged}
    stranded = [m.user.email for m in readiness.locked_out_managers(connection) if m.user_id not in wanted]
    if stranded:
        raise ActionRefused(
            f"Enforcing SSO would lock out {', '.join(stranded)} (owner or admin, no linked identity, no password "
            "sign-in). Link each account, make them a recovery account, or acknowledge each by name.",
            code=readiness.LOCKOUT_CODE,
            status=409,
        )


@audited("connection")
def cancel_scheduled_enforcement(connection: SSOConnection, *, actor: Any) -> SSOConnection:
    """Drop the enforcement date (and any postponement); the status stays as it is."""
    with transaction.atomic():
        connection = _lock(connection)
        if connection.enforce_at is None:
            return connection
        old = connection.enforce_at
        _clear_schedule(connection)
        connection.save(
            update_fields=[
                "enforce_at",
                "enforcement_postponed_at",
                "enforcement_postponed_reasons",
                "enforcement_acknowledged",
                "updated_at",
            ]
        )
        audit.record(
            "sso.enforcement_unscheduled",
            organization=connection.organization,
            actor=actor,
            target=connection,
            changes={"enforce_at": [old.isoformat(), None]},
        )
    return connection


def _clear_schedule(connection: SSOConnection) -> None:
    connection.enforce_at = None
    connection.enforcement_postponed_at = None
    connection.enforcement_postponed_reasons = []
    connection.enforcement_acknowledged = []


def apply_due_enforcements(now: datetime | None = None) -> list[SSOConnection]:
    """Decide every scheduled enforcement whose time has come (``enforce_at`` at or before ``now``, default the
    current time; not postponed yet; status testing or on), as the system: enforce it when the guards still hold
    (``sso.connections.actions.enforce_locked``: audit, member emails, password sessions ended), else postpone it
    with the reasons (audited, owners emailed). Returns the connections decided by this call, as saved.

    The caller is the worker's periodic job ``sso.apply_due_enforcements`` (``sso.tasks``, every minute); no request
    path calls it. Idempotent under concurrency: each connection is decided under its row lock, and one another
    process decided first is skipped, so a lost or repeated run loses nothing. The request pipeline's checks
    (``sso.rollout.enforcement``) only read what this stored: until the worker decides, the stored status applies.
    """
    now = now or timezone.now()
    due = SSOConnection.objects.filter(
        enforce_at__lte=now, enforcement_postponed_at__isnull=True, status__in=SCHEDULABLE
    ).order_by("pk")
    decided = []
    for pk in due.values_list("pk", flat=True):
        connection = _decide_scheduled(pk, now)
        if connection is not None:
            decided.append(connection)
    return decided


@audited(lambda pk, now: SSOConnection.objects.filter(pk=pk).values_list("organization_id", flat=True))
def _decide_scheduled(pk: int, now: datetime) -> SSOConnection | None:
    """Enforce or postpone connection ``pk``'s due enforcement; the connection, or None when it was not due any
    more (another process decided first)."""
    system = Actor.system(SCHEDULED_ACTOR_LABEL)
    with transaction.atomic():
        connection = SSOConnection.objects.select_for_update(of=("self",)).select_related("organization").get(pk=pk)
        if (
            connection.enforce_at is None
            or connection.enforce_at > now
            or connection.enforcement_postponed_at is not None
            or connection.status not in SCHEDULABLE
        ):
            return None  # another process decided first
        # Acknowledged when it was scheduled; anyone locked out since is a problem, and postpones it.
        acknowledged = readiness.acknowledged_lockouts(connection)
        problems = readiness.enforcement_problems(connection, actor=None, now=now, acknowledged=acknowledged)
        accepted = readiness.lockout_acknowledgements(connection, acknowledged)
        if not problems:
            return enforce_locked(connection, actor=system, via="scheduled", acknowledged=accepted)
        reasons = [problem.message for problem in problems]
        connection.enforcement_postponed_at = now
        connection.enforcement_postponed_reasons = reasons
        connection.save(update_fields=["enforcement_postponed_at", "enforcement_postponed_reasons", "updated_at"])
        audit.record(
            "sso.enforcement_postponed",
            organization=connection.organization,
            actor=system,
            target=connection,
            details={"reasons": reasons, "enforce_at": connection.enforce_at.isoformat()},
        )
        organization = connection.organization
        context = {
            "organization": organization,
            "enforce_at": connection.enforce_at,
            "reasons": reasons,
            "rollout_url": f"{settings.PUBLIC_BASE_URL}/orgs/{organization.slug}/settings/security/sso/"
            f"{connection.pk}/rollout/",
        }
        body = render_to_string("sso/email/enforcement_postponed.txt", context)
        subject = f"SSO enforcement for {organization.name} is postponed"
        owners = _owner_emails(organization)
        transaction.on_commit(lambda: _send_to_each(subject, body, owners))
    return connection
