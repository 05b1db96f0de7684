"""Reading an organization's allowlist for enforcement: one small query per request, compiled matchers cached.

Per request the check reads ``(enabled, scope, version)`` of the organization's IPAllowlist row: one
indexed query. The compiled matcher (``allowlist.matching``) is cached in process memory keyed by
``(allowlist row id, version)``. Every change bumps ``version`` in the transaction that makes it, so the next
request in any process reads the new version, misses the cache and compiles the new entries: no process can
serve a stale allow, and nothing has to be told to invalidate anything.

Why the order matters: the version is read before the entries are loaded, so the entries compiled for a
version are that version's or newer, never older.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from allowlist.matching import CompiledAllowlist, EntryRef, compile_allowlist
from allowlist.models import IPAllowlist, IPAllowlistEntry, Scope

# Enough for every busy organization on one worker; an evicted one is recompiled on its next request.
MATCHER_CACHE_SIZE = 256

_matchers: OrderedDict[tuple[int, int], CompiledAllowlist] = OrderedDict()
_matchers_lock = threading.Lock()


@dataclass(frozen=True)
class AllowlistPolicy:
    """What enforcement needs to know about one organization's allowlist at this moment."""

    organization_id: int
    allowlist_id: int
    enabled: bool
    scope: str
    version: int

    @property
    def guards_dashboard(self) -> bool:
        """Enabled, with a scope that includes dashboard pages."""
        return self.enabled and Scope.covers_dashboard(self.scope)

    @property
    def guards_api(self) -> bool:
        """Enabled, with a scope that includes API keys."""
        return self.enabled and Scope.covers_api(self.scope)

    def matcher(self) -> CompiledAllowlist:
        """The compiled entries of this version (from the per-process cache, or loaded and compiled now)."""
        return compiled_for(self.organization_id, self.allowlist_id, self.version)


def load_policy(organization_id: int) -> AllowlistPolicy | None:
    """The organization's allowlist policy (one query), or None when it never had one (nothing enforced)."""
    row = (
        IPAllowlist.objects.filter(organization_id=organization_id)
        .values_list("pk", "enabled", "scope", "version")
        .first()
    )
    if row is None:
        return None
    allowlist_id, enabled, scope, version = row
    return AllowlistPolicy(organization_id, allowlist_id, enabled, scope, version)


def load_entries(organization_id: int) -> list[EntryRef]:
    """Every entry of the organization as EntryRefs (one query)."""
    rows = IPAllowlistEntry.objects.filter(organization_id=organization_id).values_list("pk", "cidr", "label")
    return [EntryRef(id=pk, cidr=cidr, label=label) for pk, cidr, label in rows]


def compiled_for(organization_id: int, allowlist_id: int, version: int) -> CompiledAllowlist:
    """The compiled entries of ``organization_id`` at ``version`` of its allowlist row ``allowlist_id``;
    loaded and compiled on a cache miss.

    Call only with a ``version`` just read from the database (``load_policy``), never a remembered one. The key
    holds the row id too, so a deleted and re-created allowlist (version back at 1) cannot hit an old entry.
    """
    key = (allowlist_id, version)
    with _matchers_lock:
        matcher = _matchers.get(key)
        if matcher is not None:
            _matchers.move_to_end(key)
            return matcher
    matcher = compile_allowlist(load_entries(organization_id))
    with _matchers_lock:
        _matchers[key] = matcher
        _matchers.move_to_end(key)
        while len(_matchers) > MATCHER_CACHE_SIZE:
            _matchers.popitem(last=False)
    return matcher


def cached_versions() -> list[tuple[int, int]]:
    """The (allowlist row id, version) keys this process holds compiled matchers for (oldest first)."""
    with _matchers_lock:
        return list(_matchers)


def clear_matcher_cache() -> None:
    """Forget every compiled matcher of this process (tests; never needed for correctness)."""
    with _matchers_lock:
        _matchers.clear()
