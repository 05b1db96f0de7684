"""Recovery (break-glass) accounts over the admin API: list, designate, remove, through ``sso.recovery.accounts``
with the dashboard's guardrails: owners only, and while SSO is enforced the last usable owner recovery account
stays. Recovery codes are generated only by the account's own person on the dashboard (never over the API)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Path

from adminapi import schemas_org
from adminapi.access import KeyAccess, org_access
from adminapi.concurrency import etag_of, idempotent, require_if_match
from adminapi.core import ERRORS, MAX_ID, api, delegated
from adminapi.errors import refused
from keys import scopes
from orgsecurity.models import Membership
from sso.models import RecoveryAccount, SSOConnection
from sso.recovery import accounts as recovery
from sso.rollout.readiness import usable_recovery_accounts

TAGS = ["recovery accounts"]


def account_values(account: RecoveryAccount) -> dict[str, Any]:
    """What a recovery account's ETag versions: its id, its member and when codes were last generated."""
    generated = account.codes_generated_at.isoformat() if account.codes_generated_at else None
    return {"id": account.pk, "membership_id": account.membership_id, "codes_generated_at": generated}


def _accounts(organization_id: int) -> Any:
    return (
        RecoveryAccount.objects.filter(organization_id=organization_id)
        .select_related("membership__user")
        .annotate(unused=Count("codes", filter=Q(codes__used_at__isnull=True)))
        .order_by("membership__user__email", "pk")
    )


def account_document(account: RecoveryAccount, usable: set[int]) -> dict[str, Any]:
    """``account`` (annotated with ``unused``) as the API shows it; ``usable``: ids of the accounts that can get
    someone in (``sso.rollout.readiness.usable_recovery_accounts``)."""
    return {
        "id": account.pk,
        "membership_id": account.membership_id,
        "email": account.membership.user.email,
        "role": account.membership.role,
        "designated_at": account.created_at,
        "codes_generated_at": account.codes_generated_at,
        "unused_codes": account.unused,
        "usable": account.pk in usable,
        "etag": etag_of(account_values(account)),
    }


def _usable(organization_id: int) -> set[int]:
    return set(usable_recovery_accounts(organization_id).values_list("pk", flat=True))


@api.get(
    "/orgs/{org_slug}/recovery-accounts",
    response={200: schemas_org.RecoveryAccountList, **ERRORS},
    summary="Recovery (break-glass) accounts",
    tags=TAGS,
)
def list_recovery_accounts(request: HttpRequest, org_slug: str) -> dict[str, Any]:
    """Scope ``security:read``. The recovery accounts (a handful) by email, with their unused codes and whether
    each can get someone in now; never a code. Three queries whatever their number."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    organization_id = access.organization.pk
    usable = _usable(organization_id)
    enforced = SSOConnection.objects.filter(
        organization_id=organization_id, status=SSOConnection.Status.ENFORCED
    ).exists()
    return {
        "accounts": [account_document(account, usable) for account in _accounts(organization_id)],
        "sso_enforced": enforced,
    }


def _account(access: KeyAccess, account_id: int) -> RecoveryAccount:
    account = _accounts(access.organization.pk).filter(pk=account_id).first()
    if account is None:
        raise refused("not_found", f"There is no recovery account {account_id} in this organization.", 404)
    return account


@api.post(
    "/orgs/{org_slug}/recovery-accounts",
    response={201: schemas_org.RecoveryAccountOut, **ERRORS},
    summary="Make an owner or admin a recovery account",
    tags=TAGS,
)
def designate_recovery_account(
    request: HttpRequest, org_slug: str, payload: schemas_org.RecoveryAccountIn
) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. Owners only, as on the page (an owner's own key: 403
    ``owners_only`` otherwise, a service account's key included). 400 ``bad_role`` for another role, 400
    ``no_password`` for someone who signs in through SSO only, 409 ``duplicate``. The person then generates their
    codes on the dashboard."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)

    def run() -> HttpResponse:
        membership = (
            Membership.objects.active().filter(organization_id=access.organization.pk, pk=payload.membership_id).first()
        )
        if membership is None:
            raise refused("not_found", f"There is no member {payload.membership_id} in this organization.", 404)
        account = recovery.designate(access.organization, actor=delegated(access), membership=membership)
        document = account_document(_account(access, account.pk), _usable(access.organization.pk))
        body = schemas_org.RecoveryAccountOut(**document).model_dump(mode="json")
        response = JsonResponse(body, status=201)
        response["ETag"] = document["etag"]
        return response

    return idempotent(request, access.key.pk, run)


@api.delete(
    "/orgs/{org_slug}/recovery-accounts/{account_id}",
    response={204: None, **ERRORS},
    summary="Take a recovery account's break-glass access away",
    tags=TAGS,
)
def remove_recovery_account(
    request: HttpRequest, org_slug: str, account_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required. Owners only (403 ``owners_only``). While SSO is enforced,
    the last owner recovery account that can get someone in stays (409 ``last_recovery_account``): make another
    owner one first, or roll SSO back."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    account = _account(access, account_id)
    require_if_match(request, account_values(account))
    recovery.remove(account, actor=delegated(access))
    return HttpResponse(status=204)
