"""Members over the admin API: list (with SSO link and two-factor status), change role, remove; no key ever grants,
demotes or removes an owner."""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Path, Query

from adminapi import schemas, schemas_org
from adminapi.access import org_access
from adminapi.concurrency import etag_of, require_if_match, with_etag
from adminapi.core import ERRORS, MAX_ID, api, delegated
from adminapi.errors import refused
from keys import scopes
from orgsecurity.actions import change_role, preview_change_role, preview_remove_member, remove_member
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from sso.models import SSOIdentity
from twofactor.models import TOTPDevice, WebAuthnCredential


def member_values(membership: Membership) -> dict[str, Any]:
    """What a membership's ETag versions: its id and role."""
    return {"id": membership.pk, "role": membership.role}


def member_document(membership: Membership) -> dict[str, Any]:
    return {
        "id": membership.pk,
        "email": membership.user.email,
        "name": membership.user.name,
        "role": membership.role,
        "joined_at": membership.created_at,
        "etag": etag_of(member_values(membership)),
    }


def member_status_document(membership: Membership, links: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """``membership`` (annotated with ``has_totp`` and ``has_passkey``) with its SSO links (``links``: user id ->
    the person's linked identities) and two-factor status."""
    factors = [
        kind for kind, present in (("totp", membership.has_totp), ("passkey", membership.has_passkey)) if present
    ]
    return {
        **member_document(membership),
        "suspended": membership.suspended_at is not None,
        "sso": links.get(membership.user_id, []),
        "two_factor": {"enabled": bool(factors), "factors": factors},
    }


def sso_links(organization_id: int, user_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """User id -> the SSO identities linked to that person at ``organization_id``'s connections (one query)."""
    identities = (
        SSOIdentity.objects.filter(connection__organization_id=organization_id, user_id__in=user_ids)
        .select_related("connection")
        .order_by("connection_id")
    )
    links: dict[int, list[dict[str, Any]]] = {}
    for identity in identities:
        connection = identity.connection
        links.setdefault(identity.user_id, []).append(
            {
                "connection_id": connection.pk,
                "connection_name": connection.name or connection.get_protocol_display(),
                "protocol": connection.protocol,
                "linked_at": identity.created_at,
            }
        )
    return links


@api.get(
    "/orgs/{org_slug}/members",
    response={200: schemas_org.MemberStatusPage, **ERRORS},
    summary="Members with their roles, SSO links and two-factor status",
    tags=["members"],
)
def list_members(
    request: HttpRequest, org_slug: str, after: int = Query(0, ge=0, le=MAX_ID), limit: int = Query(100, ge=1, le=500)
) -> dict[str, Any]:
    """Scope ``members:read``. Memberships by id, ``limit`` per page from after the id ``after``, each with the SSO
    identities linked to the person (which connection) and their second factors (``totp``, ``passkey``).
    Suspended (deprovisioned) members are listed, marked, as the members page shows them to managers. Two queries
    whatever the page size."""
    access = org_access(request, org_slug, scopes.MEMBERS_READ)
    rows = list(
        # includes suspended: listed and marked for managers, as on the members page
        Membership.objects.filter(organization_id=access.organization.pk, pk__gt=after)
        .select_related("user")
        .annotate(
            has_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("user"))),
            has_passkey=Exists(WebAuthnCredential.objects.filter(user=OuterRef("user"))),
        )
        .order_by("pk")[: limit + 1]
    )
    shown = rows[:limit]
    links = sso_links(access.organization.pk, [membership.user_id for membership in shown]) if shown else {}
    return {
        "members": [member_status_document(membership, links) for membership in shown],
        "next_after": shown[-1].pk if len(rows) > limit else None,
    }


def _membership(access: Any, membership_id: int) -> Membership:
    membership = (
        Membership.objects.filter(organization_id=access.organization.pk, pk=membership_id)
        .select_related("user", "organization")
        .first()
    )
    if membership is None:
        raise refused("not_found", f"There is no member {membership_id} in this organization.", 404)
    return membership


