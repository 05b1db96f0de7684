"""What an allowlist change would cut off, before it is made (``orgsecurity.impact.Impact``; read-only).

``preview_settings`` (turning the list on, or widening what it covers) and ``preview_remove_entries`` (narrowing
it) compare the list as saved with the list as the change would leave it, both judged by
``allowlist.actions.list_state``, the function the actions use for their self-lockout guard and the same compiled
matcher enforcement runs. Listed are only those the change newly cuts off:

- ``people``: members whose tracked sessions were seen within ``SESSION_LOOKBACK`` from an address (sign-in IP or
  last seen IP, ``sessions_policy.UserSession``) that would be refused on dashboard pages and is not refused now;
- ``keys``: active API keys whose last-used IP (``keys.APIKey.last_used_ip``) would be refused and is not now;
- ``owners``: empty unless the action would refuse the change as ``owners_locked_out`` (no owner left with a
  recent address inside the list: ``allowlist.actions.owners_reach``, the actions' own judgement); then each owner
  seen only from outside is a ``blocking`` item, and a note gives the refusal's sentence (with the recovery paths).

Members not seen within the lookback are not listed (their address is unknown); the impact's notes say so.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from allowlist.actions import (
    ListState,
    OwnersReach,
    current_state,
    list_state,
    owners_locked_out_message,
    owners_reach,
)
from allowlist.models import IPAllowlist, Scope
from allowlist.sightings import SESSION_LOOKBACK, recent_addresses
from keys.models import APIKey
from orgsecurity.impact import Impact, ImpactGroup, ImpactItem
from orgsecurity.models import Membership, Organization, User


def preview_settings(
    organization: Organization,
    *,
    enabled: bool,
    scope: str,
    actor_ip: str | None = None,
    actor: User | None = None,
) -> Impact:
    """Who turning the list ``enabled`` with ``scope`` (a ``Scope`` value) would cut off; ``change`` is
    "allowlist.settings". Turning it off, or any change that guards nothing new, lists nobody. With ``actor_ip``
    (the acting admin's client IP), a note says when ``update_settings`` will refuse the change as a self-lockout
    (it starts guarding dashboard pages and that address is outside). When it starts guarding dashboard pages and
    would leave no owner with a recent address inside, the ``owners`` group lists them as blocking items (the
    action refuses it, ``owners_locked_out``); ``actor`` (the person on the page) counts with ``actor_ip`` when an
    owner, as in the action."""
    before = current_state(organization)
    after = list_state(organization, enabled=enabled, scope=scope)
    when = f"once the list covers {Scope.phrase(scope)}" if enabled else "once the list is off"
    starts_guarding = after.guards_dashboard and not before.guards_dashboard
    locks_out = starts_guarding and after.refuses_dashboard(actor_ip)
    reach = owners_reach(organization, before, after, actor=actor, actor_ip=actor_ip) if starts_guarding else None
    return _impact(
        "allowlist.settings",
        organization,
        before,
        after,
        when,
        lockout_ip=actor_ip if locks_out else None,
        owners=reach,
        owners_change="Turning on the allowlist for dashboard pages",
    )


def preview_remove_entries(
    organization: Organization,
    entry_ids: Iterable[int],
    *,
    actor_ip: str | None = None,
    actor: User | None = None,
) -> Impact:
    """Who removing the entries with ``entry_ids`` would cut off (nobody while the list is off); ``change`` is
    "allowlist.remove_entries". Ids of other organizations' entries are ignored. With ``actor_ip``, a note says
    when ``remove_entries`` will refuse it as a self-lockout (the list guards dashboard pages and that address
    would be outside). When the list guards dashboard pages and no owner would keep a recent address inside, the
    ``owners`` group lists them as blocking items (``owners_locked_out``; ``actor`` as in ``preview_settings``)."""
    entry_ids = list(entry_ids)
    allowlist = IPAllowlist.objects.filter(organization=organization).first()
    enabled, scope = (allowlist.enabled, allowlist.scope) if allowlist else (False, Scope.DASHBOARD)
    before = list_state(organization, enabled=enabled, scope=scope)
    after = list_state(organization, enabled=enabled, scope=scope, without=entry_ids)
    locks_out = after.refuses_dashboard(actor_ip)
    reach = (
        owners_reach(organization, before, after, actor=actor, actor_ip=actor_ip) if after.guards_dashboard else None
    )
    count = len(set(entry_ids))
    return _impact(
        "allowlist.remove_entries",
        organization,
        before,
        after,
        "once the entries are removed",
        lockout_ip=actor_ip if locks_out else None,
        owners=reach,
        owners_change=f"Removing {'this entry' if count == 1 else 'these entries'}",
    )


def _impact(
    change: str,
    organization: Organization,
    before: ListState,
    after: ListState,
    when: str,
    *,
    lockout_ip: str | None,
    owners: OwnersReach | None = None,
    owners_change: str = "",
) -> Impact:
    notes = []
    if lockout_ip is not None:
        notes.append(
            f"Your own IP address as this server sees it, {lockout_ip}, would be outside the list: the change is "
            "refused until an entry covers it (use “Add my current IP”)."
        )
    locked_out = owners is not None and owners.locks_out
    if locked_out:
        notes.append(f"Refused: {owners_locked_out_message(organization, owners, change=owners_change)}")
    if after.guards_dashboard:
        notes.append(
            f"Members not seen in the last {SESSION_LOOKBACK.days} days are not listed: where they connect from is "
            "unknown. Sign-in pages stay open; the refusal page shows each person the address the server saw."
        )
    if after.guards_api:
        notes.append("Keys never used are not listed: where they will be used from is unknown.")
    return Impact(
        change=change,
        groups=(
            ImpactGroup(
                "people",
                "Members who would be refused on dashboard pages",
                f"Their sessions of the last {SESSION_LOOKBACK.days} days came from addresses outside the list "
                f"{when}. From those addresses they can no longer open {organization.name}'s pages.",
                _people(organization, before, after),
            ),
            ImpactGroup(
                "keys",
                "API keys whose last-used address would be refused",
                f"Requests from the address each was last used from are refused {when}.",
                _keys(organization, before, after),
            ),
            ImpactGroup(
                "owners",
                "Owners who could no longer reach the dashboard",
                "Listed only when the change would leave no owner seen from an address on the list in the last "
                f"{SESSION_LOOKBACK.days} days: then it is refused until an entry covers an owner's network.",
                _owners(owners) if locked_out else (),
            ),
        ),
        notes=tuple(notes),
    )


def _cut_off(ip: str | None, before: ListState, after: ListState, *, api: bool) -> bool:
    if api:
        return after.refuses_api(ip) and not before.refuses_api(ip)
    return after.refuses_dashboard(ip) and not before.refuses_dashboard(ip)


def _people(organization: Organization, before: ListState, after: ListState) -> tuple[ImpactItem, ...]:
    if not after.guards_dashboard:
        return ()
    memberships = {
        m.user_id: m for m in Membership.objects.active().filter(organization=organization).select_related("user")
    }
    outside: dict[int, set[str]] = {}
    for user_id, addresses in recent_addresses(memberships).items():
        cut_off = {ip for ip in addresses if _cut_off(ip, before, after, api=False)}
        if cut_off:
            outside[user_id] = cut_off
    people = sorted((memberships[user_id] for user_id in outside), key=lambda m: m.user.email)
    return tuple(
        ImpactItem(
            ref=str(membership.user_id),
            name=membership.user.email,
            detail=f"{membership.get_role_display()}: seen from {', '.join(sorted(outside[membership.user_id]))}",
        )
        for membership in people
    )


def _owners(reach: OwnersReach) -> tuple[ImpactItem, ...]:
    return tuple(
        ImpactItem(
            ref=email,
            name=email,
            detail=f"Owner: seen only from {', '.join(addresses)}, outside the list; no owner would be left inside",
            blocking=True,
        )
        for email, addresses in reach.outside_after.items()
    )


def _keys(organization: Organization, before: ListState, after: ListState) -> tuple[ImpactItem, ...]:
    if not after.guards_api:
        return ()
    now = timezone.now()
    active = (
        APIKey.objects.filter(organization=organization, revoked_at=None, last_used_ip__isnull=False)
        .filter(Q(expires_at=None) | Q(expires_at__gt=now))
        .order_by("name", "pk")
    )
    return tuple(
        ImpactItem(
            ref=key.key_id,
            name=f"{key.prefix} ({key.name})",
            detail=f"{key.owner_display}'s key, last used from {key.last_used_ip}"
            + (f" on {key.last_used_at:%Y-%m-%d}" if key.last_used_at else ""),
        )
        for key in active
        if _cut_off(key.last_used_ip, before, after, api=True)
    )
