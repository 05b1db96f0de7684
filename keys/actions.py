"""Action functions for API keys: issue, rotate, revoke, flag for review, the key policy, service accounts and
workloads, and the credential hygiene that runs when a member leaves or changes role.

Each validates, writes and records its audit event (with the key's public prefix, never its secret) inside one
``transaction.atomic()``. Refusals raise ``orgsecurity.actions.ActionRefused`` with a sentence for the person.

Who may hold what (the key's owner, not whoever clicks): owners and admins any key; members read-only keys
restricted to projects (or teams) of their own teams; billing and auditor roles none. Service-account keys are
created and rotated by owners and admins only. A personal key is created and rotated only by the person who owns
it, so its secret is never shown to anyone else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

import audit
from audit.locking import audited
from audit.recorder import diff, record_many
from keys import scopes as api_scopes
from keys import tokens
from keys.models import APIKey, KeyPolicy, ServiceAccount, Workload
from orgsecurity.actions import ActionRefused, require_plain_text
from orgsecurity.actors import ProgramActor
from orgsecurity.client_ip import canonical_network
from orgsecurity.models import Membership, Organization, Project, Team, User
from orgsecurity.roles import Role

MAX_OVERLAP = timedelta(days=7)
MAX_CIDRS = 50
MAX_LIFETIME_DAYS = 3650
MAX_ROW_ID = 2**63 - 1  # the largest id the database stores (bigint)
KEY_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


# --- who may hold what ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyShape:
    """What a key would reach: its permission and restriction lists (ids of teams and projects)."""

    permission: str
    team_ids: tuple[int, ...]
    project_ids: tuple[int, ...]
    scopes: tuple[str, ...] = ()

    @classmethod
    def of(cls, key: APIKey) -> KeyShape:
        return cls(key.permission, tuple(key.team_ids), tuple(key.project_ids), tuple(key.scopes or ()))


def holder_refusal(role: str, shape: KeyShape, *, own_team_ids: set[int], project_teams: dict[int, int]) -> str | None:
    """Why a member with ``role`` may not hold a key of ``shape``, or None when they may.

    ``own_team_ids``: the teams the member is on; ``project_teams``: project id -> its team id for every
    project in ``shape``.
    """
    if role in KEY_MANAGERS:
        return None
    if role != Role.MEMBER:
        return f"The {Role(role).label} role cannot hold API keys."
    writes = sorted(set(shape.scopes) & api_scopes.WRITE_SCOPES)
    if writes:
        return f"Only owners' and admins' keys may hold the {writes[0]} scope."
    if shape.permission != APIKey.Permission.READ:
        return "Members may hold read-only keys only."
    if not shape.team_ids and not shape.project_ids:
        return "A member's key must be restricted to projects or teams the member is on."
    if set(shape.team_ids) - own_team_ids:
        return "A member's key may only be restricted to teams the member is on."
    if any(project_teams.get(project_id) not in own_team_ids for project_id in shape.project_ids):
        return "A member's key may only reach projects of teams the member is on."
    return None


def _own_team_ids(membership: Membership) -> set[int]:
    return set(Team.objects.filter(members=membership).values_list("pk", flat=True))


def _project_teams(organization: Organization, project_ids: Iterable[int]) -> dict[int, int]:
    return dict(Project.objects.filter(organization=organization, pk__in=list(project_ids)).values_list("pk", "team"))


# --- helpers -------------------------------------------------------------------------------------------


def _membership(organization: Organization, user: Any) -> Membership:
    if isinstance(user, ProgramActor):
        # An admin API key acting with its role (not saved: only the role and user are read).
        return Membership(organization=organization, user_id=user.user_id, role=user.role)
    membership = Membership.objects.active().filter(organization=organization, user=user).first() if user else None
    if membership is None:
        raise ActionRefused("You are not a member of this organization.", code="not_member", status=403)
    return membership


def _require_manager(membership: Membership, doing: str) -> None:
    if membership.role not in KEY_MANAGERS:
        raise ActionRefused(f"Only owners and admins can {doing}.", code="role_not_allowed", status=403)


def _lock_key(key: APIKey) -> APIKey:
    return (
        APIKey.objects.select_for_update(of=("self",))
        .select_related("organization", "owner_service_account")
        .get(pk=key.pk)
    )


def normalize_cidrs(values: Iterable[str]) -> list[str]:
    """Parse CIDRs (RFC 4632; IPv6 too) and bare addresses into canonical network strings, without duplicates.

    IPv4-mapped and NAT64 well-known-prefix IPv6 blocks are stored as IPv4, as clients are matched
    (``orgsecurity.client_ip.canonical_network``). Raises ActionRefused naming the first bad
    entry, including an address with host bits set (``10.1.2.3/8``), which is almost always a typo for
    ``10.0.0.0/8``, an IPv6 zone (``%eth0``), and more than MAX_CIDRS distinct networks (refused as soon as the
    list passes the limit, without reading the rest).
    """
    networks: dict[str, None] = {}  # ordered and without duplicates, O(1) per entry
    for raw in values:
        text = raw.strip()
        if not text:
            continue
        if "%" in text:
            raise ActionRefused(
                f"{text!r} has an IPv6 zone (%…); zones are local to one host, so leave it out.", code="bad_cidr"
            )
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ActionRefused(
                    f"{text!r} is not an IP address or CIDR range (e.g. 203.0.113.0/24).", code="bad_cidr"
                ) from None
            raise ActionRefused(f"{text} has host bits set; did you mean {loose}?", code="bad_cidr") from None
        networks[str(canonical_network(network))] = None
        if len(networks) > MAX_CIDRS:  # stop here: the rest of an oversized list is never parsed
            raise ActionRefused(f"A key may list at most {MAX_CIDRS} networks.", code="bad_cidr")
    return list(networks)


def _check_expiry(policy: KeyPolicy, expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise ActionRefused("The expiry date must be in the future.", code="bad_expiry")
    if policy.require_expiry and expires_at is None:
        raise ActionRefused("Your organization's key policy requires an expiry date.", code="expiry_required")
    if policy.max_lifetime_days and (expires_at is None or expires_at > now + timedelta(days=policy.max_lifetime_days)):
        raise ActionRefused(
            f"Your organization's key policy allows keys to live at most {policy.max_lifetime_days} days.",
            code="lifetime_too_long",
        )


def _restriction_ids(organization: Organization, model: type, ids: Iterable[Any], noun: str) -> list[int]:
    try:
        wanted = sorted({int(value) for value in ids})
    except (TypeError, ValueError):
        raise ActionRefused(f"Choose {noun}s from the list.", code=f"bad_{noun}") from None
    if any(not 1 <= value <= MAX_ROW_ID for value in wanted):  # no row has it, and the database could not compare it
        raise ActionRefused(f"One of the chosen {noun}s is not in this organization.", code=f"bad_{noun}")
    found = set(model.objects.filter(organization=organization, pk__in=wanted).values_list("pk", flat=True))
    if found != set(wanted):
        raise ActionRefused(f"One of the chosen {noun}s is not in this organization.", code=f"bad_{noun}")
    return wanted


def _audit_key(action: str, key: APIKey, *, actor: Any, changes: dict | None = None, details: dict | None = None):
    return audit.record(
        action,
        organization=key.organization,
        actor=actor,
        target=key,
        changes=changes,
        details={"prefix": key.prefix, "owner": key.owner_display, **(details or {})},
    )


# --- issue, rotate, revoke -----------------------------------------------------------------------------


@audited("organization")
def create_api_key(
    organization: Organization,
    *,
    actor: User | ProgramActor,
    name: str,
    permission: str = APIKey.Permission.READ,
    service_account: ServiceAccount | None = None,
    team_ids: Iterable[int] = (),
    project_ids: Iterable[int] = (),
    workloads: Iterable[str] = (),
    allowed_cidrs: Iterable[str] = (),
    expires_at: datetime | None = None,
    scopes: Iterable[str] = (),
) -> tuple[APIKey, str]:
    """Issue a key owned by ``actor`` (a personal key) or by ``service_account``; returns the key and its token.

    The token is the only copy of the secret: show it once and never store it. ``expires_at`` is UTC (None:
    never, if the policy allows). ``scopes``: admin API scopes (``keys.scopes``). Raises ActionRefused for a role
    that may not hold such a key, an unknown team/project/workload/scope, a write scope the owner's role may not
    hold or the issuer may not give (``keys.scopes.scope_refusal``), a bad CIDR, or a key the organization's policy
    does not allow. An admin API key (``ProgramActor``) issues only service accounts' keys (a personal key's secret
    is shown to its own person only, on the keys page) and is judged by the role it acts with.
    """
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ActionRefused("Give the key a name of 1 to 100 characters.", code="bad_name")
    require_plain_text(name, what="The key name", code="bad_name")
    if permission not in APIKey.Permission.values:
        raise ActionRefused("Choose read or read-write permission.", code="bad_permission")
    try:
        scope_names = api_scopes.normalize_scopes(scopes)
    except ValueError as exc:
        raise ActionRefused(str(exc), code="bad_scope") from None
    now = timezone.now()
    with transaction.atomic():
        membership = _membership(organization, actor)
        if service_account is None and isinstance(actor, ProgramActor):
            raise ActionRefused(
                "An API key issues only service accounts' keys; a person creates their own key on the keys page.",
                code="role_not_allowed",
                status=403,
            )
        if service_account is not None:
            _require_manager(membership, "issue keys for service accounts")
            if service_account.organization_id != organization.pk:
                raise ActionRefused("That service account is not in this organization.", code="bad_owner", status=404)
        teams = _restriction_ids(organization, Team, team_ids, "team")
        projects = _restriction_ids(organization, Project, project_ids, "project")
        project_teams = _project_teams(organization, projects)
        if teams:
            outside = sorted(pk for pk, team in project_teams.items() if team not in teams)
            if outside:
                raise ActionRefused(
                    "A chosen project belongs to a team the key is not restricted to, so the key could never "
                    "use it. Add that project's team or drop the project.",
                    code="bad_project",
                )
        workload_names = sorted({str(value).strip() for value in workloads if str(value).strip()})
        known = set(
            Workload.objects.filter(organization=organization, name__in=workload_names).values_list("name", flat=True)
        )
        if known != set(workload_names):
            raise ActionRefused("One of the chosen workloads is not defined in this organization.", code="bad_workload")
        cidrs = normalize_cidrs(allowed_cidrs)
        policy = KeyPolicy.for_organization(organization)
        _check_expiry(policy, expires_at, now)
        problem = api_scopes.scope_refusal(
            scope_names,
            holder_role=None if service_account is not None else membership.role,
            granter_role=membership.role,
        )
        if problem:
            raise ActionRefused(problem, code="scope_not_allowed", status=403)
        shape = KeyShape(permission, tuple(teams), tuple(projects), tuple(scope_names))
        if not policy.allow_unrestricted and not (teams or projects or workload_names):
            raise ActionRefused(
                "Your organization's key policy requires every key to be restricted to teams, projects or workloads.",
                code="unrestricted_not_allowed",
            )
        if service_account is None:
            problem = holder_refusal(
                membership.role, shape, own_team_ids=_own_team_ids(membership), project_teams=project_teams
            )
            if problem:
                raise ActionRefused(problem, code="role_not_allowed", status=403)
        key = APIKey(
            organization=organization,
            name=name,
            owner_user=None if service_account else actor,
            owner_service_account=service_account,
            owner_label=str(service_account) if service_account else actor.email,
            permission=permission,
            team_ids=teams,
            project_ids=projects,
            workloads=workload_names,
            allowed_cidrs=cidrs,
            scopes=scope_names,
            expires_at=expires_at,
            created_by_id=actor.pk,  # a person, or the one behind an admin API key (None for a service account's)
            created_at=now,
            secret_shown_to_id=actor.pk,
        )
        token = _save_with_fresh_key_id(key)
        _audit_key(
            "key.created",
            key,
            actor=actor,
            changes={
                "name": [None, name],
                "permission": [None, permission],
                "teams": [None, teams],
                "projects": [None, projects],
                "workloads": [None, workload_names],
                "allowed_cidrs": [None, cidrs],
                "scopes": [None, scope_names],
                "expires_at": [None, expires_at.isoformat() if expires_at else None],
            },
        )
    return key, token


def _save_with_fresh_key_id(key: APIKey) -> str:
    # Key IDs are random (59 bits); a collision is astronomically rare, but the unique index decides.
    for _ in range(5):
        key.key_id = tokens.new_key_id()
        token = tokens.new_token(key.key_id)
        key.secret_hash = tokens.hash_secret(token)
        try:
            with transaction.atomic():
                key.save(force_insert=True)
        except IntegrityError:
            key.pk = None
            continue
        return token
    raise ActionRefused("Could not allocate a key ID; try again.", code="retry", status=503)


def _may_rotate(key: APIKey, membership: Membership) -> bool:
    if key.owner_service_account_id is not None:
        return membership.role in KEY_MANAGERS
    return key.owner_user_id == membership.user_id


@audited("key")
def rotate_api_key(key: APIKey, *, actor: User | ProgramActor, overlap: timedelta) -> tuple[APIKey, str]:
    """Give ``key`` a new secret; the old secret keeps working for ``overlap`` (0 to 7 days), then stops.

    Returns the key and its new token (show it once). A personal key is rotated only by its owner; a service
    account's by owners and admins. Rotating again during an overlap ends the earlier secret at once.
    Raises ActionRefused for a revoked or expired key, an overlap outside 0..7 days, or a role not allowed.
    """
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise ActionRefused("Choose an overlap between none and 7 days.", code="bad_overlap")
    with transaction.atomic():
        key = _lock_key(key)
        membership = _membership(key.organization, actor)
        if not _may_rotate(key, membership):
            raise ActionRefused(
                "Only the person who owns a personal key can rotate it (owners and admins rotate service-account "
                "keys). You can revoke it instead.",
                code="role_not_allowed",
                status=403,
            )
        now = timezone.now()
        if not key.is_active(now):
            raise ActionRefused("This key is revoked or expired; issue a new key instead.", code="inactive", status=409)
        token = tokens.new_token(key.key_id)
        overlap_until = now + overlap if overlap else None
        key.previous_secret_hash = key.secret_hash if overlap else ""
        key.previous_valid_until = overlap_until
        key.secret_hash = tokens.hash_secret(token)
        key.rotated_at = now
        # A person sees the secret; through an admin API key it is the key's owner (nobody, for a service account's).
        key.secret_shown_to_id = actor.user_id if isinstance(actor, ProgramActor) else actor.pk
        key.save(
            update_fields=[
                "previous_secret_hash",
                "previous_valid_until",
                "secret_hash",
                "rotated_at",
                "secret_shown_to",
            ]
        )
        _audit_key(
            "key.rotated",
            key,
            actor=actor,
            changes={"overlap_until": [None, overlap_until.isoformat() if overlap_until else "immediately"]},
            details={"overlap_seconds": int(overlap.total_seconds())},
        )
    return key, token


def _revoke(key: APIKey, *, actor: Any, reason: str, now: datetime | None = None) -> APIKey:
    """Revoke a locked key inside the caller's transaction, no permission checks: for actions that decided."""
    key.revoked_at = now or timezone.now()
    key.revoked_reason = reason[:255]
    key.previous_secret_hash = ""
    key.previous_valid_until = None
    key.save(update_fields=["revoked_at", "revoked_reason", "previous_secret_hash", "previous_valid_until"])
    _audit_key("key.revoked", key, actor=actor, changes={"revoked_reason": [None, key.revoked_reason]})
    return key


