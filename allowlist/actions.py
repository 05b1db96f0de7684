"""Action functions for IP allowlists: the only code that changes IPAllowlist and IPAllowlistEntry.

Each locks the organization's allowlist row, validates, writes, bumps ``IPAllowlist.version`` (so every process
recompiles on its next request) and records its audit event inside one ``transaction.atomic()``. Refusals raise
``ActionRefused`` (nothing changed). Two guards, each HTTP 409, judge the changes that can take dashboard access
away (turning on dashboard enforcement or widening an API-only list to dashboard pages, and removing entries while
it is on):

- ``SelfLockout`` (``self_lockout``): the acting admin's current client IP would be outside the list afterwards;
- ``OwnersLockedOut`` (``owners_locked_out``): no owner would be left with a recent address inside the list
  (``owners_reach``: each owner's session addresses of the last 30 days, ``allowlist.sightings``, the computation
  ``allowlist.preview`` lists people with). Over the admin API the client IP is a server's, so this is the guard
  that keeps a script from locking every owner out of the dashboard.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

import audit
from allowlist.matching import CompiledAllowlist, EntryRef, compile_allowlist, parse_block
from allowlist.models import IPAllowlist, IPAllowlistEntry, Scope
from allowlist.networks import EntryError, LineError, Network, ParsedEntry, parse_entry, parse_paste
from allowlist.sightings import SESSION_LOOKBACK, recent_addresses
from audit.locking import audited
from audit.recorder import Actor
from orgsecurity.actions import ActionRefused, require_plain_text, usable_owners
from orgsecurity.models import Membership, Organization, User
from orgsecurity.roles import Role
from sso.rollout.readiness import usable_recovery_accounts

# Bounds that keep one request, one audit event and one compiled matcher reasonable.
MAX_ENTRIES_PER_ORG = 20_000
MAX_PASTE_ENTRIES = 10_000


class InvalidEntries(ActionRefused):
    """A bulk paste had bad lines; ``errors`` lists each (line number, text, message). Nothing was saved."""

    def __init__(self, errors: list[LineError]) -> None:
        count = len(errors)
        super().__init__(
            f"{count} line{'s' if count != 1 else ''} could not be read, so nothing was added. "
            "Fix them and paste again.",
            code="invalid_entries",
            status=400,
        )
        self.errors = errors


class SelfLockout(ActionRefused):
    """The change would put the acting admin's own client IP (``ip``) outside an enforced allowlist."""

    def __init__(self, message: str, *, ip: str | None) -> None:
        super().__init__(message, code="self_lockout", status=409)
        self.ip = ip


class OwnersLockedOut(ActionRefused):
    """The change would leave no owner with a recent address inside a list that guards dashboard pages;
    ``owners`` are the owners (emails) it would shut out, each seen only from addresses outside."""

    def __init__(self, message: str, *, owners: list[str]) -> None:
        super().__init__(message, code="owners_locked_out", status=409)
        self.owners = owners


@dataclass
class AddResult:
    """What ``add_entries`` did: the ``added`` entries, and ``notices`` for the admin (host bits normalised,
    duplicates skipped, overlaps with other entries)."""

    added: list[IPAllowlistEntry] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


# --- helpers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListState:
    """An allowlist as enforcement sees it: whether it guards dashboard pages and API keys, and its compiled
    entries. The actions judge self-lockout with it and ``allowlist.preview`` judges everyone else with it."""

    guards_dashboard: bool
    guards_api: bool
    matcher: CompiledAllowlist

    def refuses_dashboard(self, ip: str | None) -> bool:
        """True when a member at ``ip`` would be refused on dashboard pages."""
        return self.guards_dashboard and not self.matcher.allows(ip)

    def refuses_api(self, ip: str | None) -> bool:
        """True when a key used from ``ip`` would be refused."""
        return self.guards_api and not self.matcher.allows(ip)


