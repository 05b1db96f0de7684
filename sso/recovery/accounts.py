"""Action functions for recovery (break-glass) accounts: designation by owners, single-use recovery codes, their use
at /accounts/recovery/, and the guards that keep one owner able to get in while SSO is enforced.

Codes are shown once when generated and stored as SHA-256 hashes: each carries 80 random bits (NIST SP 800-63B
§5.1.2 look-up secrets need at least 64), so a slow password hash adds nothing.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

import audit
from audit.locking import audited
from orgsecurity.actions import ActionRefused
from orgsecurity.actors import ProgramActor, is_program
from orgsecurity.models import Membership, Organization, User
from orgsecurity.roles import Role
from sso.models import RecoveryAccount, RecoveryCode, SSOConnection
from sso.rollout.readiness import MANAGER_ROLES, usable_recovery_accounts

CODES_PER_SET = 10
_CODE_BYTES = 10  # 80 bits → 16 base32 characters


def normalize_code(code: str) -> str:
    """A recovery code as typed (any case, with or without hyphens and spaces) in canonical form."""
    return "".join(character for character in (code or "").lower() if character.isalnum())[:64]


def hash_code(code: str) -> str:
    """SHA-256 hex of a normalized recovery code: what is stored."""
    return hashlib.sha256(f"recovery-code:{normalize_code(code)}".encode()).hexdigest()


def _new_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(_CODE_BYTES)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _require_owner(organization: Organization, actor: User | ProgramActor) -> None:
    # An admin API key (ProgramActor) is judged by the role it acts with: an owner's own key, never a service
    # account's (which acts as an admin).
    if isinstance(actor, ProgramActor):
        is_owner = actor.role == Role.OWNER
    else:
        is_owner = Membership.objects.active().filter(organization=organization, user=actor, role=Role.OWNER).exists()
    if not is_owner:
        raise ActionRefused("Only owners can choose recovery accounts.", code="owners_only", status=403)


def _enforced(organization: Organization) -> bool:
    return SSOConnection.objects.filter(organization=organization, status=SSOConnection.Status.ENFORCED).exists()


def _is_last_owner_way_in(membership: Membership) -> bool:
    """True when ``membership`` holds the only owner recovery account that can still get someone in."""
    owner_accounts = usable_recovery_accounts(membership.organization_id).filter(membership__role=Role.OWNER)
    return owner_accounts.filter(membership=membership).exists() and not (
        owner_accounts.exclude(membership=membership).exists()
    )


@audited("organization")
def designate(organization: Organization, *, actor: User | ProgramActor, membership: Membership) -> RecoveryAccount:
    """Make an owner or admin with a password a recovery account (owners only). They then generate their codes.

    Raises ActionRefused for another organization's member, another role, an account without a password (it
    could never use /accounts/recovery/), or one already designated.
    """
    with transaction.atomic():
        _require_owner(organization, actor)
        # includes suspended: refused below when suspended
        membership = Membership.objects.select_for_update(of=("self",)).select_related("user").get(pk=membership.pk)
        if membership.organization_id != organization.pk or membership.suspended_at is not None:
            raise ActionRefused("Choose a member of this organization.", code="bad_member", status=400)
        if membership.role not in MANAGER_ROLES:
            raise ActionRefused(
                "Recovery accounts must be owners or admins: they exist to roll SSO back.", code="bad_role"
            )
        if not membership.user.has_usable_password():
            raise ActionRefused(
                f"{membership.user.email} has no password (they sign in through SSO only), so they could not use "
                "recovery sign-in. Choose someone with a password.",
                code="no_password",
            )
        if RecoveryAccount.objects.filter(membership=membership).exists():
            raise ActionRefused(f"{membership.user.email} is already a recovery account.", code="duplicate", status=409)
        try:
            with transaction.atomic():
                account = RecoveryAccount.objects.create(
                    organization=organization, membership=membership, designated_by_id=actor.pk
                )
        except IntegrityError:  # designated twice at once
            raise ActionRefused(
                f"{membership.user.email} is already a recovery account.", code="duplicate", status=409
            ) from None
        audit.record(
            "sso.recovery_designated",
            organization=organization,
            actor=actor,
            target=account,
            changes={"user": [None, membership.user.email]},
        )
    return account


@audited("account")
def remove(account: RecoveryAccount, *, actor: User | ProgramActor) -> None:
    """Take break-glass access away (owners only). While SSO is enforced, the last owner recovery account that
    can get someone in cannot be removed (raises ActionRefused saying what to do instead)."""
    with transaction.atomic():
        organization = Organization.objects.get(pk=account.organization_id)  # locked by @audited
        _require_owner(organization, actor)
        account = RecoveryAccount.objects.select_related("membership__user").get(pk=account.pk)
        if _enforced(organization) and _is_last_owner_way_in(account.membership):
            raise ActionRefused(
                f"{account.membership.user.email} is the last owner recovery account while SSO is enforced. Make "
                "another owner a recovery account (with codes) first, or roll SSO back.",
                code="last_recovery_account",
                status=409,
            )
        audit.record(
            "sso.recovery_removed",
            organization=organization,
            actor=actor,
            target=account,
            changes={"user": [account.membership.user.email, None]},
        )
        account.delete()


@audited("account")
def generate_codes(account: RecoveryAccount, *, actor: User) -> list[str]:
    """Replace the account's codes with CODES_PER_SET new single-use codes and return them, to be shown once.

    Only the account's own person may do this (the codes are theirs). Raises ActionRefused otherwise.
    """
    with transaction.atomic():
        account = (
            RecoveryAccount.objects.select_for_update(of=("self",))
            .select_related("membership__user")
            .get(pk=account.pk)
        )
        if account.membership.user_id != actor.pk:
            raise ActionRefused(
                "Only the recovery account's own person can see its codes.", code="not_yours", status=403
            )
        codes = [_new_code() for _ in range(CODES_PER_SET)]
        account.codes.all().delete()
        RecoveryCode.objects.bulk_create([RecoveryCode(account=account, code_hash=hash_code(code)) for code in codes])
        account.codes_generated_at = timezone.now()
        account.save(update_fields=["codes_generated_at"])
        audit.record(
            "sso.recovery_codes_generated",
            organization=account.organization,
            actor=actor,
            target=account,
            details={"count": len(codes)},
        )
    return codes


# includes suspended: a lock scope: a superset is harmless
@audited(lambda user, *args, **kwargs: Organization.objects.filter(memberships__user=user))
def use_code(user: User, code: str, *, now: Any = None) -> tuple[RecoveryAccount, int] | None:
    """Consume one unused recovery code of ``user`` (whose password was just checked); returns the recovery
    account and how many unused codes are left, or None when the code is not one of theirs, used already, or
    they are no longer an owner or admin there. Audits ``sso.recovery_used`` and emails every owner on commit."""
    normalized = normalize_code(code)
    if len(normalized) != 16:
        return None
    with transaction.atomic():
        found = (
            RecoveryCode.objects.select_for_update(of=("self",))
            .select_related("account__organization", "account__membership__user")
            .filter(
                code_hash=hash_code(normalized),
                used_at__isnull=True,
                account__membership__user=user,
                account__membership__role__in=MANAGER_ROLES,
                account__membership__suspended_at__isnull=True,
            )
            .first()
        )
        if found is None:
            return None
        found.used_at = now or timezone.now()
        found.save(update_fields=["used_at"])
        account = found.account
        remaining = account.codes.filter(used_at__isnull=True).count()
        organization = account.organization
        audit.record(
            "sso.recovery_used",
            organization=organization,
            actor=user,
            target=account,
            details={"remaining_codes": remaining},
        )
        owners = list(
            Membership.objects.active()
            .filter(organization=organization, role=Role.OWNER)
            .values_list("user__email", flat=True)
        )
        body = render_to_string(
            "sso/email/recovery_used.txt",
            {"organization": organization, "user": user, "at": found.used_at, "remaining": remaining},
        )
        subject = f"{user.email} signed in to {organization.name} with a recovery code"
        transaction.on_commit(lambda: send_mass_mail([(subject, body, None, [email]) for email in owners]))
    return account, remaining


@dataclass(frozen=True)
class Redeemed:
    """A recovery code was used: the account, how many unused codes are left, and a new set (shown once) when it
    was the last one."""

    account: RecoveryAccount
    remaining: int
    new_codes: list[str] = field(default_factory=list)


def redeem(user: User, code: str) -> Redeemed | None:
    """Use one of ``user``'s recovery codes (``use_code``); when it was their last, issue a new set at once, so a
    recovery account never runs out while SSO is enforced. None when the code is not valid for them."""
    used = use_code(user, code)
    if used is None:
        return None
    account, remaining = used
    if remaining:
        return Redeemed(account, remaining)
    return Redeemed(account, CODES_PER_SET, generate_codes(account, actor=user))


# Theme apps that refuse organization pages to a recovery session from where it is (the IP allowlist, from outside
# the list) register a function (request, organization) -> URL | None naming the page that session can still open
# there, which says why the rest is closed.
RecoveryLanding = Callable[[HttpRequest, Organization], str | None]
RECOVERY_LANDINGS: list[RecoveryLanding] = []


def register_landing(landing: RecoveryLanding) -> None:
    """Add ``landing`` to the functions ``restricted_landing`` asks (once, however often an app's ready() runs)."""
    if landing not in RECOVERY_LANDINGS:
        RECOVERY_LANDINGS.append(landing)


def restricted_landing(request: HttpRequest, organization: Organization) -> str | None:
    """Where a recovery sign-in with ``organization``'s code must land when some of its pages are closed to this
    request (the first registered landing that names one), or None when the usual landing opens."""
    for landing in RECOVERY_LANDINGS:
        url = landing(request, organization)
        if url:
            return url
    return None


def guard_membership_change(membership: Membership, new_role: str | None, actor: Any) -> None:
    """Refuse a role change (``new_role``) or removal (None) that would leave SSO without its admin owner, or, while
    SSO is enforced, leave no owner able to get in through a recovery account, and a program (SCIM) demoting or
    removing a named recovery account (409 ``recovery_account``). Registered with
    ``orgsecurity.actions.register_membership_guard``; raises ActionRefused."""
    email = membership.user.email
    if (
        is_program(actor)
        and actor.provisioning
        and new_role not in MANAGER_ROLES
        and RecoveryAccount.objects.filter(membership=membership).exists()
    ):
        # The IdP (a SCIM group mapping) may not take the break-glass way in away by demoting it, any more than by
        # deprovisioning it (guard_deprovisioning): a recovery account must be an owner or admin to work.
        raise ActionRefused(
            f"{email} is a named recovery (break-glass) account of {membership.organization.name}, which must stay "
            "an owner or admin, so provisioning cannot demote or remove them. An owner can remove the recovery "
            "account on the SSO settings page first.",
            code="recovery_account",
            status=409,
        )
    if new_role not in MANAGER_ROLES:
        named = SSOConnection.objects.filter(organization=membership.organization_id, admin_owner=membership.user)
        connection = named.first()
        if connection is not None:
            raise ActionRefused(
                f"{email} is the admin owner of the SSO connection “{connection.name or connection}”. Name a new "
                "admin owner in that connection's settings first.",
                code="admin_owner",
                status=409,
            )
    if new_role != Role.OWNER and _enforced(membership.organization) and _is_last_owner_way_in(membership):
        raise ActionRefused(
            f"{email} is the last owner with a recovery account while SSO is enforced. Make another owner a recovery "
            "account (with codes) first, or roll SSO back.",
            code="last_recovery_owner",
            status=409,
        )


def guard_deprovisioning(membership: Membership, actor: Any) -> None:
    """Refuse to deprovision (suspend or remove through the IdP) a named recovery (break-glass) account: it is the
    way in when SSO or the IdP fails, so the IdP must not be able to take it away. Registered with
    ``orgsecurity.lifecycle.register_deprovision_guard``; raises ActionRefused (409 ``recovery_account``)."""
    if RecoveryAccount.objects.filter(membership=membership).exists():
        raise ActionRefused(
            f"{membership.user.email} is a named recovery (break-glass) account of {membership.organization.name}, "
            "the way in when SSO or the identity provider fails, so provisioning cannot deprovision them. An owner "
            "can remove the recovery account on the SSO settings page first.",
            code="recovery_account",
            status=409,
        )