def _refuse_owner_change(membership: Membership, role: str | None) -> None:
    if membership.role == Role.OWNER or role == Role.OWNER:
        raise refused(
            "owner_change_not_allowed",
            "No API key grants, demotes or removes an owner; an owner does that on the members page.",
        )


@api.patch(
    "/orgs/{org_slug}/members/{membership_id}",
    response={200: schemas.MemberOut, **ERRORS},
    summary="Change a member's role",
    tags=["members"],
)
def change_member_role(
    request: HttpRequest, org_slug: str, payload: schemas.MemberPatch, membership_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``members:write``; ``If-Match`` required. Never to or from owner (403 ``owner_change_not_allowed``);
    otherwise the members page's action with its refusals."""
    access = org_access(request, org_slug, scopes.MEMBERS_WRITE)
    membership = _membership(access, membership_id)
    require_if_match(request, member_values(membership))
    _refuse_owner_change(membership, payload.role)
    changed = change_role(membership, actor=delegated(access), role=payload.role)
    changed = _membership(access, changed.pk)
    document = member_document(changed)
    return with_etag(JsonResponse(schemas.MemberOut(**document).model_dump(mode="json")), member_values(changed))


@api.delete(
    "/orgs/{org_slug}/members/{membership_id}",
    response={204: None, **ERRORS},
    summary="Remove a member",
    tags=["members"],
)
def delete_member(request: HttpRequest, org_slug: str, membership_id: int = Path(..., ge=1, le=MAX_ID)) -> HttpResponse:
    """Scope ``members:write``; ``If-Match`` required. Never an owner (403 ``owner_change_not_allowed``); their
    personal keys are revoked in the same transaction, as on the members page."""
    access = org_access(request, org_slug, scopes.MEMBERS_WRITE)
    membership = _membership(access, membership_id)
    require_if_match(request, member_values(membership))
    _refuse_owner_change(membership, None)
    remove_member(membership, actor=delegated(access))
    return HttpResponse(status=204)


@api.get(
    "/orgs/{org_slug}/members/{membership_id}/removal/preview",
    response={200: schemas.ImpactOut, **ERRORS},
    summary="Who and what removing a member affects",
    tags=["members"],
)
def preview_member_removal(
    request: HttpRequest, org_slug: str, response: HttpResponse, membership_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Scope ``members:read``. The members page's confirmation list (``orgsecurity.actions.preview_remove_member``):
    the person, the teams they leave, the invitations they sent that are revoked, their keys revoked and flagged and
    the sessions that lose the organization; the membership's ETag in the ``ETag`` header (send it as ``If-Match``
    with the ``DELETE``)."""
    access = org_access(request, org_slug, scopes.MEMBERS_READ)
    membership = _membership(access, membership_id)
    response["ETag"] = etag_of(member_values(membership))
    return preview_remove_member(access.organization, membership).as_dict()


@api.get(
    "/orgs/{org_slug}/members/{membership_id}/role/preview",
    response={200: schemas.ImpactOut, **ERRORS},
    summary="What a role change affects",
    tags=["members"],
)
def preview_member_role(
    request: HttpRequest,
    org_slug: str,
    response: HttpResponse,
    membership_id: int = Path(..., ge=1, le=MAX_ID),
    role: Literal["owner", "admin", "billing", "member", "auditor"] = Query(..., description="The role to give."),
) -> dict[str, Any]:
    """Scope ``members:read``. The members page's confirmation list (``orgsecurity.actions.preview_change_role``):
    the person, the personal keys the new role may not hold (revoked with the change), service-account keys whose
    secret they saw (flagged), and a note when the change will be refused (the last owner); the membership's ETag
    in the ``ETag`` header (send it as ``If-Match`` with the ``PATCH``)."""
    access = org_access(request, org_slug, scopes.MEMBERS_READ)
    membership = _membership(access, membership_id)
    response["ETag"] = etag_of(member_values(membership))
    return preview_change_role(access.organization, membership, role).as_dict()
