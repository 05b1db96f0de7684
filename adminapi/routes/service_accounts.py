"""Service accounts and their keys over the admin API: list, create a service account, issue a key for one (the
secret shown once, never in a replay), through ``keys.actions``. Rotating and revoking a key: ``adminapi.routes.keys``.

Who may give which scopes is the keys page's rule (``keys.scopes.scope_refusal``, in the action): only an owner's
key gives a service account's key write scopes. On top of it a key never gives a key that reaches further than
itself (``adminapi.access.beyond_calling_key``: scopes, permission, teams, projects, workloads, networks, expiry;
403 ``scope_not_allowed``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Path

from adminapi import schemas_org
from adminapi.access import KeyAccess, beyond_calling_key, org_access
from adminapi.concurrency import idempotent
from adminapi.core import ERRORS, MAX_ID, api, delegated
from adminapi.errors import refused
from adminapi.routes.keys import key_document
from keys import actions, scopes
from keys.models import ServiceAccount
from orgsecurity.actions import ActionRefused

TAGS = ["service accounts"]


def _with_active_keys(queryset: Any) -> Any:
    now = timezone.now()
    live = Q(api_keys__revoked_at__isnull=True) & (
        Q(api_keys__expires_at__isnull=True) | Q(api_keys__expires_at__gt=now)
    )
    return queryset.annotate(active_keys=Count("api_keys", filter=live))


def account_document(account: ServiceAccount) -> dict[str, Any]:
    """``account`` (annotated with ``active_keys``) as the API shows it."""
    return {
        "id": account.pk,
        "name": account.name,
        "description": account.description,
        "created_at": account.created_at,
        "active_keys": account.active_keys,
    }


@api.get(
    "/orgs/{org_slug}/service-accounts",
    response={200: schemas_org.ServiceAccountList, **ERRORS},
    summary="Service accounts",
    tags=TAGS,
)
def list_service_accounts(request: HttpRequest, org_slug: str) -> dict[str, Any]:
    """Scope ``security:read``. Every service account by name, with how many live keys it holds (their details:
    ``GET …/keys``). One query whatever their number."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    accounts = _with_active_keys(ServiceAccount.objects.filter(organization_id=access.organization.pk)).order_by("name")
    return {"service_accounts": [account_document(account) for account in accounts]}


def _account(access: KeyAccess, account_id: int) -> ServiceAccount:
    account = (
        ServiceAccount.objects.filter(organization_id=access.organization.pk, pk=account_id)
        .select_related("organization")
        .first()
    )
    if account is None:
        raise refused("not_found", f"There is no service account {account_id} in this organization.", 404)
    return account


@api.post(
    "/orgs/{org_slug}/service-accounts",
    response={201: schemas_org.ServiceAccountOut, **ERRORS},
    summary="Create a service account",
    tags=TAGS,
)
def create_service_account(request: HttpRequest, org_slug: str, payload: schemas_org.ServiceAccountIn) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. Owners' and admins' keys (and service accounts'
    keys), as on the keys page. 400 ``bad_name``, 409 ``name_taken``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)

    def run() -> HttpResponse:
        account = actions.create_service_account(
            access.organization, actor=delegated(access), name=payload.name, description=payload.description
        )
        document = account_document(_with_active_keys(ServiceAccount.objects.filter(pk=account.pk)).get())
        response = JsonResponse(schemas_org.ServiceAccountOut(**document).model_dump(mode="json"), status=201)
        response["Location"] = f"/api/v1/orgs/{access.organization.slug}/service-accounts/{account.pk}"
        return response

    return idempotent(request, access.key.pk, run)


@api.post(
    "/orgs/{org_slug}/service-accounts/{account_id}/keys",
    response={201: schemas_org.CreatedKey, **ERRORS},
    summary="Issue a key for a service account (the secret is shown once)",
    tags=TAGS,
)
def create_service_key(
    request: HttpRequest,
    org_slug: str,
    payload: schemas_org.ServiceKeyIn,
    account_id: int = Path(..., ge=1, le=MAX_ID),
) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key`` (a replay answers the key with ``token`` null, never
    the secret again); answered with ``Cache-Control: no-store``. The keys page's rules, from the action: 403
    ``scope_not_allowed`` for write scopes from anyone but an owner's key, or for a key reaching further than the
    calling key (``adminapi.access.beyond_calling_key``: a scope, write permission, a team, project, workload or
    network it lacks, a later expiry); 400 ``expiry_required``, ``lifetime_too_long``, ``unrestricted_not_allowed``
    under the key policy; 400 ``bad_team``, ``bad_project``, ``bad_workload``, ``bad_cidr``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    account = _account(access, account_id)
    days = payload.expires_in_days
    expires_at = timezone.now() + timedelta(days=days) if days else None
    try:
        cidrs = actions.normalize_cidrs(payload.allowed_cidrs)
    except ActionRefused:
        cidrs = None  # the action answers 400 bad_cidr naming it
    reason = beyond_calling_key(
        access.key,
        scopes_wanted=payload.scopes,
        permission=payload.permission,
        team_ids=payload.team_ids,
        project_ids=payload.project_ids,
        workloads=[name.strip() for name in payload.workloads if name.strip()],
        allowed_cidrs=cidrs or [],
        expires_at=expires_at,
    )
    if reason is not None and cidrs is not None:
        raise refused("scope_not_allowed", reason)

    def run() -> HttpResponse:
        key, token = actions.create_api_key(
            access.organization,
            actor=delegated(access),
            name=payload.name,
            permission=payload.permission,
            service_account=account,
            team_ids=payload.team_ids,
            project_ids=payload.project_ids,
            workloads=payload.workloads,
            allowed_cidrs=payload.allowed_cidrs,
            expires_at=expires_at,
            scopes=payload.scopes,
        )
        body = schemas_org.CreatedKey(key=key_document(key), token=token).model_dump(mode="json")
        response = JsonResponse(body, status=201)
        response["Cache-Control"] = "no-store"
        return response

    return idempotent(request, access.key.pk, run, secret_fields=("token",))
