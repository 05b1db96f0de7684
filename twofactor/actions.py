"""The only code that changes second factors and the 2FA policy: each action validates, writes and audits in one
``@audited`` transaction (the account's organizations, or the policy's organization)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

import audit
from audit.locking import audited
from orgsecurity.actions import ActionRefused, require_plain_text
from orgsecurity.crypto import decrypt_secret, encrypt_secret
from orgsecurity.impact import Impact, ImpactGroup, ImpactItem
from orgsecurity.models import Membership, Organization, User
from sessions_policy import clock
from twofactor import backup_codes, factors, totp
from twofactor.models import BackupCode, TOTPDevice, TwoFactorPolicy, WebAuthnCredential

MAX_GRACE_DAYS = 30
MAX_CREDENTIALS = 20


def _orgs(user: Any) -> list[Organization]:
    return list(
        Organization.objects.filter(memberships__user=user, memberships__suspended_at__isnull=True).order_by("pk")
    )


def _record(action: str, user: Any, *, actor: Any, details: dict[str, Any] | None = None) -> None:
    for organization in _orgs(user) or [None]:
        audit.record(action, organization=organization, actor=actor, target=user, details=details or {})


def _user_scope(user: Any, *_: Any, **__: Any) -> list[Organization]:
    return _orgs(user)


def _refuse_last_factor_removal(user: Any, *, removing: str) -> None:
    """Refuse taking away ``user``'s last factor while an organization of theirs requires one."""
    other = {
        "totp": factors.has_passkey(user),
        "credential": factors.has_totp(user) or WebAuthnCredential.objects.filter(user=user).count() > 1,
        "all": False,
    }[removing]
    if other:
        return
    requiring = factors.requiring_organizations(user)
    if requiring:
        names = ", ".join(organization.name for organization in requiring)
        raise ActionRefused(
            f"This is your last second factor and {names} requires two-factor authentication: add another "
            "factor first, then remove this one.",
            code="last_factor_required",
            status=409,
        )


# --- TOTP ----------------------------------------------------------------------------------------------------


@audited(_user_scope)
def enable_totp(user: User, *, actor: Any, secret: str, code: str) -> TOTPDevice:
    """Confirm the authenticator app with ``secret`` (base32) by a ``code`` it shows now; replaces none (remove
    the old app first). Records ``twofactor.factor_added``. Raises ActionRefused when the code does not match or
    an app is already set up."""
    if TOTPDevice.objects.filter(user=user).exists():
        raise ActionRefused("You already have an authenticator app. Remove it first to set up another.", code="exists")
    step = totp.matching_step(secret, code, at=clock.now(), last_used_step=None)
    if step is None:
        raise ActionRefused("That code does not match. Check the time on your phone and type the current code.")
    device = TOTPDevice.objects.create(
        user=user, secret=encrypt_secret(secret), last_used_step=step, last_used_at=clock.now()
    )
    _record("twofactor.factor_added", user, actor=actor, details={"factor": "authenticator app"})
    return device


@audited(_user_scope)
def remove_totp(user: User, *, actor: Any) -> None:
    """Remove the authenticator app; refused (409) when it is the last factor and an organization requires one."""
    device = TOTPDevice.objects.select_for_update().filter(user=user).first()
    if device is None:
        raise ActionRefused("You have no authenticator app.", code="not_found", status=404)
    _refuse_last_factor_removal(user, removing="totp")
    device.delete()
    _record("twofactor.factor_removed", user, actor=actor, details={"factor": "authenticator app"})


