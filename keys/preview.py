"""What a change to keys would cut off or expose, before it is made (``orgsecurity.impact.Impact``; read-only).

- ``preview_revoke_key``: the key and what last used it (``keys.actions.revoke_api_key``);
- ``preview_key_policy``: the active keys that would no longer meet the policy (``keys.actions.policy_problems``,
  the rules the policy page lists with) and meet the saved one;
- ``preview_membership_keys``: registered with ``orgsecurity.actions.register_membership_preview``: the personal
  keys a removal revokes and the service-account keys it flags (the same lists
  ``keys.actions.revoke_keys_of_departing_member`` acts on).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from keys.actions import (
    KEY_MANAGERS,
    active_personal_keys,
    apply_policy_values,
    keys_not_allowed_for_role,
    nonconforming_keys,
    policy_problems,
    service_keys_seen_by,
)
from keys.models import APIKey, KeyPolicy
from orgsecurity.actions import ActionRefused
from orgsecurity.impact import Impact, ImpactGroup, ImpactItem
from orgsecurity.models import Membership, Organization
from orgsecurity.roles import Role

RECENT_USE = timedelta(days=30)


def _used(key: APIKey) -> str:
    if key.last_used_at is None:
        return "never used"
    where = f" from {key.last_used_ip}" if key.last_used_ip else ""
    return f"last used {key.last_used_at:%Y-%m-%d %H:%M} UTC{where}"


def key_item(key: APIKey, detail: str) -> ImpactItem:
    """One key as an impact item: ref its key ID, name "osk_… (name)", ``detail`` after whose it is."""
    return ImpactItem(ref=key.key_id, name=f"{key.prefix} ({key.name})", detail=f"{key.owner_display}'s key, {detail}")


def preview_revoke_key(organization: Organization, key: APIKey) -> Impact:
    """Revoking ``organization``'s ``key`` now: it (and an old secret still valid after a rotation) stops working at
    once; a key used within ``RECENT_USE`` is noted as probably still in use. ``change`` is "key.revoke". Raises
    ActionRefused (404 ``key_not_found``) for another organization's key."""
    if key.organization_id != organization.pk:
        raise ActionRefused("No such API key in this organization.", code="key_not_found", status=404)
    now = timezone.now()
    detail = _used(key) + ": stops working at once"
    if key.previous_valid_until and key.previous_valid_until > now:
        detail += ", and so does its previous secret (still valid after the last rotation)"
    notes = ()
    if key.last_used_at and now - key.last_used_at <= RECENT_USE:
        notes = (f"It was used in the last {RECENT_USE.days} days: whatever uses it gets 401 key_revoked from now on.",)
    group = ImpactGroup(
        "keys", "The key", "Revoking cannot be undone; issue a new key to replace it.", (key_item(key, detail),)
    )
    return Impact(change="key.revoke", groups=(group,), notes=notes)


def preview_key_policy(
    organization: Organization, *, require_expiry: bool, max_lifetime_days: int | None, allow_unrestricted: bool
) -> Impact:
    """The active keys the policy (as ``keys.actions.set_key_policy`` takes it) would newly find out of bounds:
    each with what it breaks. They keep working (the policy binds keys issued from now on). ``change`` is
    "key.policy"."""
    saved = KeyPolicy.for_organization(organization)
    new = apply_policy_values(
        KeyPolicy(organization=organization),
        require_expiry=require_expiry,
        max_lifetime_days=max_lifetime_days,
        allow_unrestricted=allow_unrestricted,
    )
    items = tuple(
        key_item(key, f"{_used(key)}: " + "; ".join(policy_problems(new, key)))
        for key in nonconforming_keys(organization, new)
        if not policy_problems(saved, key)
    )
    summary = (
        "They keep working: the policy binds keys issued or rotated from now on. They are listed on the policy "
        "page, to revoke or replace."
    )
    return Impact(
        change="key.policy", groups=(ImpactGroup("keys", "Keys that would no longer meet the policy", summary, items),)
    )


def preview_membership_keys(membership: Membership, new_role: str | None) -> tuple[ImpactGroup, ...]:
    """For a removal (``new_role`` None): the personal keys revoked with it and the service-account keys whose
    secret the person saw, flagged for rotation. For a role change to a role that does not manage keys: the personal
    keys that role may not hold, revoked (``keys.actions.keys_not_allowed_for_role``), and the service-account keys
    whose secret they saw, flagged; nothing for a change to owner or admin."""
    if new_role is not None:
        return _role_change_keys(membership, new_role)
    now = timezone.now()
    personal = active_personal_keys(membership.organization, membership.user_id, lock=False)
    seen = service_keys_seen_by(membership, now=now)
    return (
        ImpactGroup(
            "keys",
            "Their API keys, revoked",
            "Personal keys die with the membership, in the same step.",
            tuple(key_item(key, f"{_used(key)}: revoked") for key in personal),
        ),
        ImpactGroup(
            "service_keys",
            "Service-account keys whose secret they saw, flagged",
            "Automation keeps working; rotate these keys, since someone who left still knows the secret.",
            tuple(key_item(key, f"{_used(key)}: flagged for rotation") for key in seen),
        ),
    )


def _role_change_keys(membership: Membership, new_role: str) -> tuple[ImpactGroup, ...]:
    if new_role in KEY_MANAGERS:
        return ()
    label = Role(new_role).label
    revoked = keys_not_allowed_for_role(membership, new_role, lock=False)
    seen = service_keys_seen_by(membership, now=timezone.now())
    return (
        ImpactGroup(
            "keys",
            "Their API keys, revoked",
            f"A {label} may not hold these keys: they are revoked in the same step as the role change.",
            tuple(key_item(key, f"{_used(key)}: revoked ({problem})") for key, problem in revoked),
        ),
        ImpactGroup(
            "service_keys",
            "Service-account keys whose secret they saw, flagged",
            f"Automation keeps working; rotate these keys, since a {label} no longer manages keys.",
            tuple(key_item(key, f"{_used(key)}: flagged for rotation") for key in seen),
        ),
    )
