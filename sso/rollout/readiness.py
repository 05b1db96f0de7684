"""Is an organization ready to enforce SSO? The guards of enforcement and the spec's customer checklist, read-only.

Enforcement (SSO-only access) is refused, and a scheduled enforcement postponed, unless every guard holds at that
moment; ``enforcement_problems`` lists every one that does not, each with a sentence for the person and a link to
fix it. Nothing here writes; the action functions in ``sso.connections.actions`` and ``sso.rollout.scheduling``
call it under a row lock.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from orgsecurity.models import Membership, Team, User
from orgsecurity.roles import Role
from sso import protocols
from sso.models import (
    RecoveryAccount,
    RecoveryCode,
    SSOConnection,
    SSOIdentity,
    SSOPasswordException,
    SSOTestPlanItem,
    SSOTestRun,
)

# A test sign-in older than this no longer proves that the IdP still signs the admins in.
TEST_RECENCY = timedelta(days=7)
MANAGER_ROLES = (Role.OWNER, Role.ADMIN)
# The Problem code of owners and admins who would be locked out (resolved, or acknowledged by name).
LOCKOUT_CODE = "admins_locked_out"
STATUS_RANK = {
    SSOConnection.Status.OFF: 0,
    SSOConnection.Status.TESTING: 1,
    SSOConnection.Status.ON: 2,
    SSOConnection.Status.ENFORCED: 3,
}


@dataclass(frozen=True)
class Problem:
    """One reason SSO cannot be enforced yet: a stable ``code``, a sentence for the person, where to fix it."""

    code: str
    message: str
    fix_url: str = ""


@dataclass(frozen=True)
class ChecklistItem:
    """One line of the customer checklist: done or not, what we know, and where to fix it. ``attention``: not done
    because something would go wrong as things stand (e.g. an admin would be locked out), not merely unfinished."""

    key: str
    label: str
    done: bool
    detail: str
    fix_url: str
    attention: bool = False

    @property
    def state(self) -> str:
        """What the checklist shows: "done", "needs attention" or "not yet"."""
        if self.attention:
            return "needs attention"
        return "done" if self.done else "not yet"


# --- small queries shared by the guards, the pipeline and the sign-in pages ----------------------------------


def in_test_group(connection: SSOConnection, user: User) -> bool:
    """True when ``user`` is a chosen test member of ``connection`` or belongs to one of its test teams."""
    if connection.test_members.filter(user=user).exists():
        return True
    return Team.objects.filter(pk__in=connection.test_teams.values("pk"), members__user=user).exists()


def sign_in_allowed(connection: SSOConnection, user: User | None = None) -> bool:
    """Whether SSO sign-in through ``connection`` is open: to everyone when on or enforced; while testing, only
    to the test group. Without ``user`` (not known before the IdP answers) it says whether anyone may start."""
    if connection.status in {SSOConnection.Status.ON, SSOConnection.Status.ENFORCED}:
        return True
    if connection.status != SSOConnection.Status.TESTING:
        return False
    return user is None or in_test_group(connection, user)


def test_group_memberships(connection: SSOConnection):
    """Memberships in the test group: chosen members plus the members of chosen teams (a queryset)."""
    return (
        Membership.objects.active()
        .filter(
            Q(pk__in=connection.test_members.values("pk")) | Q(teams__in=connection.test_teams.all()),
            organization=connection.organization_id,
        )
        .distinct()
    )


def usable_recovery_accounts(organization: Any):
    """Recovery accounts of ``organization`` that can get someone in: an owner or admin (not suspended) with a
    password and at least one unused recovery code (a queryset)."""
    # Exists, not ``codes__used_at__isnull=True``: through the outer join, that also matched accounts with no code.
    unused = RecoveryCode.objects.filter(account=OuterRef("pk"), used_at__isnull=True)
    return (
        RecoveryAccount.objects.filter(
            organization=organization, membership__role__in=MANAGER_ROLES, membership__suspended_at__isnull=True
        )
        .filter(Exists(unused))
        .exclude(membership__user__password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .select_related("membership__user")
    )


def current_fallback_policy(connection: SSOConnection) -> dict[str, list[int]]:
    """Who keeps password sign-in when SSO is enforced: recovery accounts (with a code) and listed exceptions,
    as sorted user ids."""
    recovery = RecoveryAccount.objects.filter(organization=connection.organization_id).values_list(
        "membership__user_id", flat=True
    )
    exceptions = connection.password_exceptions.values_list("membership__user_id", flat=True)
    return {"recovery": sorted(recovery), "exceptions": sorted(exceptions)}


def fallback_policy_confirmed(connection: SSOConnection) -> bool:
    """True when an admin confirmed the fallback login policy and it has not changed since."""
    return connection.fallback_confirmed_at is not None and connection.fallback_confirmed_policy == (
        current_fallback_policy(connection)
    )


def confirmed_exception(connection: SSOConnection, membership: Membership) -> bool:
    """True when ``membership`` is a listed exception of the *confirmed* fallback login policy."""
    if not fallback_policy_confirmed(connection):
        return False
    return SSOPasswordException.objects.filter(connection=connection, membership=membership).exists()


def test_plan_status(connection: SSOConnection) -> list[tuple[str, str, SSOTestPlanItem | None]]:
    """(item, label, what was last seen or None) for each step of the test plan, in the spec's order."""
    seen = {item.item: item for item in connection.test_plan_items.select_related("seen_by", "test_run")}
    return [(value, label, seen.get(value)) for value, label in SSOTestPlanItem.Item.choices]