def use_totp(user: User, code: str) -> bool:
    """Accept ``code`` from the account's authenticator app once: it must match time step T-1, T or T+1 and be newer
    than the last step accepted (stored in the same transaction, under a row lock, so a replay racing the first use
    loses). False otherwise."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user).first()
        if device is None:
            return False
        step = totp.matching_step(
            decrypt_secret(device.secret), code, at=clock.now(), last_used_step=device.last_used_step
        )
        if step is None:
            return False
        device.last_used_step = step
        device.last_used_at = clock.now()
        device.save(update_fields=["last_used_step", "last_used_at"])
        return True


# --- backup codes --------------------------------------------------------------------------------------------


@audited(_user_scope)
def regenerate_backup_codes(user: User, *, actor: Any) -> list[str]:
    """Replace the account's backup codes with a new set (the old ones stop working) and return the new codes,
    to be shown once. Records ``twofactor.backup_codes_generated``."""
    BackupCode.objects.filter(user=user).delete()
    codes = backup_codes.new_codes()
    BackupCode.objects.bulk_create([BackupCode(user=user, code_hash=backup_codes.hash_code(code)) for code in codes])
    _record("twofactor.backup_codes_generated", user, actor=actor, details={"count": len(codes)})
    return codes


@audited(_user_scope)
def use_backup_code(user: User, code: str) -> bool:
    """Use one of the account's backup codes (once); records ``twofactor.backup_code_used`` with how many remain."""
    found = (
        BackupCode.objects.select_for_update()
        .filter(user=user, used_at=None, code_hash=backup_codes.hash_code(code))
        .first()
    )
    if found is None:
        return False
    found.used_at = timezone.now()
    found.save(update_fields=["used_at"])
    remaining = BackupCode.objects.filter(user=user, used_at=None).count()
    _record("twofactor.backup_code_used", user, actor=user, details={"remaining": remaining})
    return True


# --- WebAuthn ------------------------------------------------------------------------------------------------


@audited(_user_scope)
def add_credential(
    user: User,
    *,
    actor: Any,
    name: str,
    credential_id: str,
    public_key: bytes,
    sign_count: int,
    transports: list[str],
    discoverable: bool,
    backed_up: bool,
) -> WebAuthnCredential:
    """Store a verified new passkey or security key (``webauthn_rp.verify_registration``); records
    ``twofactor.factor_added``. Refuses a name with control characters, more than ``MAX_CREDENTIALS``, and a
    credential ID already registered (to anyone)."""
    name = (name or "").strip()[:60] or ("Passkey" if discoverable else "Security key")
    require_plain_text(name, what="The name")
    if WebAuthnCredential.objects.filter(user=user).count() >= MAX_CREDENTIALS:
        raise ActionRefused(f"You have {MAX_CREDENTIALS} passkeys and security keys already: remove one first.")
    if WebAuthnCredential.objects.filter(credential_id=credential_id).exists():
        raise ActionRefused("This passkey or security key is registered already.", code="exists", status=409)
    credential = WebAuthnCredential.objects.create(
        user=user,
        name=name,
        credential_id=credential_id,
        public_key=public_key,
        sign_count=sign_count,
        transports=transports,
        discoverable=discoverable,
        backed_up=backed_up,
    )
    kind = "passkey" if discoverable else "security key"
    _record("twofactor.factor_added", user, actor=actor, details={"factor": f"{kind} {name}"})
    return credential


@audited(lambda credential, **_: _orgs(credential.user))
def remove_credential(credential: WebAuthnCredential, *, actor: Any) -> None:
    """Remove a passkey or security key; refused (409) when it is the last factor and an organization requires one."""
    user = credential.user
    _refuse_last_factor_removal(user, removing="credential")
    credential.delete()
    _record("twofactor.factor_removed", user, actor=actor, details={"factor": f"passkey {credential.name}"})


@audited(lambda credential, **_: _orgs(credential.user))
def record_credential_use(credential: WebAuthnCredential, *, new_sign_count: int) -> None:
    """Note a successful assertion: last used now, the new signature counter. A counter that did not grow
    (WebAuthn §6.1.1: a possible cloned authenticator; 0 means the authenticator keeps none) is recorded on the
    credential and audited as ``twofactor.sign_count_regressed``."""
    locked = WebAuthnCredential.objects.select_for_update().get(pk=credential.pk)
    regressed = (new_sign_count or locked.sign_count) and new_sign_count <= locked.sign_count
    locked.last_used_at = timezone.now()
    fields = ["last_used_at"]
    if regressed:
        locked.sign_count_regressed_at = timezone.now()
        fields.append("sign_count_regressed_at")
        _record(
            "twofactor.sign_count_regressed",
            locked.user,
            actor=None,
            details={"credential": locked.name, "stored": locked.sign_count, "received": new_sign_count},
        )
    else:
        locked.sign_count = new_sign_count
        fields.append("sign_count")
    locked.save(update_fields=fields)


