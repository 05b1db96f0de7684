"""API keys over the admin API: list, rotate (the new secret shown once), revoke, through ``keys.actions``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Path, Query

from adminapi import schemas
from adminapi.access import org_access, refuse_beyond_calling_key
from adminapi.concurrency import idempotent
from adminapi.core import ERRORS, MAX_ID, api, delegated
from adminapi.errors import refused
from keys import scopes
from keys.actions import revoke_api_key, rotate_api_key
from keys.models import APIKey
from keys.preview import preview_revoke_key


def key_document(key: APIKey) -> dict[str, Any]:
    account = key.owner_service_account
    return {
        "id": key.pk,
        "prefix": key.prefix,
        "name": key.name,
        "owner": key.owner_display,
        "service_account": account.name if account else None,
        "permission": key.permission,
        "scopes": list(key.scopes or []),
        "expires_at": key.expires_at,
        "created_at": key.created_at,
        "rotated_at": key.rotated_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


@api.get("/orgs/{org_slug}/keys", response={200: schemas.KeyPage, **ERRORS}, summary="API keys", tags=["api keys"])
def list_keys(
    request: HttpRequest, org_slug: str, after: int = Query(0, ge=0, le=MAX_ID), limit: int = Query(100, ge=1, le=500)
) -> dict[str, Any]:
    """Scope ``security:read``. Every key of the organization by id (never a secret)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    rows = list(
        APIKey.objects.filter(organization_id=access.organization.pk, pk__gt=after)
        .select_related("owner_service_account")
        .order_by("pk")[: limit + 1]
    )
    shown = rows[:limit]
    return {"keys": [key_document(key) for key in shown], "next_after": shown[-1].pk if len(rows) > limit else None}


def _key(access: Any, key_id: int) -> APIKey:
    key = (
        APIKey.objects.filter(organization_id=access.organization.pk, pk=key_id)
        .select_related("organization", "owner_service_account")
        .first()
    )
    if key is None:
        raise refused("not_found", f"There is no API key {key_id} in this organization.", 404)
    return key


@api.post(
    "/orgs/{org_slug}/keys/{key_id}/rotate",
    response={200: schemas.RotatedKey, **ERRORS},
    summary="Rotate a key (the new secret is shown once)",
    tags=["api keys"],
)
def rotate_key(
    request: HttpRequest, org_slug: str, payload: schemas.RotateIn, key_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key`` (a replay answers the key with ``token`` null).
    The page's rules: a service account's key by owners' and admins' keys (and service accounts' keys), a personal
    key only by its owner's own key; 409 ``inactive`` for a revoked or expired key. 403 ``scope_not_allowed`` for a
    key that reaches further than the calling key (a scope, write permission, a team, project, workload or network
    it lacks, a later expiry): rotating it would hand the caller that key's new secret."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    key = _key(access, key_id)
    refuse_beyond_calling_key(access.key, key)

    def run() -> HttpResponse:
        overlap = timedelta(seconds=payload.overlap_seconds)
        rotated, token = rotate_api_key(key, actor=delegated(access), overlap=overlap)
        body = schemas.RotatedKey(key=key_document(rotated), token=token).model_dump(mode="json")
        response = JsonResponse(body)
        response["Cache-Control"] = "no-store"
        return response

    return idempotent(request, access.key.pk, run, secret_fields=("token",))


@api.post(
    "/orgs/{org_slug}/keys/{key_id}/revoke",
    response={200: schemas.KeyOut, **ERRORS},
    summary="Revoke a key now",
    tags=["api keys"],
)
def revoke_key(
    request: HttpRequest, org_slug: str, payload: schemas.RevokeIn, key_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``. 409 ``already_revoked`` as on the page; the reason is kept with the key."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    revoked = revoke_api_key(_key(access, key_id), actor=delegated(access), reason=payload.reason)
    return JsonResponse(schemas.KeyOut(**key_document(revoked)).model_dump(mode="json"))


@api.get(
    "/orgs/{org_slug}/keys/{key_id}/revocation/preview",
    response={200: schemas.ImpactOut, **ERRORS},
    summary="What revoking a key affects",
    tags=["api keys"],
)
def preview_key_revocation(
    request: HttpRequest, org_slug: str, key_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Scope ``security:read``. The keys page's confirmation list (``keys.preview.preview_revoke_key``): the key,
    what last used it, its previous secret still valid after a rotation, and a note when it was used recently."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    return preview_revoke_key(access.organization, _key(access, key_id)).as_dict()