def _manager_ids(connection: SSOConnection) -> set[int]:
    return set(
        Membership.objects.active()
        .filter(organization=connection.organization_id, role__in=MANAGER_ROLES)
        .values_list("user_id", flat=True)
    )


def _admin_owner_ok(connection: SSOConnection) -> bool:
    return connection.admin_owner_id is not None and connection.admin_owner_id in _manager_ids(connection)


def recent_admin_test(connection: SSOConnection, *, actor: User | None, now: datetime) -> bool:
    """A successful test sign-in within TEST_RECENCY by the acting admin or the admin owner. For a scheduled
    enforcement (``actor`` None) any owner or admin counts, and so does their successful SSO sign-in."""
    since = now - TEST_RECENCY
    runs = SSOTestRun.objects.filter(connection=connection, result=SSOTestRun.Result.SUCCESS, finished_at__gte=since)
    if actor is not None:
        people = {actor.pk, connection.admin_owner_id} - {None}
        return runs.filter(actor__in=people).exists()
    managers = _manager_ids(connection)
    if runs.filter(actor__in=managers).exists():
        return True
    return SSOIdentity.objects.filter(connection=connection, user__in=managers, last_login_at__gte=since).exists()


def member_signed_in(connection: SSOConnection) -> bool:
    """At least one member besides the owners and admins signed in through SSO; from the test group when the
    rollout went through testing."""
    members = (
        Membership.objects.active().filter(organization=connection.organization_id).exclude(role__in=MANAGER_ROLES)
    )
    if connection.testing_started_at is not None:
        members = members.filter(pk__in=test_group_memberships(connection).values("pk"))
    return SSOIdentity.objects.filter(
        connection=connection, last_login_at__isnull=False, user__in=members.values("user_id")
    ).exists()


# --- the guards of enforcement ---------------------------------------------------------------------------------


def _url(name: str, connection: SSOConnection, anchor: str = "") -> str:
    slug = connection.organization.slug
    args = [slug] if name in {"sso:recovery", "sso:domains"} else [slug, connection.pk]
    return reverse(name, args=args) + (f"#{anchor}" if anchor else "")


