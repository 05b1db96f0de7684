"""Action functions for SSO connections: create, configure, change status, link identities, record tests.

Each validates, writes and records its audit event in one transaction (see CONTRIBUTING.md). Protocol-specific
configuration (SAML metadata and certificates, OIDC issuer and client) lives in the protocol packages and uses
``record_connection_change`` for its audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

import audit
from audit.locking import audited
from audit.models import ActorType
from audit.recorder import Actor, record_throttled
from orgsecurity.actions import ActionRefused
from orgsecurity.actors import ProgramActor
from orgsecurity.models import Membership, Organization, User
from orgsecurity.roles import Role, roles_assignable_by
from sso.assertion import AssertedIdentity, map_profile
from sso.domains.verification import canonical_email
from sso.errors import SSOSignInRefused
from sso.models import PENDING_TTL, SSOConnection, SSOIdentity, SSOPendingLink, SSOTestRun
from sso.rollout import readiness
from sso.signin import linking

# Moves allowed between statuses: off ↔ testing ↔ on, testing or on → enforced (guarded: see
# sso.rollout.readiness.enforcement_problems), and from any status back to a lower one (rollback).
ALLOWED_MOVES: dict[str, set[str]] = {
    SSOConnection.Status.OFF: {SSOConnection.Status.TESTING},
    SSOConnection.Status.TESTING: {SSOConnection.Status.OFF, SSOConnection.Status.ON, SSOConnection.Status.ENFORCED},
    SSOConnection.Status.ON: {SSOConnection.Status.OFF, SSOConnection.Status.TESTING, SSOConnection.Status.ENFORCED},
    SSOConnection.Status.ENFORCED: {SSOConnection.Status.OFF, SSOConnection.Status.ON, SSOConnection.Status.TESTING},
}
# Rollout reacts to what these actions do through hooks that ``SsoConfig.ready`` registers (``sso.rollout.scheduling``):
# each is called inside the action's transaction, so rollout depends on the actions and never the reverse.
# hook(connection, actor, via) once a connection is enforced (``enforce_locked``).
ENFORCEMENT_STARTED_HOOKS: list[Callable[[SSOConnection, Any, str], None]] = []
# hook(linked, actor) before a linked identity is deleted (``unlink_identity``).
IDENTITY_UNLINKED_HOOKS: list[Callable[[SSOIdentity, Any], None]] = []
# hook(run, actor, success, error) once a test run's result is stored (``finish_test_run``).
TEST_RUN_FINISHED_HOOKS: list[Callable[[SSOTestRun, Any, bool, str], None]] = []

ROLLBACK_TARGETS = (SSOConnection.Status.TESTING, SSOConnection.Status.OFF)
GENERAL_FIELDS = (
    "name",
    "admin_owner",
    "attribute_map",
    "allow_jit",
    "jit_default_role",
    "require_idp_mfa",
    "idp_mfa_attribute",
    "idp_mfa_values",
)


def _snapshot(connection: SSOConnection, fields: tuple[str, ...]) -> dict[str, Any]:
    values = {}
    for name in fields:
        value = getattr(connection, name)
        values[name] = value.email if isinstance(value, User) else value
    return values


# The IdP settings that decide who may assert identities through a connection: SAML's entity ID, certificates and
# endpoints; OIDC's issuer (its keys and endpoints come from the issuer's own discovery document).
IDP_TRUST_FIELDS = frozenset({"idp_entity_id", "idp_certificates", "idp_sso_url", "metadata_url", "issuer"})


def refuse_idp_change_over_owners(connection: SSOConnection, *, actor: Any, changed: set[str]) -> None:
    """Raise ActionRefused when ``actor``, a person who is not an owner, changes ``changed`` fields that include
    the IdP's trust (``IDP_TRUST_FIELDS``) on a connection an owner signs in through.

    With the IdP's entity ID, certificates or endpoints, whoever sets them decides which answers are accepted for
    every identity linked to the connection, so an admin could otherwise sign in as an owner by trusting an IdP of
    their own making. An admin API key (``orgsecurity.actions.ProgramActor``) is judged by the role it acts with
    (a service account's key acts as admin). System actors (management commands run by the operator) pass.
    """
    if not changed & IDP_TRUST_FIELDS:
        return
    if isinstance(actor, ProgramActor):  # an admin API key: judged by the role it acts with, as a person would be
        is_owner = actor.role == Role.OWNER
    elif isinstance(actor, User):
        memberships = Membership.objects.active().filter(organization_id=connection.organization_id, user=actor)
        is_owner = memberships.filter(role=Role.OWNER).exists()
    else:
        return
    if is_owner:
        return
    owners = Membership.objects.active().filter(organization_id=connection.organization_id, role=Role.OWNER)
    if SSOIdentity.objects.filter(connection=connection, user__in=owners.values("user")).exists():
        raise ActionRefused(
            "An owner signs in through this connection, so only an owner can change which IdP it trusts "
            "(a SAML entity ID, certificate, sign-in or metadata URL; an OIDC issuer). Nothing was changed.",
            code="owner_required",
            status=403,
        )


def record_connection_change(
    connection: SSOConnection, *, actor: Any, changes: dict[str, list[Any]], details: dict[str, Any] | None = None
) -> None:
    """Record ``sso.connection_updated`` for changes already written (call inside the same transaction)."""
    if changes:
        audit.record(
            "sso.connection_updated",
            organization=connection.organization,
            actor=actor,
            target=connection,
            changes=changes,
            details=details or {},
        )


@audited("organization")
def create_connection(
    organization: Organization, *, actor: User, protocol: str, name: str = "", **fields: Any
) -> SSOConnection:
    """Create a connection (status off) with ``actor`` as its admin owner unless another is given."""
    if protocol not in SSOConnection.Protocol.values:
        raise ActionRefused(f"{protocol!r} is not a supported protocol.", code="bad_protocol")
    with transaction.atomic():
        connection = SSOConnection(
            organization=organization, protocol=protocol, name=name, admin_owner=fields.pop("admin_owner", actor)
        )
        for key, value in fields.items():
            setattr(connection, key, value)
        connection.full_clean(exclude=["organization"])
        connection.save()
        audit.record(
            "sso.connection_created",
            organization=organization,
            actor=actor,
            target=connection,
            changes={"protocol": [None, protocol], "name": [None, name], "status": [None, connection.status]},
        )
    return connection


@audited("connection")
def update_connection(connection: SSOConnection, *, actor: User, **values: Any) -> dict[str, list[Any]]:
    """Change general settings (name, admin owner, attribute map, JIT provisioning); returns the changes."""
    unknown = set(values) - set(GENERAL_FIELDS)
    if unknown:
        raise ActionRefused(f"Unknown connection settings: {', '.join(sorted(unknown))}.", code="bad_field")
    with transaction.atomic():
        connection = SSOConnection.objects.select_for_update().get(pk=connection.pk)
        owner = values.get("admin_owner")
        if (
            owner is not None
            and not Membership.objects.active()
            .filter(organization=connection.organization, user=owner, role__in=[Role.OWNER, Role.ADMIN])
            .exists()
        ):
            raise ActionRefused("The admin owner must be an owner or admin of this organization.", code="bad_owner")
        before = _snapshot(connection, GENERAL_FIELDS)
        for key, value in values.items():
            setattr(connection, key, value)
        connection.full_clean(exclude=["organization"])
        after = _snapshot(connection, GENERAL_FIELDS)
        changes = {key: [before[key], after[key]] for key in values if before[key] != after[key]}
        if changes:
            connection.save()
            record_connection_change(connection, actor=actor, changes=changes)
    return changes


class EnforcementRefused(ActionRefused):
    """Enforcement was refused; ``problems`` lists every guard that does not hold (sso.rollout.readiness.Problem).

    ``code``: ``admins_locked_out`` when the only reason is owners or admins who would be locked out and were not
    acknowledged (``sso.rollout.readiness.LOCKOUT_CODE``), otherwise ``not_ready``.
    """

    def __init__(self, problems: list[readiness.Problem]) -> None:
        only_lockouts = all(problem.code == readiness.LOCKOUT_CODE for problem in problems)
        super().__init__(
            "SSO cannot be enforced yet: " + " ".join(problem.message for problem in problems),
            code=readiness.LOCKOUT_CODE if only_lockouts else "not_ready",
            status=409,
        )
        self.problems = problems


def set_status(
    connection: SSOConnection,
    *,
    actor: User,
    status: str,
    acknowledged: Collection[int] = (),
    support_contact: str | None = None,
) -> SSOConnection:
    """Move the connection to ``status`` when that move is allowed; raises ActionRefused with the reason.

    Moving to enforced checks every guard at this moment and raises EnforcementRefused listing all that fail,
    among them every owner and admin it would lock out (``sso.rollout.readiness.locked_out_managers``) whose user
    id is not in ``acknowledged``; the acknowledged ones are audited by email with the status change. Members are
    emailed (as for a scheduled enforcement) once it commits. See ``sso.rollout.scheduling.preview_enforcement``
    for what it does.
    ``support_contact`` (an email address or URL, given when enforcing) replaces the one members are told.
    Moving down (rollback) ends any scheduled enforcement.
    """
    if status not in SSOConnection.Status.values:
        raise ActionRefused(f"{status!r} is not an SSO status.", code="bad_status")
    try:
        connection = _change_status(
            connection, actor=actor, status=status, acknowledged=acknowledged, support_contact=support_contact
        )
    except EnforcementRefused as exc:
        # Recorded after the rollback above, so the refusal is in the log even though nothing changed.
        record_throttled(
            "sso.enforcement_refused",
            throttle_key=f"{connection.pk}:{getattr(actor, 'pk', '')}",
            organization=connection.organization,
            actor=actor,
            target=connection,
            details={"reasons": [problem.code for problem in exc.problems]},
        )
        raise
    return connection


@audited("connection")
def _change_status(
    connection: SSOConnection,
    *,
    actor: User,
    status: str,
    acknowledged: Collection[int],
    support_contact: str | None,
) -> SSOConnection:
    """``set_status`` in its own audited transaction (an EnforcementRefused rolls it back before it is recorded)."""
    with transaction.atomic():
        connection = (
            SSOConnection.objects.select_for_update(of=("self",)).select_related("organization").get(pk=connection.pk)
        )
        old = connection.status
        if status == old:
            return connection
        if status not in ALLOWED_MOVES.get(old, set()):
            raise ActionRefused(
                f"SSO cannot go from {connection.get_status_display()} to {SSOConnection.Status(status).label}."
                + (" Go through testing first." if old == SSOConnection.Status.OFF else ""),
                code="bad_move",
                status=409,
            )
        if status == SSOConnection.Status.ENFORCED:
            problems = readiness.enforcement_problems(connection, actor=actor, acknowledged=acknowledged)
            if problems:
                raise EnforcementRefused(problems)
            accepted = readiness.lockout_acknowledgements(connection, acknowledged)
            if support_contact is not None:
                connection.support_contact = support_contact.strip()[:254]
            return enforce_locked(connection, actor=actor, via="manual", acknowledged=accepted)
        _move(connection, actor=actor, status=status)
    return connection


def rollback(connection: SSOConnection, *, actor: User, to: str = SSOConnection.Status.TESTING) -> SSOConnection:
    """Roll SSO back to testing or off in one step (from on or enforced): password sign-in works again for everyone
    and any scheduled enforcement is dropped. Raises ActionRefused for another target or when already there."""
    if to not in ROLLBACK_TARGETS:
        raise ActionRefused("Roll back to testing or off.", code="bad_rollback", status=400)
    if readiness.STATUS_RANK[to] >= readiness.STATUS_RANK[SSOConnection.objects.get(pk=connection.pk).status]:
        raise ActionRefused(
            f"SSO is not above {SSOConnection.Status(to).label}, so there is nothing to roll back.",
            code="nothing_to_roll_back",
            status=409,
        )
    return set_status(connection, actor=actor, status=to)


def _move(
    connection: SSOConnection, *, actor: Any, status: str, via: str = "manual", details: dict[str, Any] | None = None
) -> None:
    """Write a status change on a locked connection and audit it (inside the caller's transaction); ``details``
    are added to the event's."""
    old = connection.status
    rolled_back = readiness.STATUS_RANK[status] < readiness.STATUS_RANK[old]
    connection.status = status
    now = timezone.now()
    if status == SSOConnection.Status.TESTING:
        connection.testing_started_at = now
    if status == SSOConnection.Status.ENFORCED:
        connection.enforced_at = now
    elif old == SSOConnection.Status.ENFORCED:
        connection.enforced_at = None
    if rolled_back or status in (SSOConnection.Status.OFF, SSOConnection.Status.ENFORCED):
        connection.enforce_at = None
        connection.enforcement_postponed_at = None
        connection.enforcement_postponed_reasons = []
        connection.enforcement_acknowledged = []
    connection.save()
    audit.record(
        "sso.status_changed",
        organization=connection.organization,
        actor=actor,
        target=connection,
        changes={"status": [old, status]},
        details={"via": via, "rollback": rolled_back, **(details or {})},
    )


def enforce_locked(
    connection: SSOConnection, *, actor: Any, via: str, acknowledged: list[dict[str, Any]] | None = None
) -> SSOConnection:
    """Enforce a connection already locked and checked by the caller (``set_status`` or the scheduled
    enforcement), in the caller's transaction; runs ``ENFORCEMENT_STARTED_HOOKS``.

    ``acknowledged``: the owners and admins accepted to be locked out ([{"user_id", "email"}]), audited by email
    (``acknowledged_lockouts``). Enforced at once (``via`` other than "scheduled", whose members were told when it
    was scheduled), every member is emailed on commit, as for a scheduled enforcement.
    """
    _move(
        connection,
        actor=actor,
        status=SSOConnection.Status.ENFORCED,
        via=via,
        details={
            "acknowledged_lockouts": [entry["email"] for entry in acknowledged or []],
            "support_contact": connection.support_contact,
        },
    )
    for hook in ENFORCEMENT_STARTED_HOOKS:
        hook(connection, actor, via)
    return connection


def link_identity(
    connection: SSOConnection,
    user: User,
    identity: AssertedIdentity,
    *,
    actor: Any,
    via: str,
    confirmed_email: str | None = None,
) -> SSOIdentity:
    """Link ``user`` to the IdP identity (issuer, subject format, subject) at ``connection``, and audit it
    (``sso.identity_linked``) with both emails: the account's and the one the IdP asserted (mapped with the
    connection's attribute map; kept on the link as ``asserted_email``).

    The asserted email must be the account's (``sso.signin.linking.compare_emails``) unless the person confirmed linking
    it anyway: ``confirmed_email`` is the asserted email they were shown ('' for none). Raises
    ``sso.errors.SSOSignInRefused`` when the identity is linked to someone else (``linked_to_other``), the user
    already has a different identity at this connection (``already_linked``), the asserted email is another
    member's (``email_of_other_member``, even when confirmed; see ``refuse_link``), differs from the account's
    without a confirmation (``email_not_confirmed``, 409) or from the one confirmed (``email_changed``, 409).
    """
    existing = SSOIdentity.objects.filter(
        connection=connection,
        issuer=identity.issuer,
        subject_format=identity.subject_format,
        subject=identity.subject,
    ).first()
    if existing is not None:
        if existing.user_id == user.pk:
            return existing
        raise SSOSignInRefused(
            "This IdP account is already linked to another person here. Ask an admin of your organization.",
            code="linked_to_other",
        )
    if SSOIdentity.objects.filter(connection=connection, user=user).exists():
        raise SSOSignInRefused(
            "Your account is already linked to a different IdP account. Unlink it first on the SSO page.",
            code="already_linked",
            status=409,
        )
    asserted = map_profile(identity, connection.attribute_map).email
    emails = linking.compare_emails(connection, user, asserted)
    if emails.verdict == linking.OTHER_MEMBER:
        raise refuse_link(connection, user, identity, emails, actor=actor, via=via)
    if emails.verdict == linking.DIFFERENT and confirmed_email is None:
        raise SSOSignInRefused(
            f"The IdP signed in {emails.asserted_label}, not {user.email}. Nothing was linked: confirm the link on "
            "the page that shows both emails.",
            code="email_not_confirmed",
            status=409,
        )
    if emails.verdict == linking.DIFFERENT and canonical_email(confirmed_email or "") != canonical_email(asserted):
        raise SSOSignInRefused(
            "The email the IdP sent is no longer the one you confirmed (the attribute mapping changed). Nothing was "
            "linked: link your account again.",
            code="email_changed",
            status=409,
        )
    return _write_link(connection, user, identity, actor=actor, via=via, asserted=asserted, emails=emails)


@audited("connection")
def _write_link(
    connection: SSOConnection,
    user: User,
    identity: AssertedIdentity,
    *,
    actor: Any,
    via: str,
    asserted: str,
    emails: linking.LinkEmails,
) -> SSOIdentity:
    """The write of ``link_identity``, in its own audited transaction (its refusals above are recorded outside it, so
    a refusal's audit event is not rolled back with it)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                linked = SSOIdentity.objects.create(
                    connection=connection,
                    user=user,
                    issuer=identity.issuer,
                    subject_format=identity.subject_format,
                    subject=identity.subject,
                    asserted_email=asserted,
                    asserted_email_at=timezone.now(),
                    last_login_at=timezone.now() if via not in NOT_A_SIGN_IN else None,
                )
        except IntegrityError:
            raise SSOSignInRefused("This IdP account was just linked by another sign-in.", code="race") from None
        audit.record(
            "sso.identity_linked",
            organization=connection.organization,
            actor=actor,
            target=linked,
            changes={"user": [None, user.email], "subject": [None, identity.subject]},
            details={
                "via": via,
                "subject_format": identity.subject_format,
                "issuer": identity.issuer,
                "account_email": user.email,
                "asserted_email": asserted,
                "email_confirmed": emails.verdict == linking.DIFFERENT,
            },
        )
    return linked


# Ways of linking that do not mean the person signed in through SSO (so the link has no last sign-in yet).
NOT_A_SIGN_IN = frozenset({"test", "test, confirmed"})


def refuse_link(
    connection: SSOConnection,
    user: User,
    identity: AssertedIdentity,
    emails: linking.LinkEmails,
    *,
    actor: Any,
    via: str,
) -> Exception:
    """Audit (``sso.identity_link_refused``, throttled per person and IdP subject) that an identity asserting
    another member's email was not linked to ``user``, and return the ``sso.errors.SSOSignInRefused`` to raise.
    Call it outside a transaction that the refusal rolls back, or the audit event goes with it."""
    record_throttled(
        "sso.identity_link_refused",
        throttle_key=f"{connection.pk}:{user.pk}:{identity.subject}",
        organization=connection.organization,
        actor=actor,
        target=connection,
        details={
            "via": via,
            "subject": identity.subject,
            "account_email": emails.account,
            "asserted_email": emails.asserted,
            "reason": "email_of_other_member",
        },
    )
    return SSOSignInRefused(
        f"The IdP signed in {emails.asserted}, who is another member of {connection.organization.name}, not you "
        f"({emails.account}). Their IdP account cannot be linked to yours. Sign out at the IdP, then try again and "
        "sign in there as yourself.",
        code="email_of_other_member",
    )


def _resolved_held_link(held: SSOPendingLink, actor: User) -> SSOPendingLink:
    """Lock ``held`` and check that ``actor`` may still answer it; raises ActionRefused otherwise."""
    locked = (
        SSOPendingLink.objects.select_for_update(of=("self",))
        .select_related("connection__organization", "user", "test_run")
        .get(pk=held.pk)
    )
    if locked.user_id != actor.pk:
        raise ActionRefused("This link is waiting for someone else's answer.", code="not_yours", status=404)
    if not linking.is_open(locked):
        raise ActionRefused(
            "This confirmation was already answered or has expired. Nothing more was linked; start again.",
            code="link_gone",
            status=410,
        )
    return locked


def confirm_held_link(held: SSOPendingLink, *, actor: User) -> SSOIdentity:
    """Link a held identity (``sso.signin.linking.hold_link``) after ``actor``, whose account it is, confirmed that the
    IdP's email may differ from the account's: once, before it expires. Raises ActionRefused when it was
    answered already, expired or is someone else's; ``sso.errors.SSOSignInRefused`` as ``link_identity`` does.
    A refusal is kept on the held link (outcome refused), so it cannot be retried."""
    identity = AssertedIdentity.from_dict(held.identity)
    via = "test, confirmed" if held.test_run_id else "confirmed link, email confirmed"
    try:
        emails = linking.compare_emails(held.connection, actor, held.asserted_email)
        if emails.verdict == linking.OTHER_MEMBER:  # they joined meanwhile: refused, and audited outside the rollback
            raise refuse_link(held.connection, actor, identity, emails, actor=actor, via=via)
        linked = _link_held(held, actor=actor, identity=identity, via=via)
    except SSOSignInRefused:
        SSOPendingLink.objects.filter(pk=held.pk, resolved_at=None).update(
            resolved_at=timezone.now(), outcome=SSOPendingLink.Outcome.REFUSED
        )
        raise
    return linked


@audited("held.connection")
def _link_held(held: SSOPendingLink, *, actor: User, identity: AssertedIdentity, via: str) -> SSOIdentity:
    """Lock the held link, link it and mark it confirmed, in one audited transaction (``confirm_held_link``)."""
    locked = _resolved_held_link(held, actor)
    linked = link_identity(
        locked.connection, actor, identity, actor=actor, via=via, confirmed_email=locked.asserted_email
    )
    locked.resolved_at, locked.outcome = timezone.now(), SSOPendingLink.Outcome.CONFIRMED
    locked.save(update_fields=["resolved_at", "outcome"])
    return linked


@audited("held.connection")
def decline_held_link(held: SSOPendingLink, *, actor: User) -> None:
    """``actor`` declined linking a held identity: nothing is linked, and that is audited with both emails.
    Raises ActionRefused when it was answered already, expired or is someone else's."""
    with transaction.atomic():
        locked = _resolved_held_link(held, actor)
        locked.resolved_at, locked.outcome = timezone.now(), SSOPendingLink.Outcome.DECLINED
        locked.save(update_fields=["resolved_at", "outcome"])
        audit.record(
            "sso.identity_link_declined",
            organization=locked.connection.organization,
            actor=actor,
            target=locked.connection,
            details={"subject": locked.subject, "account_email": actor.email, "asserted_email": locked.asserted_email},
        )


@audited("linked.connection")
def unlink_identity(linked: SSOIdentity, *, actor: User) -> None:
    """Remove a link between a person and their IdP identity (they sign in with a password or link again).
    Their organization's API keys are flagged for review (``IDENTITY_UNLINKED_HOOKS``: rollout's key review)."""
    with transaction.atomic():
        connection = linked.connection
        if linked.user_id != actor.pk:
            # Admins manage everyone but owners: unlinking owners would also lift the rule that only an owner changes
            # the IdP an owner signs in through (``refuse_idp_change_over_owners``).
            roles = dict(
                Membership.objects.active()
                .filter(organization_id=connection.organization_id, user_id__in=[actor.pk, linked.user_id])
                .values_list("user_id", "role")
            )
            if roles.get(linked.user_id) not in roles_assignable_by(roles.get(actor.pk, "")):
                raise ActionRefused(
                    "Only owners can unlink an owner's SSO identity.", code="role_not_allowed", status=403
                )
        for hook in IDENTITY_UNLINKED_HOOKS:
            hook(linked, actor)
        audit.record(
            "sso.identity_unlinked",
            organization=connection.organization,
            actor=actor,
            target=linked,
            changes={"user": [linked.user.email, None], "subject": [linked.subject, None]},
        )
        linked.delete()


MAX_TEST_SESSION_SECONDS = 3600


@audited("connection")
def start_test_run(
    connection: SSOConnection,
    *,
    actor: User | None,
    session_seconds: int = 0,
    setup_link: Any = None,
    requested_by: Any = None,
) -> SSOTestRun:
    """Create a pending test run; the protocol then sends the admin to the IdP.

    ``session_seconds`` > 0 asks for a real SSO sign-in with a session that short, so logout and the session
    timeout (and signing in again) can be seen as members would see them; 0 only checks the IdP's answer.
    ``setup_link`` (an ``sso.models.SSOSetupLink``, with ``actor`` None): the customer's IdP admin tests through
    that link; the run has no actor and no session, and is audited with the link as actor.
    ``requested_by`` (an admin API key's ``orgsecurity.actions.ProgramActor``, with ``actor`` None): a program
    asked for the run; it waits for an owner or admin to open it (``claim_test_run``), who becomes its actor and
    signs in at the IdP, and is audited with the program as actor.
    """
    if not 0 <= session_seconds <= MAX_TEST_SESSION_SECONDS:
        raise ActionRefused("A test session lasts at most an hour.", code="bad_session_seconds")
    if setup_link is not None and (actor is not None or session_seconds):
        raise ActionRefused("A set-up link's test has no person and no session.", code="bad_setup_test")
    if requested_by is not None and (actor is not None or setup_link is not None):
        raise ActionRefused("A program's test run waits for the person who opens it.", code="bad_requested_test")
    with transaction.atomic():
        run = SSOTestRun.objects.create(
            connection=connection, actor=actor, session_seconds=session_seconds, setup_link=setup_link
        )
        audit.record(
            "sso.test_started",
            organization=connection.organization,
            actor=requested_by if requested_by is not None else test_run_actor(run),
            target=connection,
            details={"session_seconds": session_seconds},
        )
    return run


def awaits_tester(run: SSOTestRun, now: Any = None) -> bool:
    """Whether ``run`` is a program's test run (``start_test_run(requested_by=...)``) that no person opened yet and
    that can still be opened: pending, no actor, no set-up link, started less than ``PENDING_TTL`` ago."""
    now = now or timezone.now()
    return (
        run.result == SSOTestRun.Result.PENDING
        and run.actor_id is None
        and run.setup_link_id is None
        and run.started_at + PENDING_TTL > now
    )


@audited("run.connection")
def claim_test_run(run: SSOTestRun, *, actor: User) -> SSOTestRun:
    """``actor`` (a signed-in owner or admin; the caller checked the role) opens a test run a program started:
    they become its actor (so it counts toward enforcement as their own "Test SSO" would) and the protocol then
    sends them to the IdP. Opening one's own run again (e.g. after closing the IdP's page) is allowed while it is
    pending. Raises ActionRefused: 409 ``test_run_taken`` (someone else opened it), 410 ``test_run_gone`` (it
    finished, or waited longer than ``PENDING_TTL``)."""
    with transaction.atomic():
        locked = (
            SSOTestRun.objects.select_for_update(of=("self",)).select_related("connection__organization").get(pk=run.pk)
        )
        if locked.actor_id == actor.pk and locked.result == SSOTestRun.Result.PENDING:
            return locked
        if locked.actor_id is not None or locked.setup_link_id is not None:
            raise ActionRefused("Someone else already opened this SSO test.", code="test_run_taken", status=409)
        if not awaits_tester(locked):
            raise ActionRefused(
                "This SSO test finished or expired (it waits 10 minutes). Start a new one.",
                code="test_run_gone",
                status=410,
            )
        locked.actor = actor
        locked.started_at = timezone.now()
        locked.save(update_fields=["actor", "started_at"])
        audit.record(
            "sso.test_opened",
            organization=locked.connection.organization,
            actor=actor,
            target=locked.connection,
            details={"run": locked.pk},
        )
    return locked


@audited("connection")
def delete_connection(connection: SSOConnection, *, actor: Any) -> None:
    """Delete a connection that is off, with its protocol settings, linked identities and test runs (nobody signs
    in through a connection that is off). Raises ActionRefused (409 ``connection_in_use``) for any other status:
    turn SSO off first, which previews who loses SSO sign-in."""
    with transaction.atomic():
        locked = (
            SSOConnection.objects.select_for_update(of=("self",)).select_related("organization").get(pk=connection.pk)
        )
        if locked.status != SSOConnection.Status.OFF:
            raise ActionRefused(
                f"SSO is {locked.get_status_display()} on this connection; turn it off before deleting it.",
                code="connection_in_use",
                status=409,
            )
        audit.record(
            "sso.connection_deleted",
            organization=locked.organization,
            actor=actor,
            target=locked,
            changes={"protocol": [locked.protocol, None], "name": [locked.name, None]},
            details={"identities": locked.identities.count()},
        )
        locked.delete()


@audited("run.connection")
def finish_test_run(run: SSOTestRun, *, actor: Any, success: bool, details: dict[str, Any], error: str = "") -> None:
    """Store a test run's result (what came back, or what went wrong and what to change) and audit it.

    ``TEST_RUN_FINISHED_HOOKS`` run in the same transaction (rollout's test plan: a success shows login working, a
    failure shows the failed-login page members would see).
    """
    with transaction.atomic():
        updated = SSOTestRun.objects.filter(pk=run.pk, result=SSOTestRun.Result.PENDING).update(
            result=SSOTestRun.Result.SUCCESS if success else SSOTestRun.Result.FAILURE,
            finished_at=timezone.now(),
            details=details,
            error=error,
        )
        if not updated:
            return
        run.refresh_from_db()
        audit.record(
            "sso.tested",
            organization=run.connection.organization,
            actor=actor,
            target=run.connection,
            details={
                "result": run.result,
                "error": error,
                "subject": details.get("subject", ""),
                "subject_format": details.get("subject_format", ""),
                # Entra's group overage: the groups are unknown, not empty (sso.assertion.AssertedIdentity).
                **({"groups_not_sent": details["groups_not_sent"]} if details.get("groups_not_sent") else {}),
            },
        )
        for hook in TEST_RUN_FINISHED_HOOKS:
            hook(run, actor, success, error)


def test_run_actor(run: SSOTestRun) -> Any:
    """Who ran ``run``, for its audit events: its set-up link (``audit.models.ActorType.SETUP_LINK``) or its
    actor (None: the system, for a run whose person was deleted)."""
    if run.setup_link_id is not None:
        return setup_link_actor(run.setup_link)
    return run.actor


def setup_link_actor(link: Any) -> Actor:
    """The audit actor of everything done through an IdP set-up link (``sso.models.SSOSetupLink``): not a person,
    the link itself."""
    return Actor(ActorType.SETUP_LINK, str(link.pk), link.actor_label)


def tester_result_url(run: SSOTestRun) -> str:
    """Where the person who ran ``run`` reads its result: the organization's test page, or for a run through a
    set-up link, that link's own result page (the IdP admin sees no organization page)."""
    if run.setup_link_id is not None:
        return reverse("sso_public:setup_test_run", args=[run.connection.organization.slug, run.pk])
    return test_run_url(run)


def test_run_url(run: SSOTestRun) -> str:
    connection = run.connection
    return reverse("sso:test_run", args=[connection.organization.slug, connection.pk, run.pk])
