"""Org-scoped accessors: the only way views load tenant objects.

Someone who is not a member of the organization gets 404 (whether or not it exists, so slugs do not
leak); a member whose role lacks the capability gets 403. Objects of another organization are 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest

from orgsecurity.models import Membership, Organization
from orgsecurity.roles import Capability, has_capability

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class OrgContext:
    """The organization a request is about and the requesting user's membership in it."""

    organization: Organization
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role

    def can(self, capability: Capability) -> bool:
        return has_capability(self.membership.role, capability)

    @property
    def capabilities(self) -> frozenset[str]:
        """The capability names this member has (templates show only the links that will open)."""
        return frozenset(capability.value for capability in Capability if self.can(capability))


def load_org_context(request: HttpRequest, org_slug: str) -> OrgContext | None:
    """Return the requesting user's OrgContext for ``org_slug``, or None when they are not a member.

    One query (membership joined with organization and the per-organization policy rows listed in
    ``settings.ORG_CONTEXT_RELATED``, e.g. the IP allowlist), cached on the request so the pipeline checks and
    the view share it.
    """
    cache: dict[str, OrgContext | None] = request.__dict__.setdefault("_org_contexts", {})
    if org_slug not in cache:
        context = None
        if request.user.is_authenticated:
            membership = (
                # includes suspended: kept aside as suspended_membership
                Membership.objects.select_related("organization", *settings.ORG_CONTEXT_RELATED)
                .filter(organization__slug=org_slug, user=request.user)
                .first()
            )
            if membership is not None and membership.suspended_at is not None:
                # A suspended member counts as no member; kept aside for ``suspended_membership`` (same query).
                request.__dict__.setdefault("_suspended_memberships", {})[org_slug] = membership
            elif membership is not None:
                context = OrgContext(membership.organization, membership)
        cache[org_slug] = context
    return cache[org_slug]


def suspended_membership(request: HttpRequest, org_slug: str) -> Membership | None:
    """The requesting user's suspended (deprovisioned) membership of ``org_slug``, or None (an active member, or
    none at all). ``load_org_context`` answers None for it, as for a non-member; no query of its own."""
    load_org_context(request, org_slug)
    return request.__dict__.get("_suspended_memberships", {}).get(org_slug)


def org_for_member(request: HttpRequest, org_slug: str, capability: Capability | None = None) -> OrgContext:
    """Return the OrgContext for a member; raises Http404 for non-members, PermissionDenied for a
    member whose role lacks ``capability``."""
    context = load_org_context(request, org_slug)
    if context is None:
        raise Http404("No such organization.")
    if capability is not None and not context.can(capability):
        raise PermissionDenied(f"Your role ({context.membership.get_role_display()}) cannot do this here.")
    return context


def get_org_object(context: OrgContext, model: type[M] | models.QuerySet[M], **lookup: object) -> M:
    """Return the one object of ``model`` (a model or queryset) in this organization matching ``lookup``;
    raises Http404 when it does not exist or belongs to another organization."""
    queryset = model if isinstance(model, models.QuerySet) else model._default_manager.all()
    try:
        return queryset.filter(organization=context.organization).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Not found in this organization.") from exc
