"""Admin API scopes a key may hold, and who may hold which.

A key reaches the admin API (``/api/v1/orgs/<org_slug>/``) only through the scopes stored on it
(``APIKey.scopes``); a key without scopes (every key issued before scopes existed) keeps working for the
endpoints it always served (``whoami``, projects) and reaches no admin endpoint. Scopes narrow, they never widen: a
request also needs the role the key acts with (``acting_role``) to allow the same thing on the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable

from orgsecurity.roles import Role

SECURITY_READ = "security:read"
SECURITY_WRITE = "security:write"
MEMBERS_READ = "members:read"
MEMBERS_WRITE = "members:write"
AUDIT_READ = "audit:read"

SCOPES: dict[str, str] = {
    SECURITY_READ: "Read security settings",
    SECURITY_WRITE: "Change security settings",
    MEMBERS_READ: "Read members",
    MEMBERS_WRITE: "Change members' roles and remove members",
    AUDIT_READ: "Read the audit log",
}
"""Every scope with the phrase the key form shows, in display order."""

WRITE_SCOPES = frozenset({SECURITY_WRITE, MEMBERS_WRITE})
WRITE_SCOPE_HOLDERS = frozenset({Role.OWNER, Role.ADMIN})


def normalize_scopes(values: Iterable[str]) -> list[str]:
    """The distinct scope names of ``values`` in the order of ``SCOPES``; raises ValueError naming an unknown one."""
    wanted = {str(value).strip() for value in values if str(value).strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a scope; choose from {', '.join(SCOPES)}.")
    return [scope for scope in SCOPES if scope in wanted]


def scope_refusal(scopes: Iterable[str], *, holder_role: str | None, granter_role: str) -> str | None:
    """Why a key with ``scopes`` may not be issued, or None when it may.

    ``holder_role``: the role of the person who will own a personal key, None for a service-account key (which acts
    with admin rights); ``granter_role``: the role of whoever issues it. Only owners' and admins' personal keys hold
    write scopes, and only owners give write scopes to a service account's key.
    """
    writes = sorted(set(scopes) & WRITE_SCOPES)
    if not writes:
        return None
    if holder_role is None:
        if granter_role != Role.OWNER:
            return f"Only owners can give a service account's key the {writes[0]} scope."
        return None
    if holder_role not in WRITE_SCOPE_HOLDERS:
        return f"Only owners' and admins' keys may hold the {writes[0]} scope."
    return None


def acting_role(key: object) -> str | None:
    """The role ``key`` acts with: its owner's current role (``owner_role``, annotated by
    ``keys.authentication.lookup_key``) for a personal key, admin for a service account's key."""
    if getattr(key, "owner_service_account_id", None) is not None:
        return Role.ADMIN
    return getattr(key, "owner_role", None)