def list_state(organization: Organization, *, enabled: bool, scope: str, without: Iterable[int] = ()) -> ListState:
    """The organization's list switched ``enabled`` with ``scope``, its entries minus the ids in ``without``: what
    enforcement would apply once a change is made (read-only; call under ``lock_allowlist`` to act on it)."""
    entries = IPAllowlistEntry.objects.filter(organization=organization).exclude(pk__in=list(without))
    return ListState(
        guards_dashboard=enabled and Scope.covers_dashboard(scope),
        guards_api=enabled and Scope.covers_api(scope),
        matcher=compile_allowlist(_entry_refs(entries)),
    )


@dataclass(frozen=True)
class OwnersReach:
    """Where the organization's owners (``orgsecurity.actions.usable_owners``) connect from, judged before and after
    a change: ``inside_before`` / ``inside_after`` are the owners (emails) with at least one recent address the list
    lets onto dashboard pages; ``outside_after`` maps each owner seen only from addresses the list would refuse to
    those addresses; ``unknown`` are owners not seen within ``SESSION_LOOKBACK`` (where they connect from is not
    known: they count neither way). A person acting on the page who is an owner counts with their current IP."""

    inside_before: tuple[str, ...]
    inside_after: tuple[str, ...]
    outside_after: dict[str, tuple[str, ...]]
    unknown: tuple[str, ...]

    @property
    def locks_out(self) -> bool:
        """True when the change leaves no owner with a recent address inside although at least one had one before
        (and at least one owner's address is known): what ``OwnersLockedOut`` refuses. Owners all unknown, or all
        already outside before the change, never make a change refused here (it takes no known access away)."""
        return bool(self.outside_after) and not self.inside_after and bool(self.inside_before)


def owners_reach(
    organization: Organization,
    before: ListState,
    after: ListState,
    *,
    actor: User | Actor | None = None,
    actor_ip: str | None = None,
) -> OwnersReach:
    """``OwnersReach`` of ``organization``'s owners from ``before`` to ``after`` (read-only; two queries). Their
    addresses are those of ``allowlist.sightings.recent_addresses``; ``actor_ip`` is added to ``actor``'s when
    ``actor`` is a person (never a program: over the admin API the client IP is a server's) who is an owner."""
    owners = {
        membership.user_id: membership.user.email
        for membership in usable_owners(organization.pk).select_related("user").order_by("user__email")
    }
    seen = recent_addresses(owners)
    if isinstance(actor, User) and actor.pk in owners and actor_ip:
        seen.setdefault(actor.pk, set()).add(actor_ip)
    inside_before, inside_after, outside_after, unknown = [], [], {}, []
    for user_id, email in owners.items():
        addresses = seen.get(user_id)
        if not addresses:
            unknown.append(email)
            continue
        if any(not before.refuses_dashboard(ip) for ip in addresses):
            inside_before.append(email)
        if any(not after.refuses_dashboard(ip) for ip in addresses):
            inside_after.append(email)
        else:
            outside_after[email] = tuple(sorted(addresses))
    return OwnersReach(tuple(inside_before), tuple(inside_after), outside_after, tuple(unknown))


MAX_OWNERS_NAMED = 5