def enforcement_problems(
    connection: SSOConnection,
    *,
    actor: User | None,
    now: datetime | None = None,
    acknowledged: Collection[int] = (),
) -> list[Problem]:
    """Every reason ``connection`` cannot be enforced right now; [] when it can.

    ``actor``: the admin enforcing it, or None for a scheduled enforcement taking effect (then any owner's or
    admin's successful test or SSO sign-in in the last 7 days counts). ``acknowledged``: user ids of owners and
    admins whose lockout the person enforcing accepted by name (``locked_out_managers``). The guards: the connection
    validates (no expired certificate, see ``sso.protocols.validation_problems``); an admin owner who is an owner or
    admin; a recent successful test sign-in; a usable recovery account, at least one of them an owner; the fallback
    login policy confirmed as it is now; a member besides the admins signed in through SSO; the test plan complete;
    no owner or admin locked out unless acknowledged (code ``admins_locked_out``).
    """
    now = now or timezone.now()
    problems = [
        Problem("invalid_connection", f"The connection does not validate: {reason}", _url("sso:connection", connection))
        for reason in protocols.validation_problems(connection)
    ]
    if not _admin_owner_ok(connection):
        problems.append(
            Problem(
                "no_admin_owner",
                "Name an admin owner (an owner or admin of the organization) responsible for testing and rollback.",
                _url("sso:connection", connection, "general"),
            )
        )
    if not recent_admin_test(connection, actor=actor, now=now):
        who = "an owner or admin" if actor is None else "you or the admin owner"
        problems.append(
            Problem(
                "no_recent_test",
                f"No successful test sign-in by {who} in the last {TEST_RECENCY.days} days. Use “Test SSO” first.",
                _url("sso:rollout", connection, "test-plan"),
            )
        )
    usable = usable_recovery_accounts(connection.organization_id)
    if not usable.exists():
        problems.append(
            Problem(
                "no_recovery_account",
                "There is no recovery account with unused recovery codes. Designate one and generate its codes.",
                _url("sso:recovery", connection),
            )
        )
    elif not usable.filter(membership__role=Role.OWNER).exists():
        problems.append(
            Problem(
                "no_owner_recovery_account",
                "No owner is a recovery account with unused recovery codes. At least one owner must be.",
                _url("sso:recovery", connection),
            )
        )
    if not fallback_policy_confirmed(connection):
        problems.append(
            Problem(
                "fallback_not_confirmed",
                "Confirm the fallback login policy (who keeps password sign-in)"
                + (" again: it changed since it was confirmed." if connection.fallback_confirmed_at else "."),
                _url("sso:rollout", connection, "fallback"),
            )
        )
    if not member_signed_in(connection):
        who = "in the test group" if connection.testing_started_at else "besides the owners and admins"
        problems.append(
            Problem(
                "no_member_sign_in",
                f"No member {who} has signed in through SSO yet.",
                _url("sso:rollout", connection, "test-group"),
            )
        )
    missing = [label.lower() for _, label, seen in test_plan_status(connection) if seen is None]
    if missing:
        problems.append(
            Problem(
                "test_plan_incomplete",
                f"The test plan is not complete: {', '.join(missing)} not seen yet.",
                _url("sso:rollout", connection, "test-plan"),
            )
        )
    stranded = [m.user.email for m in locked_out_managers(connection) if m.user_id not in set(acknowledged)]
    if stranded:
        problems.append(
            Problem(
                LOCKOUT_CODE,
                f"These owners and admins would be locked out: {', '.join(stranded)}. Each has no identity linked to "
                "this connection and keeps no password sign-in. Link each account (Link SSO, or Test SSO with a test "
                "session), make them a recovery account with codes, or acknowledge them by name when you confirm "
                "enforcement.",
                _url("sso:rollout", connection, "fallback"),
            )
        )
    return problems


def checklist(connection: SSOConnection, *, actor: User | None, now: datetime | None = None) -> list[ChecklistItem]:
    """The spec's customer checklist for ``connection``: protocol, IdP metadata, administrator ownership, fallback
    login policy, test plan."""
    now = now or timezone.now()
    handler = protocols.HANDLERS.get(connection.protocol)
    invalid = protocols.validation_problems(connection)
    owner_recovery = usable_recovery_accounts(connection.organization_id).filter(membership__role=Role.OWNER)
    plan = test_plan_status(connection)
    plan_missing = [label for _, label, seen in plan if seen is None]
    recent_test = recent_admin_test(connection, actor=actor, now=now)
    members_ok = member_signed_in(connection)
    admin_owner = connection.admin_owner.email if _admin_owner_ok(connection) else ""
    acknowledged = acknowledged_lockouts(connection)
    locked_out = locked_out_managers(connection)
    stranded = [m.user.email for m in locked_out if m.user_id not in acknowledged]
    accepted = [m.user.email for m in locked_out if m.user_id in acknowledged]
    return [
        ChecklistItem(
            "protocol",
            "Protocol",
            handler is not None,
            f"{connection.get_protocol_display()}" + ("" if handler else " is not available on this server"),
            _url("sso:connection", connection),
        ),
        ChecklistItem(
            "metadata",
            "IdP metadata",
            not invalid,
            " ".join(invalid) or "The connection validates.",
            _url("sso:connection", connection),
        ),
        ChecklistItem(
            "ownership",
            "Administrator ownership",
            bool(admin_owner) and owner_recovery.exists(),
            (f"Admin owner: {admin_owner}." if admin_owner else "No admin owner named.")
            + (
                f" Owner recovery accounts: {', '.join(a.membership.user.email for a in owner_recovery)}."
                if owner_recovery
                else " No owner is a recovery account with unused codes."
            ),
            _url("sso:connection", connection, "general") if not admin_owner else _url("sso:recovery", connection),
        ),
        ChecklistItem(
            "fallback",
            "Fallback login policy",
            fallback_policy_confirmed(connection) and not stranded,
            _fallback_detail(connection, stranded, accepted),
            _url("sso:rollout", connection, "fallback"),
            attention=bool(stranded),
        ),
        ChecklistItem(
            "test_plan",
            "Test plan",
            not plan_missing and recent_test and members_ok,
            _test_plan_detail(plan_missing, recent_test=recent_test, members_ok=members_ok),
            _url("sso:rollout", connection, "test-plan"),
        ),
    ]


