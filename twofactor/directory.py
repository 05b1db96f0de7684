"""What the members page shows of each member's two-factor status (``orgsecurity.directory`` annotation)."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, CharField, Exists, OuterRef, Value, When

from orgsecurity.models import Organization
from twofactor.factors import NONE, PASSKEY, STATUS_LABELS, TOTP
from twofactor.models import TOTPDevice, WebAuthnCredential


def status_expression(user_path: str = "user") -> Case:
    """A query expression giving ``passkey``, ``totp`` or ``none`` for the user at ``user_path``."""
    return Case(
        When(Exists(WebAuthnCredential.objects.filter(user=OuterRef(user_path))), then=Value(PASSKEY)),
        When(Exists(TOTPDevice.objects.filter(user=OuterRef(user_path))), then=Value(TOTP)),
        default=Value(NONE),
        output_field=CharField(),
    )


def label_expression(user_path: str = "user") -> Case:
    """As ``status_expression``, as the label people read ("Passkey", "Authenticator app", "None")."""
    return Case(
        When(Exists(WebAuthnCredential.objects.filter(user=OuterRef(user_path))), then=Value(STATUS_LABELS[PASSKEY])),
        When(Exists(TOTPDevice.objects.filter(user=OuterRef(user_path))), then=Value(STATUS_LABELS[TOTP])),
        default=Value(STATUS_LABELS[NONE]),
        output_field=CharField(),
    )


def member_annotations(organization: Organization) -> dict[str, Any]:
    """``two_factor_label`` of each membership's person."""
    return {"two_factor_label": label_expression()}


def filter_by_status(queryset: Any, value: str) -> Any:
    """The memberships whose person's two-factor status is ``value`` (``none``, ``totp`` or ``passkey``)."""
    return queryset.annotate(two_factor_status=status_expression()).filter(two_factor_status=value)