def owners_locked_out_message(organization: Organization, reach: OwnersReach, *, change: str) -> str:
    """The refusal's sentence: ``change`` (e.g. "Turning on the allowlist for dashboard pages") would shut out
    every owner, named with the addresses they were seen from, the owners not seen lately, and the ways back in
    that bypass the list (recovery accounts on the allowlist page, platform support)."""
    shown = list(reach.outside_after.items())[:MAX_OWNERS_NAMED]
    named = "; ".join(f"{email} (seen from {', '.join(addresses[:3])})" for email, addresses in shown)
    more = len(reach.outside_after) - len(shown)
    if more:
        named += f"; and {more} more"
    days = SESSION_LOOKBACK.days
    parts = [
        f"{change} would lock every owner out of the dashboard: no owner was seen in the last {days} days from an "
        f"address the list would allow. Owners seen only from outside it: {named}."
    ]
    if reach.unknown:
        parts.append(
            f"Not seen in the last {days} days (address unknown): {', '.join(reach.unknown[:MAX_OWNERS_NAMED])}."
        )
    parts.append("Add an entry that covers an owner's network first.")
    recovery = [account.membership.user.email for account in usable_recovery_accounts(organization).order_by("pk")]
    if recovery:
        parts.append(
            "Should the owners be shut out anyway, the list is bypassed only by a recovery sign-in (a recovery code "
            f"of this organization: {', '.join(recovery[:MAX_OWNERS_NAMED])}), which may open the allowlist page "
            "alone to fix it, and by platform support, who can turn the list off."
        )
    else:
        parts.append(
            "This organization has no recovery account with unused codes (the one sign-in that may open the "
            "allowlist page from outside it), so only platform support could turn the list off."
        )
    return " ".join(parts)


def _refuse_if_owners_locked_out(
    organization: Organization,
    before: ListState,
    after: ListState,
    *,
    actor: User | Actor,
    actor_ip: str | None,
    change: str,
) -> None:
    if not after.guards_dashboard:
        return
    reach = owners_reach(organization, before, after, actor=actor, actor_ip=actor_ip)
    if reach.locks_out:
        raise OwnersLockedOut(
            owners_locked_out_message(organization, reach, change=change), owners=list(reach.outside_after)
        )


def settings_values(organization: Organization) -> dict[str, Any]:
    """The saved on/off switch and scope (what ``orgsecurity.versions`` versions: the page's ``loaded_version``
    and the admin API's ETag): the defaults when never saved."""
    allowlist = IPAllowlist.objects.filter(organization=organization).first()
    if allowlist is None:
        return {"enabled": False, "scope": Scope.DASHBOARD}
    return {"enabled": allowlist.enabled, "scope": allowlist.scope}


def current_state(organization: Organization) -> ListState:
    """``list_state`` of the list as saved now (off when the organization has none)."""
    allowlist = IPAllowlist.objects.filter(organization=organization).first()
    if allowlist is None:
        return list_state(organization, enabled=False, scope=Scope.DASHBOARD)
    return list_state(organization, enabled=allowlist.enabled, scope=allowlist.scope)


def lock_allowlist(organization: Organization) -> IPAllowlist:
    """Return the organization's allowlist row, created (off) if missing, locked FOR UPDATE. Call inside
    ``transaction.atomic()``: concurrent changes to one allowlist then run one after another."""
    allowlist = IPAllowlist.objects.select_for_update().filter(organization=organization).first()
    if allowlist is not None:
        return allowlist
    try:
        with transaction.atomic():
            IPAllowlist.objects.create(organization=organization)
    except IntegrityError:
        pass  # another request created it first; lock theirs below
    return IPAllowlist.objects.select_for_update().get(organization=organization)