def members_without_a_way_in(connection: SSOConnection):
    """Members who could not sign in to the organization once ``connection`` is enforced, as things stand: no
    identity linked to it, not a recovery account with unused codes (``usable_recovery_accounts``), not a listed
    password exception. A queryset of Membership (with ``user``), by email. Members below admin may still be linked
    on their first SSO sign-in by a verified email domain (``sso.signin``); owners and admins never are."""
    covered = set(connection.password_exceptions.values_list("membership__user_id", flat=True))
    covered |= set(usable_recovery_accounts(connection.organization_id).values_list("membership__user_id", flat=True))
    covered |= set(SSOIdentity.objects.filter(connection=connection).values_list("user_id", flat=True))
    return (
        Membership.objects.active()
        .filter(organization=connection.organization_id)
        .exclude(user_id__in=covered)
        .select_related("user")
        .order_by("user__email")
    )


def locked_out_managers(connection: SSOConnection) -> list[Membership]:
    """The owners and admins among ``members_without_a_way_in``: enforcing ``connection`` would lock them out, so it
    is refused until each is linked (Link SSO, or Test SSO with a test session), made a recovery account with codes,
    listed as an exception, or acknowledged by name on the confirmation page
    (``sso.rollout.scheduling.preview_enforcement``)."""
    return list(members_without_a_way_in(connection).filter(role__in=MANAGER_ROLES))


def lockout_acknowledgements(connection: SSOConnection, acknowledged: Collection[int]) -> list[dict[str, Any]]:
    """The owners and admins that enforcing ``connection`` would lock out and whose user id is in ``acknowledged``,
    as stored and audited: [{"user_id": 7, "email": "..."}] by email."""
    wanted = {int(pk) for pk in acknowledged}
    return [
        {"user_id": membership.user_id, "email": membership.user.email}
        for membership in locked_out_managers(connection)
        if membership.user_id in wanted
    ]


def managers_without_a_way_in(connection: SSOConnection) -> list[str]:
    """Emails of ``locked_out_managers``."""
    return [membership.user.email for membership in locked_out_managers(connection)]


def acknowledged_lockouts(connection: SSOConnection) -> set[int]:
    """User ids whose lockout was acknowledged with the scheduled enforcement of ``connection`` (none when no date)."""
    if connection.enforce_at is None:
        return set()
    return {int(entry["user_id"]) for entry in connection.enforcement_acknowledged or [] if "user_id" in entry}


def _fallback_detail(connection: SSOConnection, stranded: list[str], accepted: list[str]) -> str:
    if fallback_policy_confirmed(connection):
        who = fallback_confirmer(connection)
        detail = f"Confirmed by {who} on {connection.fallback_confirmed_at:%Y-%m-%d %H:%M} UTC."
    elif connection.fallback_confirmed_at:
        detail = "Not confirmed: it changed since it was confirmed."
    else:
        detail = "Not confirmed yet."
    if stranded:
        detail += (
            f" Needs attention: not linked to this connection and keeping no password sign-in: {', '.join(stranded)}. "
            "They cannot sign in once SSO is enforced until they link their account (Link SSO, or Test SSO with a "
            "test session), are made a recovery account or listed here; enforcement is refused until then, or until "
            "they are acknowledged by name when enforcement is confirmed."
        )
    if accepted:
        detail += f" Acknowledged by name to lose access with the scheduled enforcement: {', '.join(accepted)}."
    return detail


def fallback_confirmer(connection: SSOConnection) -> str:
    """Who confirmed ``connection``'s fallback policy, for people: the person's email, or when no person is stored
    (a service account's API key, or a deleted user) the actor of the latest ``sso.fallback_confirmed`` event as the
    audit log recorded it ("API key osk_…")."""
    if connection.fallback_confirmed_by:
        return connection.fallback_confirmed_by.email
    return _confirmed_by(connection)


def _confirmed_by(connection: SSOConnection) -> str:
    """Who confirmed the fallback policy when no person is stored (a service account's API key, or a deleted
    user): the actor of the latest ``sso.fallback_confirmed`` event of ``connection`` as the audit log recorded it."""
    label = (
        AuditEvent.objects.filter(
            organization_id=connection.organization_id, action="sso.fallback_confirmed", target_id=str(connection.pk)
        )
        .order_by("-seq")
        .values_list("actor_label", flat=True)
        .first()
    )
    return label or "(deleted user)"


def _test_plan_detail(missing: list[str], *, recent_test: bool, members_ok: bool) -> str:
    parts = [
        f"Not seen yet: {', '.join(missing)}." if missing else "Login, logout, session timeout, failed login seen."
    ]
    if not recent_test:
        parts.append(f"No successful test sign-in in the last {TEST_RECENCY.days} days.")
    if not members_ok:
        parts.append("No member sign-in through SSO yet.")
    return " ".join(parts)
