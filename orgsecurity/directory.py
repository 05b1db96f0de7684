"""The members page's reading side: one page of an organization's members (with how each signs in) and one page of
its pending invitations, searched and paginated so the page's size and query count do not grow with the org.

Each member row carries, from indexed sub-queries of the same single query (never one query per row), the
annotations the theme apps register from their ``AppConfig.ready()`` with ``register_member_annotations`` (the core
imports no theme app):

- ``last_signed_in_at`` / ``last_auth_method``: the newest tracked session of that person (sessions_policy);
- ``sso_linked`` / ``sso_email``: whether the person has an identity at one of this organization's SSO connections,
  and the email that IdP last asserted for it (sso).

A row whose annotation no app registered reads as never signed in / not linked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.utils import timezone

from orgsecurity.models import Invitation, Membership, Organization

MEMBERS_PER_PAGE = 50
INVITATIONS_PER_PAGE = 25

# (organization) -> {annotation name: query expression over Membership}; filled by the theme apps.
MemberAnnotations = Callable[[Organization], Mapping[str, Any]]
_ANNOTATIONS: list[MemberAnnotations] = []
_METHOD_LABELS: dict[str, str] = {}


def register_member_annotations(annotations: MemberAnnotations, *, method_labels: Mapping[str, str] = ()) -> None:
    """Add sub-query annotations to every member row (names as in the module docstring), and labels for the sign-in
    method codes they produce. Call it from ``AppConfig.ready()``; registering the same function again is a no-op."""
    if annotations not in _ANNOTATIONS:
        _ANNOTATIONS.append(annotations)
    _METHOD_LABELS.update(dict(method_labels))


def members(organization: Organization, search: str = "", *, include_suspended: bool = False) -> QuerySet[Membership]:
    """``organization``'s memberships ordered by email, each annotated as in the module docstring; ``search`` keeps
    those whose email or name contains it (case-insensitive). Suspended (deprovisioned) members only with
    ``include_suspended`` (for those who manage members)."""
    annotations: dict[str, Any] = {}
    for annotate in _ANNOTATIONS:
        annotations.update(annotate(organization))
    # includes suspended: only when asked (members page, for those who manage members)
    memberships = Membership.objects.all() if include_suspended else Membership.objects.active()
    queryset = (
        memberships.filter(organization=organization)
        .select_related("user")
        .annotate(**annotations)
        .order_by("user__email")
    )
    if search:
        queryset = queryset.filter(Q(user__email__icontains=search) | Q(user__name__icontains=search))
    return queryset


def pending_invitations(organization: Organization, search: str = "") -> QuerySet[Invitation]:
    """``organization``'s invitations neither accepted, revoked nor expired, newest first; ``search`` keeps those
    whose email contains it."""
    queryset = (
        Invitation.objects.filter(
            organization=organization, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
        )
        .select_related("invited_by")
        .order_by("-created_at", "-pk")
    )
    if search:
        queryset = queryset.filter(email__icontains=search)
    return queryset


@dataclass(frozen=True)
class MemberRow:
    """One member as the page shows them: ``method`` is the label of the last sign-in method ("" when the person
    never signed in since sessions were tracked)."""

    membership: Membership
    method: str
    last_signed_in_at: Any
    sso_linked: bool
    sso_email: str


def member_page(
    organization: Organization, search: str, number: Any, *, include_suspended: bool = False
) -> tuple[Page, list[MemberRow]]:
    """Page ``number`` (any text: a bad or out-of-range number gives the nearest page) of the matching members (the
    suspended ones too with ``include_suspended``), and its rows. Two queries: the count and the page."""
    page = Paginator(members(organization, search, include_suspended=include_suspended), MEMBERS_PER_PAGE).get_page(
        number
    )
    rows = []
    for membership in page.object_list:
        method = getattr(membership, "last_auth_method", None) or ""
        rows.append(
            MemberRow(
                membership,
                _METHOD_LABELS.get(method, method),
                getattr(membership, "last_signed_in_at", None),
                bool(getattr(membership, "sso_linked", False)),
                getattr(membership, "sso_email", None) or "",
            )
        )
    return page, rows


def invitation_page(organization: Organization, search: str, number: Any) -> Page:
    """Page ``number`` of the matching pending invitations (as ``member_page``)."""
    return Paginator(pending_invitations(organization, search), INVITATIONS_PER_PAGE).get_page(number)