# --- owners ----------------------------------------------------------------------------------------------------


def reset_refusals(memberships: list[Membership], *, actor: Any) -> dict[int, ActionRefused]:
    """For each of ``memberships`` (of one organization) whose factors an owner's reset would refuse, the refusal
    ``reset_factors`` raises, by membership id; the others are not in the answer. The members page uses it to
    show, instead of a Reset button that would be refused, why the account is not this organization's to reset.
    Three queries whatever the number of memberships.

    Refused: the acting owner's own account (the account page applies the last-factor rule), platform staff, an
    account that also belongs to another organization (active or suspended: the factors belong to the account, not
    to one organization), and a recovery (break-glass) account of an organization that requires 2FA."""
    from sso.models import RecoveryAccount

    if not memberships:
        return {}
    organization_id = memberships[0].organization_id
    user_ids = [membership.user_id for membership in memberships]
    # includes suspended: a suspended membership elsewhere is reactivated with the same account and factors
    others = Membership.objects.filter(user_id__in=user_ids).exclude(organization_id=organization_id)
    elsewhere = set(others.values_list("user_id", flat=True))
    recovery = set(
        RecoveryAccount.objects.filter(
            membership__user_id__in=user_ids, organization__two_factor_policy__required=True
        ).values_list("membership__user_id", flat=True)
    )
    staff = set(User.objects.filter(pk__in=user_ids, is_staff=True).values_list("pk", flat=True))
    actor_pk = getattr(actor, "pk", None) if actor is not None else None
    refusals = {}
    for membership in memberships:
        user_id = membership.user_id
        if actor_pk is not None and actor_pk == user_id:
            refusal = ActionRefused(
                "These are your own second factors: change them on your account page.", code="own_account", status=409
            )
        elif user_id in staff:
            refusal = ActionRefused(
                "This is a platform staff account; only its owner can change its factors.", code="staff", status=403
            )
        elif user_id in elsewhere:
            refusal = ActionRefused(
                "This account also belongs to other organizations; only its owner can change its factors.",
                code="other_organizations",
                status=403,
            )
        elif user_id in recovery:
            refusal = ActionRefused(
                "This is a recovery account and two-factor authentication is required: its last second factor "
                "cannot be removed. Remove it from the recovery accounts first, or let its owner change its factors.",
                code="recovery_account",
                status=409,
            )
        else:
            continue
        refusals[membership.pk] = refusal
    return refusals


def _refuse_reset(membership: Membership, *, actor: Any) -> None:
    """Raise the refusal ``reset_refusals`` finds for ``membership``, if any."""
    refusal = reset_refusals([membership], actor=actor).get(membership.pk)
    if refusal is not None:
        raise refusal


@audited(lambda membership, **_: [membership.organization])
def reset_factors(membership: Membership, *, actor: Any) -> int:
    """An owner removes every factor (app, passkeys, backup codes) of a member, who must then set up again;
    records ``twofactor.factors_reset`` in the organization. Returns how many factors were removed. The caller
    checks that ``actor`` is an owner (and re-authenticated).

    Raises ActionRefused (see ``_refuse_reset``) when the account is not this organization's alone to manage: it
    belongs to another organization too (active or suspended), it is the acting owner's own, it is platform staff,
    or it is a recovery account of an organization that requires 2FA."""
    user = membership.user
    _refuse_reset(membership, actor=actor)
    removed = (
        TOTPDevice.objects.filter(user=user).delete()[0] + WebAuthnCredential.objects.filter(user=user).delete()[0]
    )
    BackupCode.objects.filter(user=user).delete()
    audit.record(
        "twofactor.factors_reset",
        organization=membership.organization,
        actor=actor,
        target=user,
        details={"count": removed},
    )
    return removed