@audited("key")
def revoke_api_key(key: APIKey, *, actor: User | ProgramActor, reason: str) -> APIKey:
    """Revoke ``key`` now: the next request with it (or its overlapping old secret) gets 401 ``key_revoked``.

    Owners and admins revoke any key of the organization; others only their own personal keys.
    Raises ActionRefused for a key already revoked, an empty reason, or a role not allowed.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Say why the key is revoked; the reason is kept with it.", code="reason_required")
    require_plain_text(reason, what="The reason")
    with transaction.atomic():
        key = _lock_key(key)
        membership = _membership(key.organization, actor)
        if membership.role not in KEY_MANAGERS and key.owner_user_id != actor.pk:
            raise ActionRefused("You can only revoke your own keys.", code="role_not_allowed", status=403)
        if key.revoked_at is not None:
            raise ActionRefused("This key is already revoked.", code="already_revoked", status=409)
        return _revoke(key, actor=actor, reason=reason)


# --- identity-change hygiene ---------------------------------------------------------------------------


def active_personal_keys(organization: Organization, user_id: int, *, lock: bool = True) -> list[APIKey]:
    """The unrevoked personal keys ``user_id`` holds in ``organization``, by primary key; ``lock``: FOR UPDATE."""
    queryset = APIKey.objects.filter(organization=organization, owner_user_id=user_id, revoked_at=None)
    return list((queryset.select_for_update() if lock else queryset).order_by("pk"))


@audited("membership")
def revoke_keys_after_membership_change(membership: Membership, new_role: str | None, actor: Any) -> None:
    """Registered with ``orgsecurity.actions.register_membership_effect`` (``KeysConfig.ready``): inside a role
    change, revoke the keys the new role may not hold; inside a removal (``new_role`` None), every personal key."""
    if new_role is None:
        revoke_keys_of_departing_member(membership, actor=actor)
    else:
        revoke_keys_not_allowed_for_role(membership, actor=actor)


def revoke_keys_of_departing_member(membership: Membership, *, actor: Any) -> list[APIKey]:
    """Revoke every unrevoked personal key ``membership``'s user holds in its organization.

    Called inside ``orgsecurity.actions.remove_member``'s transaction (``revoke_keys_after_membership_change``),
    so the keys die in the same commit as the membership (or not at all). Service-account keys are untouched.
    Returns the revoked keys.
    """
    with transaction.atomic():
        who = membership.user.email
        leaving = getattr(actor, "pk", None) == membership.user_id
        reason = f"Owner {who} left the organization." if leaving else f"Owner {who} was removed."
        now = timezone.now()
        revoked = [
            _revoke(key, actor=actor, reason=reason, now=now)
            for key in active_personal_keys(membership.organization, membership.user_id)
        ]
        gone = "left the organization" if leaving else "was removed"
        _flag_service_keys_seen_by(membership, actor=actor, why=gone)
        return revoked


def revoke_keys_on_deprovision(membership: Membership, actor: Any, reason: str) -> dict[str, tuple[str, ...]]:
    """Registered with ``orgsecurity.lifecycle.register_deprovision_effect`` (``KeysConfig.ready``): inside a
    deprovisioning, revoke every unrevoked personal key ``membership``'s user holds in its organization with
    ``reason`` (``scim_deprovisioned``), and flag the live service-account keys whose secret they saw. Bulk: one
    UPDATE per kind and one ``audit.recorder.record_many`` insert of per-key events, so the number of queries does
    not grow with the number of keys. Returns ``{"key_prefixes": ..., "service_keys_flagged": ...}``."""
    organization = membership.organization
    now = timezone.now()
    keys = active_personal_keys(organization, membership.user_id)
    if keys:
        APIKey.objects.filter(pk__in=[key.pk for key in keys]).update(
            revoked_at=now, revoked_reason=reason[:255], previous_secret_hash="", previous_valid_until=None
        )
        for key in keys:
            key.revoked_at, key.revoked_reason = now, reason[:255]
            key.previous_secret_hash, key.previous_valid_until = "", None
        record_many(
            "key.revoked",
            organization=organization,
            actor=actor,
            items=[
                {
                    "target": key,
                    "changes": {"revoked_reason": [None, key.revoked_reason]},
                    "details": {"prefix": key.prefix, "owner": key.owner_display},
                }
                for key in keys
            ],
        )
    seen = APIKey.objects.select_for_update(of=("self",)).select_related("owner_service_account")
    seen = seen.filter(
        organization=organization,
        secret_shown_to_id=membership.user_id,
        owner_service_account__isnull=False,
        revoked_at=None,
    )
    flagged = [key for key in seen.order_by("pk") if not key.is_expired(now)]
    if flagged:
        why = f"{membership.user.email}, who saw this key's secret, was deprovisioned: rotate it."[:255]
        APIKey.objects.filter(pk__in=[key.pk for key in flagged]).update(flagged_at=now, flagged_reason=why)
        for key in flagged:
            key.flagged_at, key.flagged_reason = now, why
        record_many(
            "key.flagged_for_review",
            organization=organization,
            actor=actor,
            items=[
                {
                    "target": key,
                    "changes": {"flagged_reason": [None, why]},
                    "details": {"prefix": key.prefix, "owner": key.owner_display},
                }
                for key in flagged
            ],
        )
    return {
        "key_prefixes": tuple(key.prefix for key in keys),
        "service_keys_flagged": tuple(key.prefix for key in flagged),
    }


def _flag_service_keys_seen_by(membership: Membership, *, actor: Any, why: str) -> list[APIKey]:
    """Flag the live service-account keys whose current secret ``membership``'s user was shown: automation keeps
    working, but someone who no longer manages keys still knows that secret, so it should be rotated."""
    now = timezone.now()
    flagged = []
    for key in service_keys_seen_by(membership, now=now, lock=True):
        reason = f"{membership.user.email}, who saw this key's secret, {why}: rotate it."
        key.flagged_at, key.flagged_reason = now, reason[:255]
        key.save(update_fields=["flagged_at", "flagged_reason"])
        _audit_key("key.flagged_for_review", key, actor=actor, changes={"flagged_reason": [None, key.flagged_reason]})
        flagged.append(key)
    return flagged


def service_keys_seen_by(membership: Membership, *, now: datetime, lock: bool = False) -> list[APIKey]:
    """The live service-account keys whose current secret ``membership``'s user was shown (by primary key): the
    keys flagged for rotation when they leave or stop managing keys. ``lock``: FOR UPDATE (inside a transaction)."""
    keys = APIKey.objects.filter(
        organization=membership.organization,
        secret_shown_to_id=membership.user_id,
        owner_service_account__isnull=False,
        revoked_at=None,
    )
    return [key for key in (keys.select_for_update() if lock else keys).order_by("pk") if not key.is_expired(now)]


@audited("membership")
def revoke_keys_not_allowed_for_role(membership: Membership, *, actor: Any) -> list[APIKey]:
    """Revoke the personal keys ``membership``'s (new) role no longer allows it to hold (see holder_refusal).

    Called inside ``orgsecurity.actions.change_role``'s transaction (``revoke_keys_after_membership_change``).
    Returns the revoked keys.
    """
    with transaction.atomic():
        if membership.role in KEY_MANAGERS:
            return []
        _flag_service_keys_seen_by(
            membership, actor=actor, why=f"no longer manages keys (now {membership.get_role_display()})"
        )
        now = timezone.now()
        revoked = []
        for key, problem in keys_not_allowed_for_role(membership, membership.role):
            reason = f"{membership.user.email}'s role changed to {membership.get_role_display()}: {problem}"
            revoked.append(_revoke(key, actor=actor, reason=reason, now=now))
        return revoked


def keys_not_allowed_for_role(membership: Membership, role: str, *, lock: bool = True) -> list[tuple[APIKey, str]]:
    """The active personal keys of ``membership``'s user in its organization that ``role`` (a ``Role`` value) may
    not hold, each with why (``holder_refusal``'s sentence), by primary key: what ``revoke_keys_not_allowed_for_role``
    revokes after a role change, and what its preview lists (``keys.preview.preview_membership_keys``, ``lock``
    False). Owners and admins may hold every key: [] for them."""
    if role in KEY_MANAGERS:
        return []
    keys = active_personal_keys(membership.organization, membership.user_id, lock=lock)
    if not keys:
        return []
    own_teams = _own_team_ids(membership)
    project_teams = _project_teams(membership.organization, {pk for key in keys for pk in key.project_ids})
    found = []
    for key in keys:
        problem = holder_refusal(role, KeyShape.of(key), own_team_ids=own_teams, project_teams=project_teams)
        if problem:
            found.append((key, problem))
    return found


def keys_to_flag(
    organization: Organization, *, user: User | None = None, now: datetime | None = None, lock: bool = False
) -> list[APIKey]:
    """The keys ``flag_keys_for_review`` flags (read-only, so previews list the same ones): unrevoked, unexpired
    personal keys of ``organization``, ``user``'s only when given, by primary key. ``lock``: lock their rows (inside
    the caller's transaction)."""
    queryset = APIKey.objects.filter(organization=organization, revoked_at=None, owner_service_account=None)
    if lock:
        queryset = queryset.select_for_update()
    if user is not None:
        queryset = queryset.filter(owner_user=user)
    now = now or timezone.now()
    return [key for key in queryset.order_by("pk") if not key.is_expired(now)]


@audited("organization")
def flag_keys_for_review(
    organization: Organization, *, actor: Any, reason: str, user: User | None = None
) -> list[APIKey]:
    """Flag unrevoked personal keys for review: ``user``'s (e.g. their SSO identity was unlinked), or every
    member's when ``user`` is None (e.g. SSO enforcement started). Flagged keys keep working; they are listed
    in the stale-credentials report until an owner or admin revokes them or marks them reviewed.

    ``actor``: a user, an ``audit.recorder.Actor`` or None (the system). Service-account keys are not tied to
    a person's identity and are not flagged. Keys already flagged get the new reason. Returns the flagged keys;
    one ``key.flagged_for_review`` event each. Call it inside the transaction of the change that caused it.
    """
    reason = (reason or "").strip()[:255] or "Flagged for review."
    with transaction.atomic():
        now = timezone.now()
        flagged = []
        for key in keys_to_flag(organization, user=user, now=now, lock=True):
            key.flagged_at, key.flagged_reason = now, reason
            key.save(update_fields=["flagged_at", "flagged_reason"])
            _audit_key("key.flagged_for_review", key, actor=actor, changes={"flagged_reason": [None, reason]})
            flagged.append(key)
    return flagged


@audited("key")
def clear_review_flag(key: APIKey, *, actor: User) -> APIKey:
    """Mark a flagged key as reviewed (it stays valid). Owners and admins only."""
    with transaction.atomic():
        key = _lock_key(key)
        _require_manager(_membership(key.organization, actor), "mark keys as reviewed")
        if key.flagged_at is None:
            raise ActionRefused("This key is not flagged for review.", code="not_flagged", status=409)
        old = key.flagged_reason
        key.flagged_at, key.flagged_reason = None, ""
        key.save(update_fields=["flagged_at", "flagged_reason"])
        _audit_key("key.review_cleared", key, actor=actor, changes={"flagged_reason": [old, None]})
    return key


# --- policy, service accounts, workloads ---------------------------------------------------------------


def policy_problems(policy: KeyPolicy, key: APIKey) -> list[str]:
    """Why ``key`` (as issued) does not meet ``policy``: "never expires", "lives N days, over the maximum of M",
    "unrestricted"; empty when it does. The policy page lists and ``keys.preview.preview_key_policy`` previews with
    it."""
    problems = []
    lifetime_days = (key.expires_at - key.created_at).days if key.expires_at else None
    if (policy.require_expiry or policy.max_lifetime_days) and key.expires_at is None:
        problems.append("never expires")
    elif policy.max_lifetime_days and lifetime_days is not None and lifetime_days > policy.max_lifetime_days:
        problems.append(f"lives {lifetime_days} days, over the maximum of {policy.max_lifetime_days}")
    if not policy.allow_unrestricted and key.is_unrestricted:
        problems.append("not restricted to teams, projects or workloads")
    return problems


def apply_policy_values(
    policy: KeyPolicy, *, require_expiry: bool, max_lifetime_days: int | None, allow_unrestricted: bool
) -> KeyPolicy:
    """Set the rules on ``policy`` (unsaved) as ``set_key_policy`` saves them: a maximum lifetime implies expiry."""
    policy.require_expiry = bool(require_expiry or max_lifetime_days)
    policy.max_lifetime_days = max_lifetime_days
    policy.allow_unrestricted = bool(allow_unrestricted)
    return policy


def nonconforming_keys(organization: Organization, policy: KeyPolicy) -> list[APIKey]:
    """The active keys of ``organization`` that do not meet ``policy`` (``policy_problems``), newest first."""
    now = timezone.now()
    keys = APIKey.objects.filter(organization=organization, revoked_at=None).select_related("owner_service_account")
    return [key for key in keys if key.is_active(now) and policy_problems(policy, key)]


@audited("organization")
def set_key_policy(
    organization: Organization,
    *,
    actor: User | ProgramActor,
    require_expiry: bool,
    max_lifetime_days: int | None,
    allow_unrestricted: bool,
) -> dict[str, list[Any]]:
    """Owners set the rules for keys issued from now on; returns the changes ({} when none).

    ``max_lifetime_days`` (1..3650 or None) also implies that keys must expire. Existing keys are not changed, and
    rotating one keeps its expiry and restrictions (it is the same key with a new secret); the policy page lists
    the keys that do not meet the policy, to revoke or replace.
    """
    if max_lifetime_days is not None and not 1 <= max_lifetime_days <= MAX_LIFETIME_DAYS:
        raise ActionRefused(f"The maximum lifetime must be 1 to {MAX_LIFETIME_DAYS} days.", code="bad_lifetime")
    with transaction.atomic():
        membership = _membership(organization, actor)
        if membership.role != Role.OWNER:
            raise ActionRefused("Only owners can change the key policy.", code="role_not_allowed", status=403)
        policy = KeyPolicy.objects.select_for_update().filter(organization=organization).first() or KeyPolicy(
            organization=organization
        )
        fields = ("require_expiry", "max_lifetime_days", "allow_unrestricted")
        before = {name: getattr(policy, name) for name in fields} if policy.pk else {}
        apply_policy_values(
            policy,
            require_expiry=require_expiry,
            max_lifetime_days=max_lifetime_days,
            allow_unrestricted=allow_unrestricted,
        )
        after = {name: getattr(policy, name) for name in fields}
        changes = diff(before, after) if policy.pk else {name: [None, value] for name, value in after.items()}
        if policy.pk and not changes:
            return {}
        policy.updated_at, policy.updated_by = timezone.now(), actor if isinstance(actor, User) else None
        policy.save()
        audit.record("key.policy_updated", organization=organization, actor=actor, target=policy, changes=changes)
    return changes


@audited("organization")
def set_api_security_changes(organization: Organization, *, actor: User, allowed: bool) -> dict[str, list[Any]]:
    """Owners turn "allow security changes through the API" on or off; returns the changes ({} when none).

    While it is off (the default), every request that needs the ``security:write`` scope is refused with 403
    ``api_security_changes_off``, whatever the key holds. Raises ActionRefused (403) for anyone but an owner.
    """
    with transaction.atomic():
        membership = _membership(organization, actor)
        if membership.role != Role.OWNER:
            raise ActionRefused(
                "Only owners can allow security changes through the API.", code="role_not_allowed", status=403
            )
        policy = KeyPolicy.objects.select_for_update().filter(organization=organization).first() or KeyPolicy(
            organization=organization
        )
        if policy.allow_api_security_changes == bool(allowed):
            return {}
        changes = {"allow_api_security_changes": [policy.allow_api_security_changes, bool(allowed)]}
        policy.allow_api_security_changes = bool(allowed)
        policy.updated_at, policy.updated_by = timezone.now(), actor
        policy.save()
        audit.record(
            "key.api_security_changes_allowed" if allowed else "key.api_security_changes_disallowed",
            organization=organization,
            actor=actor,
            target=policy,
            changes=changes,
        )
    return changes


@audited("organization")
def create_service_account(
    organization: Organization, *, actor: User | ProgramActor, name: str, description: str = ""
) -> ServiceAccount:
    """Create a service account (a non-person key owner). Owners and admins (or an admin API key acting with such a
    role) only; names are unique per org. Raises ActionRefused: 403 ``role_not_allowed``, 409 ``name_taken``, 400
    ``bad_name``."""
    with transaction.atomic():
        _require_manager(_membership(organization, actor), "create service accounts")
        account = ServiceAccount(
            organization=organization,
            name=(name or "").strip(),
            description=(description or "").strip(),
            created_by_id=actor.pk,
        )
        _save_named(account, "service account")
        audit.record(
            "key.service_account_created",
            organization=organization,
            actor=actor,
            target=account,
            changes={"name": [None, account.name]},
        )
    return account


@audited("organization")
def create_workload(organization: Organization, *, actor: User, name: str, description: str = "") -> Workload:
    """Define a workload name (e.g. ``ci``) keys can be restricted to. Owners and admins only."""
    with transaction.atomic():
        _require_manager(_membership(organization, actor), "define workloads")
        workload = Workload(
            organization=organization, name=(name or "").strip(), description=(description or "").strip()
        )
        _save_named(workload, "workload")
        audit.record(
            "key.workload_created",
            organization=organization,
            actor=actor,
            target=workload,
            changes={"name": [None, workload.name]},
        )
    return workload


def _save_named(instance: ServiceAccount | Workload, noun: str) -> None:
    """Validate the name, then insert; a duplicate name (also one inserted concurrently) is a clear refusal."""
    require_plain_text(instance.name, what=f"The {noun} name", code="bad_name")
    require_plain_text(instance.description, what=f"The {noun} description")
    taken = ActionRefused(f"A {noun} named {instance.name!r} already exists.", code="name_taken", status=409)
    try:
        instance.full_clean(validate_constraints=False)
    except ValidationError as exc:
        message = " ".join(exc.message_dict.get("name", [])) or "Check the name."
        raise ActionRefused(f"The {noun} name is not valid: {message}", code="bad_name") from None
    if type(instance).objects.filter(organization=instance.organization, name=instance.name).exists():
        raise taken
    try:
        with transaction.atomic():
            instance.save(force_insert=True)
    except IntegrityError:
        raise taken from None