def _bump_version(allowlist: IPAllowlist, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(allowlist, name, value)
    allowlist.version += 1
    allowlist.updated_at = timezone.now()
    allowlist.save(update_fields=[*fields, "version", "updated_at"])


def _entry_refs(entries: Iterable[IPAllowlistEntry]) -> list[EntryRef]:
    return [EntryRef(id=entry.pk, cidr=entry.cidr, label=entry.label) for entry in entries]


def _ip_text(ip: str | None) -> str:
    return ip or "unknown"


def _label(entry: ParsedEntry | IPAllowlistEntry | EntryRef) -> str:
    return f"{entry.cidr} ({entry.label})" if entry.label else entry.cidr


Block = tuple[int, int, int]  # (IP version, first address as int, prefix length)
_WIDTH = {4: 32, 6: 128}


def _block(network: Network) -> Block:
    return (network.version, int(network.network_address), network.prefixlen)


class _BlockIndex:
    """The blocks already on a list, for reporting duplicates and overlaps: a dict by Block and a sorted list of
    the same keys, so "inside" is at most 128 dict lookups and "contains" one bisect."""

    def __init__(self, blocks: Iterable[tuple[Block, str]]) -> None:
        self.names: dict[Block, str] = dict(blocks)
        self.sorted: list[Block] = sorted(self.names)

    def add(self, block: Block, name: str) -> None:
        self.names[block] = name
        insort(self.sorted, block)

    def duplicate_of(self, block: Block) -> str | None:
        return self.names.get(block)

    def supernets_of(self, block: Block) -> list[str]:
        version, start, prefixlen = block
        found = []
        for shorter in range(prefixlen - 1, -1, -1):
            host_bits = _WIDTH[version] - shorter
            name = self.names.get((version, (start >> host_bits) << host_bits, shorter))
            if name is not None:
                found.append(name)
        return found

    def subnets_of(self, block: Block) -> list[str]:
        version, start, prefixlen = block
        end = start | ((1 << (_WIDTH[version] - prefixlen)) - 1)
        low = bisect_left(self.sorted, (version, start, prefixlen + 1))
        high = bisect_right(self.sorted, (version, end, _WIDTH[version]))
        return [self.names[key] for key in self.sorted[low:high] if key[2] > prefixlen]


# --- entries -----------------------------------------------------------------------------------------


@audited("organization")
def add_entry(organization: Organization, cidr: str, *, actor: User | Actor, label: str = "") -> AddResult:
    """Add one address or CIDR block with ``label``. Raises ActionRefused (400) for a malformed entry or one
    already on the list; host bits are normalised and overlaps reported in the result's ``notices``."""
    try:
        parsed = parse_entry(cidr, label=label)
    except EntryError as exc:
        raise ActionRefused(str(exc), code="invalid_entry", status=400) from None
    with transaction.atomic():
        lock_allowlist(organization)
        existing = IPAllowlistEntry.objects.filter(organization=organization, cidr=parsed.cidr).first()
        if existing is not None:
            raise ActionRefused(f"{_label(existing)} is already on the list.", code="duplicate_entry", status=400)
        return _add_parsed(organization, [parsed], actor=actor)


@audited("organization")
def add_entries(organization: Organization, text: str, *, actor: User | Actor, default_label: str = "") -> AddResult:
    """Add a bulk paste: one address or CIDR block per line, a label after ``#``, blank lines ignored; lines
    without a label get ``default_label``. Raises InvalidEntries (400, with per-line errors) when any line is
    bad, and then saves nothing. Duplicates are skipped and reported; overlaps are reported."""
    paste = parse_paste(text, default_label=default_label, max_lines=MAX_PASTE_ENTRIES)
    if paste.errors:
        raise InvalidEntries(paste.errors)
    with transaction.atomic():
        return _add_parsed(organization, paste.entries, actor=actor)


def _add_parsed(organization: Organization, parsed: list[ParsedEntry], *, actor: User | Actor) -> AddResult:
    allowlist = lock_allowlist(organization)
    existing = list(IPAllowlistEntry.objects.filter(organization=organization))
    index = _BlockIndex((parse_block(entry.cidr), f"{_label(entry)}, already on the list") for entry in existing)
    result = AddResult()
    new_entries: list[IPAllowlistEntry] = []
    for entry in parsed:
        where = f"Line {entry.line}: " if entry.line else ""
        result.notices.extend(f"{where}{notice}" for notice in entry.notices)
        block = _block(entry.network)
        duplicate = index.duplicate_of(block)
        if duplicate is not None:
            result.notices.append(f"{where}{entry.cidr} was skipped: it duplicates {duplicate}.")
            continue
        for name in index.supernets_of(block):
            result.notices.append(f"{where}{entry.cidr} overlaps {name}, which contains it.")
        for name in index.subnets_of(block):
            result.notices.append(f"{where}{entry.cidr} overlaps {name}, which it contains.")
        index.add(block, f"{_label(entry)} on line {entry.line}" if entry.line else _label(entry))
        new_entries.append(
            # ``actor`` is a user on the pages, an audit Actor (the key) through the admin API.
            IPAllowlistEntry(
                organization=organization,
                cidr=entry.cidr,
                label=entry.label,
                added_by=actor if isinstance(actor, User) else None,
            )
        )
    if len(existing) + len(new_entries) > MAX_ENTRIES_PER_ORG:
        raise ActionRefused(
            f"An allowlist holds at most {MAX_ENTRIES_PER_ORG:,} entries; this one has {len(existing):,} and the "
            f"paste would add {len(new_entries):,}. Merge small blocks into larger CIDR blocks.",
            code="too_many_entries",
            status=400,
        )
    if not new_entries:
        return result
    result.added = IPAllowlistEntry.objects.bulk_create(new_entries)
    _bump_version(allowlist)
    audit.record(
        "allowlist.entries_added",
        organization=organization,
        actor=actor,
        target=allowlist,
        details={"count": len(new_entries), "added": [_label(entry) for entry in new_entries]},
    )
    return result


@audited("organization")
def remove_entries(
    organization: Organization, entry_ids: Iterable[int], *, actor: User | Actor, actor_ip: str | None
) -> list[IPAllowlistEntry]:
    """Remove the entries with ``entry_ids`` (all of this organization) and return them.

    Raises ActionRefused: 400 when none are given, 404 when one is not (or no longer) on this organization's
    list, SelfLockout (409) when the list guards dashboard pages and ``actor_ip`` (the acting admin's client IP)
    would be outside the remaining entries, and OwnersLockedOut (409) when it guards dashboard pages and no owner
    would keep a recent address inside (``owners_reach``).
    """
    wanted = set(entry_ids)
    if not wanted:
        raise ActionRefused("Select at least one entry to remove.", code="nothing_selected", status=400)
    with transaction.atomic():
        allowlist = lock_allowlist(organization)
        removing = list(IPAllowlistEntry.objects.filter(organization=organization, pk__in=wanted))
        if len(removing) != len(wanted):
            raise ActionRefused(
                "Some of the selected entries are no longer on the list. Reload the page and try again.",
                code="entry_not_found",
                status=404,
            )
        if allowlist.guards_dashboard:
            after = list_state(organization, enabled=allowlist.enabled, scope=allowlist.scope, without=wanted)
            if after.refuses_dashboard(actor_ip):
                raise SelfLockout(
                    f"Removing {'this entry' if len(removing) == 1 else 'these entries'} would lock you out: your "
                    f"IP address as this server sees it, {_ip_text(actor_ip)}, would no longer be on the list. "
                    "Add an entry that covers it first, or remove fewer entries.",
                    ip=actor_ip,
                )
            _refuse_if_owners_locked_out(
                organization,
                list_state(organization, enabled=allowlist.enabled, scope=allowlist.scope),
                after,
                actor=actor,
                actor_ip=actor_ip,
                change=f"Removing {'this entry' if len(removing) == 1 else 'these entries'}",
            )
        IPAllowlistEntry.objects.filter(pk__in=[entry.pk for entry in removing]).delete()
        _bump_version(allowlist)
        audit.record(
            "allowlist.entries_removed",
            organization=organization,
            actor=actor,
            target=allowlist,
            details={"count": len(removing), "removed": [_label(entry) for entry in removing]},
        )
    return removing


# --- settings ----------------------------------------------------------------------------------------


@audited("organization")
def update_settings(
    organization: Organization, *, actor: User | Actor, actor_ip: str | None, enabled: bool, scope: str
) -> dict[str, list[Any]]:
    """Turn the allowlist on or off and choose its ``scope`` (a Scope value); returns the changes, {} if none.

    Raises ActionRefused (400) for an unknown scope, SelfLockout (409) when the change starts guarding
    dashboard pages while ``actor_ip`` (the acting admin's client IP) is not on the list, and OwnersLockedOut (409)
    when it starts guarding them and no owner would keep a recent address inside (``owners_reach``).
    """
    if scope not in Scope.values:
        raise ActionRefused("Choose what the allowlist covers: dashboard pages, API keys, or both.", code="bad_scope")
    with transaction.atomic():
        allowlist = lock_allowlist(organization)
        before = {"enabled": allowlist.enabled, "scope": allowlist.scope}
        after = {"enabled": bool(enabled), "scope": scope}
        changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
        if not changes:
            return {}
        starts_guarding = after["enabled"] and Scope.covers_dashboard(scope) and not allowlist.guards_dashboard
        after_state = list_state(organization, enabled=after["enabled"], scope=scope) if starts_guarding else None
        if after_state is not None and after_state.refuses_dashboard(actor_ip):
            empty = not IPAllowlistEntry.objects.filter(organization=organization).exists()
            reason = "the list is empty" if empty else "it is not on the list"
            raise SelfLockout(
                f"Turning on the allowlist for dashboard pages would lock you out: your IP address as this "
                f"server sees it is {_ip_text(actor_ip)}, and {reason}. Add an entry that covers it first.",
                ip=actor_ip,
            )
        if after_state is not None:
            before_state = list_state(organization, enabled=allowlist.enabled, scope=allowlist.scope)
            _refuse_if_owners_locked_out(
                organization,
                before_state,
                after_state,
                actor=actor,
                actor_ip=actor_ip,
                change="Turning on the allowlist for dashboard pages",
            )
        _bump_version(allowlist, **after)
        if "enabled" in changes:
            action = "allowlist.enabled" if after["enabled"] else "allowlist.disabled"
        else:
            action = "allowlist.scope_changed"
        audit.record(
            action,
            organization=organization,
            actor=actor,
            target=allowlist,
            changes=changes,
            details={"covers": Scope.phrase(scope)},
        )
    return changes


@audited("organization")
def disable_for_support(organization: Organization, *, staff: User, reason: str) -> bool:
    """Platform support turns an organization's allowlist off (e.g. every owner is locked out). Records
    ``allowlist.support_disabled`` with ``Actor.support(staff)`` and emails the owners after commit.
    Returns False (and records nothing) when the list was already off."""
    reason = (reason or "").strip()[:500]
    if not reason:
        raise ActionRefused("Say why (e.g. the support ticket) before turning the allowlist off.", code="no_reason")
    require_plain_text(reason, what="The reason")
    with transaction.atomic():
        allowlist = lock_allowlist(organization)
        if not allowlist.enabled:
            return False
        _bump_version(allowlist, enabled=False)
        audit.record(
            "allowlist.support_disabled",
            organization=organization,
            actor=Actor.support(staff),
            target=allowlist,
            changes={"enabled": [True, False]},
            details={"reason": reason},
        )
        context = {"organization": organization, "staff": staff, "reason": reason, "when": timezone.now()}
        transaction.on_commit(
            lambda: email_owners(
                organization,
                subject=f"Support turned off the IP allowlist of {organization.name}",
                template="allowlist/email/support_disabled.txt",
                context=context,
            )
        )
    return True


def email_owners(organization: Organization, *, subject: str, template: str, context: dict[str, Any]) -> None:
    """Email every owner of ``organization`` (call from ``transaction.on_commit``). ``context`` gets ``url``,
    the allowlist page, and ``audit_url``, both built from PUBLIC_BASE_URL."""
    owners = list(
        Membership.objects.active()
        .filter(organization=organization, role=Role.OWNER)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    if not owners:
        return
    slug = organization.slug
    context = {
        **context,
        "organization": organization,
        "url": settings.PUBLIC_BASE_URL + reverse("allowlist:index", args=[slug]),
        "audit_url": settings.PUBLIC_BASE_URL + reverse("audit:log", args=[slug]),
    }
    send_mail(subject=subject, message=render_to_string(template, context), from_email=None, recipient_list=owners)