def policy_blockers(organization: Organization, actor: Any) -> list[str]:
    """Why requiring 2FA cannot be saved yet: the owner saving it has no factor, or a recovery account has none."""
    blockers = []
    if not factors.has_factor(actor):
        blockers.append("You have no second factor yet: set one up on your account page first.")
    for email in _recovery_accounts_without_factor(organization):
        blockers.append(f"The recovery account {email} has no second factor: it must set one up first.")
    return blockers


def preview_require_two_factor(organization: Organization, actor: Any) -> Impact:
    """What requiring 2FA does (read-only): the members without a factor (with their last sign-in), who are sent to
    set-up at sign-in and, after the grace period, kept out of the organization's pages until they have one; and
    the blocking items ``set_policy`` refuses over (the owner saving it, recovery accounts without a factor)."""
    from sessions_policy.models import UserSession

    last = dict(
        UserSession.objects.filter(
            user__memberships__organization=organization, user__memberships__suspended_at__isnull=True
        )
        .values("user")
        .annotate(at=Max("authenticated_at"))
        .values_list("user", "at")
    )
    people = tuple(
        ImpactItem(
            ref=str(user.pk),
            name=f"{user.name} <{user.email}>" if user.name else user.email,
            detail="Last signed in "
            + (f"{last[user.pk]:%Y-%m-%d %H:%M} UTC" if last.get(user.pk) else "never")
            + "; sent to set up a factor at sign-in, then kept out of this organization's pages after the grace "
            "period until they do. Not removed.",
        )
        for user in factors.members_without_factor(organization)
    )
    blocking = tuple(
        ImpactItem(ref=f"blocker-{number}", name="Blocked", detail=text, blocking=True)
        for number, text in enumerate(policy_blockers(organization, actor), 1)
    )
    groups = [
        ImpactGroup(
            "people",
            "Members without a second factor",
            "They keep their membership and are walked through set-up.",
            people,
        )
    ]
    if blocking:
        groups.append(
            ImpactGroup("blockers", "To do before saving", "The policy cannot be saved until then.", blocking)
        )
    return Impact("twofactor.require", tuple(groups), notes=("Single sign-on sign-ins are governed by the IdP.",))


def _recovery_accounts_without_factor(organization: Organization) -> list[str]:
    from sso.models import RecoveryAccount

    users = RecoveryAccount.objects.filter(organization=organization).select_related("membership__user")
    return sorted(account.membership.user.email for account in users if not factors.has_factor(account.membership.user))


@audited("organization")
def set_policy(organization: Organization, *, actor: Any, required: bool, grace_days: int) -> TwoFactorPolicy:
    """Require (or stop requiring) two-factor authentication for password sign-ins, with a grace period of
    ``grace_days`` (0 to 30) from now. Refused while ``policy_blockers`` lists anything (turning it on only).
    Records ``twofactor.policy_updated``."""
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise ActionRefused(f"The grace period is 0 to {MAX_GRACE_DAYS} days.")
    if required:
        blockers = policy_blockers(organization, actor)
        if blockers:
            raise ActionRefused(" ".join(blockers), code="policy_blocked", status=409)
    policy, _ = TwoFactorPolicy.objects.select_for_update().get_or_create(organization=organization)
    old = (policy.required, policy.grace_ends_at)
    policy.required = required
    policy.grace_ends_at = clock.now() + timedelta(days=grace_days) if required and grace_days else None
    policy.updated_at = clock.now()
    policy.save()
    audit.record(
        "twofactor.policy_updated",
        organization=organization,
        actor=actor,
        changes={"required": [old[0], required]},
        details={
            "summary": (f"required, grace period {grace_days} day(s)" if required else "not required"),
            "grace_ends_at": policy.grace_ends_at.isoformat() if policy.grace_ends_at else None,
        },
    )
    return policy
