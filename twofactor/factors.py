"""Reading an account's factors and the organizations that require one (read-only; ``actions`` writes)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef

from orgsecurity.models import Organization, User
from twofactor.models import BackupCode, TOTPDevice, TwoFactorPolicy, WebAuthnCredential

NONE, TOTP, PASSKEY = "none", "totp", "passkey"
STATUS_LABELS = {NONE: "None", TOTP: "Authenticator app", PASSKEY: "Passkey"}


def has_totp(user: Any) -> bool:
    """True when the account has a confirmed authenticator app."""
    return TOTPDevice.objects.filter(user=user).exists()


def has_passkey(user: Any) -> bool:
    """True when the account has a passkey or security key."""
    return WebAuthnCredential.objects.filter(user=user).exists()


def has_factor(user: Any) -> bool:
    """True when the account has a second factor (an authenticator app or a passkey; backup codes alone are not
    one: they only stand in for one)."""
    return has_totp(user) or has_passkey(user)


def status_of(user: Any) -> str:
    """``passkey`` (the strongest it has), ``totp`` or ``none``."""
    if has_passkey(user):
        return PASSKEY
    return TOTP if has_totp(user) else NONE


def unused_backup_codes(user: Any) -> int:
    """How many backup codes of the account are still unused."""
    return BackupCode.objects.filter(user=user, used_at=None).count()


def requiring_organizations(user: Any) -> list[Organization]:
    """The organizations of ``user`` that require two-factor authentication (in grace or not), by name."""
    return list(
        Organization.objects.filter(
            memberships__user=user, memberships__suspended_at__isnull=True, two_factor_policy__required=True
        ).order_by("name")
    )


def policy_of(organization: Organization) -> TwoFactorPolicy | None:
    """The organization's stored policy, or None (never required)."""
    return TwoFactorPolicy.objects.filter(organization=organization).first()


def users_with_factor_q(outer_user: str = "pk") -> Exists:
    """``Exists(...)`` over ``User`` rows (``outer_user``: the path to the user's pk) true for accounts with a
    second factor; for annotations."""
    return Exists(TOTPDevice.objects.filter(user=OuterRef(outer_user))) | Exists(
        WebAuthnCredential.objects.filter(user=OuterRef(outer_user))
    )


def members_without_factor(organization: Organization) -> list[User]:
    """The members of ``organization`` with no second factor, by email."""
    return list(
        User.objects.filter(memberships__organization=organization, memberships__suspended_at__isnull=True)
        .exclude(Exists(TOTPDevice.objects.filter(user=OuterRef("pk"))))
        .exclude(Exists(WebAuthnCredential.objects.filter(user=OuterRef("pk"))))
        .order_by("email")
    )
