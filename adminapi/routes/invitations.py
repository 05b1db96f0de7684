"""Invitations over the admin API: list the pending ones, invite (the link goes only to the invitee's email),
revoke, through the members page's actions (``orgsecurity.actions``); no key invites an owner."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Path, Query

from adminapi import schemas_org
from adminapi.access import KeyAccess, org_access
from adminapi.concurrency import idempotent
from adminapi.core import ERRORS, MAX_ID, api, delegated, invalid
from adminapi.errors import refused
from keys import scopes
from orgsecurity.actions import invite_member, reconfirmation_reasons, revoke_invitation
from orgsecurity.models import Invitation
from orgsecurity.roles import Role

TAGS = ["invitations"]


def invitation_document(invitation: Invitation, reasons: dict[int, str]) -> dict[str, Any]:
    """``invitation`` as the API shows it (never its token); ``reasons``: ``reconfirmation_reasons`` of its page."""
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": invitation.invited_by.email if invitation.invited_by else None,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
        "revoked_at": invitation.revoked_at,
        "needs_reconfirmation": reasons.get(invitation.pk),
    }


def _answer(invitation: Invitation, status: int = 200) -> HttpResponse:
    invitation = Invitation.objects.select_related("invited_by").get(pk=invitation.pk)
    document = invitation_document(invitation, reconfirmation_reasons([invitation]))
    return JsonResponse(schemas_org.InvitationOut(**document).model_dump(mode="json"), status=status)


@api.get(
    "/orgs/{org_slug}/invitations",
    response={200: schemas_org.InvitationPage, **ERRORS},
    summary="Pending invitations",
    tags=TAGS,
)
def list_invitations(
    request: HttpRequest, org_slug: str, after: int = Query(0, ge=0, le=MAX_ID), limit: int = Query(100, ge=1, le=500)
) -> dict[str, Any]:
    """Scope ``members:read``. Invitations neither accepted, revoked nor expired, by id, ``limit`` per page from
    after the id ``after``; ``needs_reconfirmation`` says why a link stopped working (its sender may no longer
    send it), as on the members page. Three queries whatever the page size."""
    access = org_access(request, org_slug, scopes.MEMBERS_READ)
    rows = list(
        Invitation.objects.filter(
            organization_id=access.organization.pk,
            accepted_at=None,
            revoked_at=None,
            expires_at__gt=timezone.now(),
            pk__gt=after,
        )
        .select_related("invited_by")
        .order_by("pk")[: limit + 1]
    )
    shown = rows[:limit]
    reasons = reconfirmation_reasons(shown) if shown else {}
    return {
        "invitations": [invitation_document(invitation, reasons) for invitation in shown],
        "next_after": shown[-1].pk if len(rows) > limit else None,
    }


@api.post(
    "/orgs/{org_slug}/invitations",
    response={201: schemas_org.InvitationOut, **ERRORS},
    summary="Invite someone by email",
    tags=TAGS,
)
def create_invitation(request: HttpRequest, org_slug: str, payload: schemas_org.InvitationIn) -> HttpResponse:
    """Scope ``members:write``; accepts ``Idempotency-Key`` (a retry sends no second email). The members page's
    action: the invitee gets the one-time link by email (it is never in the answer); the person behind the key
    vouches for it, so a service account's key is refused (403 ``role_not_allowed``). 409 ``already_member``,
    ``already_invited``, ``member_suspended``; 403 ``role_not_allowed`` for a role the key's role may not grant."""
    access = org_access(request, org_slug, scopes.MEMBERS_WRITE)
    try:
        validate_email(payload.email.strip())  # as the members page's form (RFC 5322 addr-spec, Django's reading)
    except ValidationError:
        return invalid(
            "Check the request: email: Enter a valid email address.", {"email": "Enter a valid email address."}
        )
    if payload.role == Role.OWNER:
        raise refused(
            "owner_change_not_allowed", "No API key invites an owner; an owner does that on the members page."
        )

    def run() -> HttpResponse:
        invitation, _token = invite_member(
            access.organization, actor=delegated(access), email=payload.email, role=payload.role
        )
        return _answer(invitation, status=201)

    return idempotent(request, access.key.pk, run)


def _invitation(access: KeyAccess, invitation_id: int) -> Invitation:
    invitation = (
        Invitation.objects.filter(organization_id=access.organization.pk, pk=invitation_id)
        .select_related("organization")
        .first()
    )
    if invitation is None:
        raise refused("not_found", f"There is no invitation {invitation_id} in this organization.", 404)
    return invitation


@api.post(
    "/orgs/{org_slug}/invitations/{invitation_id}/revoke",
    response={200: schemas_org.InvitationOut, **ERRORS},
    summary="Revoke a pending invitation",
    tags=TAGS,
)
def revoke(request: HttpRequest, org_slug: str, invitation_id: int = Path(..., ge=1, le=MAX_ID)) -> HttpResponse:
    """Scope ``members:write``. Its link stops working. 409 ``not_pending`` for one accepted or revoked already;
    403 ``role_not_allowed`` for an invitation to a role the key's role may not grant (admins: owner)."""
    access = org_access(request, org_slug, scopes.MEMBERS_WRITE)
    invitation = _invitation(access, invitation_id)
    revoke_invitation(invitation, actor=delegated(access))
    return _answer(invitation)
