"""The members page's reading side: one page of an organization's members (with how each signs in) and one page of
its pending invitations, searched and paginated so the page's size and query count do not grow with the org.

Each member row carries, from indexed sub-queries of the same single query (never one query per row):

- ``last_signed_in_at`` / ``last_auth_method``: the newest tracked session of that person
  (``sessions_policy.UserSession``, written by every ``orgsecurity.auth.sign_in``; index ``usersession_user_active``
  starts with the user), its method one of ``sessions_policy.models.AuthMethod``;
- ``sso_linked`` / ``sso_email``: whether the person has an identity at one of this organization's SSO connections
  (``sso.SSOIdentity``, unique per connection and user), and the email that IdP last asserted for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from orgsecurity.models import Invitation, Membership, Organization
from sessions_policy.models import AuthMethod, UserSession
from sso.models import SSOIdentity

MEMBERS_PER_PAGE = 50
INVITATIONS_PER_PAGE = 25
METHOD_LABELS = dict(AuthMethod.choices)


def members(organization: Organization, search: str = "") -> QuerySet[Membership]:
    """``organization``'s memberships ordered by email, each annotated as in the module docstring; ``search`` keeps
    those whose email or name contains it (case-insensitive)."""
    sessions = UserSession.objects.filter(user=OuterRef("user")).order_by("-authenticated_at")
    identities = SSOIdentity.objects.filter(user=OuterRef("user"), connection__organization=organization)
    queryset = (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(
            last_signed_in_at=Subquery(sessions.values("authenticated_at")[:1]),
            last_auth_method=Subquery(sessions.values("auth_method")[:1]),
            sso_linked=Exists(identities),
            sso_email=Subquery(identities.order_by("-last_login_at", "-pk").values("asserted_email")[:1]),
        )
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


def member_page(organization: Organization, search: str, number: Any) -> tuple[Page, list[MemberRow]]:
    """Page ``number`` (any text: a bad or out-of-range number gives the nearest page) of the matching members, and
    its rows. Two queries: the count and the page."""
    page = Paginator(members(organization, search), MEMBERS_PER_PAGE).get_page(number)
    rows = [
        MemberRow(
            membership,
            METHOD_LABELS.get(membership.last_auth_method or "", membership.last_auth_method or ""),
            membership.last_signed_in_at,
            membership.sso_linked,
            membership.sso_email or "",
        )
        for membership in page.object_list
    ]
    return page, rows


def invitation_page(organization: Organization, search: str, number: Any) -> Page:
    """Page ``number`` of the matching pending invitations (as ``member_page``)."""
    return Paginator(pending_invitations(organization, search), INVITATIONS_PER_PAGE).get_page(number)
