"""Organization roles and what each may do: the one table every permission check reads."""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    """A member's role in one organization."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    BILLING = "billing", "Billing"
    MEMBER = "member", "Member"
    AUDITOR = "auditor", "Auditor"


class Capability(StrEnum):
    """Something a role may do inside an organization."""

    VIEW_ORG = "view_org"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_BILLING = "manage_billing"
    MANAGE_SECURITY = "manage_security"
    VIEW_AUDIT = "view_audit"
    MANAGE_AUDIT_LOG = "manage_audit_log"  # where the audit log streams to and how long it is kept: owners


CAPABILITIES: dict[Capability, frozenset[Role]] = {
    Capability.VIEW_ORG: frozenset(Role),
    Capability.MANAGE_MEMBERS: frozenset({Role.OWNER, Role.ADMIN}),
    Capability.MANAGE_BILLING: frozenset({Role.OWNER, Role.BILLING}),
    Capability.MANAGE_SECURITY: frozenset({Role.OWNER, Role.ADMIN}),
    Capability.VIEW_AUDIT: frozenset({Role.OWNER, Role.ADMIN, Role.AUDITOR}),
    Capability.MANAGE_AUDIT_LOG: frozenset({Role.OWNER}),
}


def has_capability(role: str, capability: Capability) -> bool:
    """Return True when ``role`` (a Role value) grants ``capability``."""
    return role in CAPABILITIES[capability]


def roles_assignable_by(actor_role: str) -> list[Role]:
    """Roles that a member with ``actor_role`` may give to others: only owners grant owner."""
    if actor_role == Role.OWNER:
        return list(Role)
    if actor_role == Role.ADMIN:
        return [role for role in Role if role != Role.OWNER]
    return []
