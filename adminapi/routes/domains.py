"""Verified email domains over the admin API: list, claim (answering the DNS TXT record that proves it), check
(the dashboard's DNS verification), preview the removal, remove (``If-Match`` and the organization's slug typed
back), through ``sso.domains.verification``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Path, Query

from adminapi import schemas, schemas_org
from adminapi.access import KeyAccess, org_access
from adminapi.concurrency import etag_of, idempotent, require_if_match, with_etag
from adminapi.core import ERRORS, MAX_ID, api, delegated
from adminapi.errors import refused
from keys import scopes
from sso.connections.preview import preview_remove_domain
from sso.domains import verification
from sso.models import VerifiedDomain

TAGS = ["verified domains"]


def domain_values(claimed: VerifiedDomain) -> dict[str, Any]:
    """What a domain's ETag versions: its id, name and when it was verified."""
    verified_at = claimed.verified_at.isoformat() if claimed.verified_at else None
    return {"id": claimed.pk, "domain": claimed.domain, "verified_at": verified_at}


def domain_document(claimed: VerifiedDomain) -> dict[str, Any]:
    """The domain as the API shows it, with the TXT record that proves it (the dashboard's instructions)."""
    return {
        "id": claimed.pk,
        "domain": claimed.domain,
        "verified": claimed.is_verified,
        "verified_at": claimed.verified_at,
        "verified_via": claimed.verified_via or None,
        "created_at": claimed.created_at,
        "verification": {
            "type": "TXT",
            "name": verification.txt_record_name(claimed),
            "value": verification.txt_record_value(claimed),
        },
        "etag": etag_of(domain_values(claimed)),
    }


def _answer(claimed: VerifiedDomain, status: int = 200) -> HttpResponse:
    body = schemas_org.DomainOut(**domain_document(claimed)).model_dump(mode="json")
    return with_etag(JsonResponse(body, status=status), domain_values(claimed))


def _domain(access: KeyAccess, domain_id: int) -> VerifiedDomain:
    claimed = (
        VerifiedDomain.objects.filter(organization_id=access.organization.pk, pk=domain_id)
        .select_related("organization")
        .first()
    )
    if claimed is None:
        raise refused("not_found", f"There is no domain {domain_id} in this organization.", 404)
    return claimed


@api.get(
    "/orgs/{org_slug}/domains",
    response={200: schemas_org.DomainList, **ERRORS},
    summary="Claimed and verified email domains",
    tags=TAGS,
)
def list_domains(request: HttpRequest, org_slug: str) -> dict[str, Any]:
    """Scope ``security:read``. Every domain the organization claimed (at most 50), by name, each with the TXT
    record that proves it."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    claimed = VerifiedDomain.objects.filter(organization_id=access.organization.pk).order_by("domain")
    return {"domains": [domain_document(domain) for domain in claimed]}


@api.post(
    "/orgs/{org_slug}/domains",
    response={201: schemas_org.DomainOut, **ERRORS},
    summary="Claim an email domain (answers the DNS TXT record to add)",
    tags=TAGS,
)
def claim_domain(request: HttpRequest, org_slug: str, payload: schemas_org.DomainIn) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. The domain counts once verified: add the TXT record
    of ``verification``, then ``POST …/domains/{id}/check``. As on the page: 400 ``bad_domain``, 409 ``duplicate``
    or ``verified_elsewhere``, 400 ``too_many``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)

    def run() -> HttpResponse:
        claimed = verification.claim(access.organization, actor=delegated(access), domain=payload.domain)
        response = _answer(claimed, status=201)
        response["Location"] = f"/api/v1/orgs/{access.organization.slug}/domains/{claimed.pk}"
        return response

    return idempotent(request, access.key.pk, run)


@api.get(
    "/orgs/{org_slug}/domains/{domain_id}",
    response={200: schemas_org.DomainOut, **ERRORS},
    summary="One domain, with its verification instructions",
    tags=TAGS,
)
def get_domain(request: HttpRequest, org_slug: str, domain_id: int = Path(..., ge=1, le=MAX_ID)) -> HttpResponse:
    """Scope ``security:read``. The domain with its ETag (also in the ``ETag`` header)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    return _answer(_domain(access, domain_id))


@api.post(
    "/orgs/{org_slug}/domains/{domain_id}/check",
    response={200: schemas_org.DomainOut, **ERRORS},
    summary="Look up the domain's TXT record and verify it",
    tags=TAGS,
)
def check_domain(request: HttpRequest, org_slug: str, domain_id: int = Path(..., ge=1, le=MAX_ID)) -> HttpResponse:
    """Scope ``security:write``. The dashboard's "Verify": looks the TXT record up in DNS and marks the domain
    verified when it holds the challenge (a verified domain is answered as it is). Refusals say what DNS
    answered, as on the page: 400 ``nxdomain``, ``no_txt``, ``txt_mismatch``, ``dns_timeout``, ``dns_error``;
    409 ``verified_elsewhere``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    claimed = _domain(access, domain_id)
    if not claimed.is_verified:
        claimed = verification.verify_by_dns(claimed, actor=delegated(access))  # DNS outside any transaction
    return _answer(claimed)


@api.get(
    "/orgs/{org_slug}/domains/{domain_id}/removal/preview",
    response={200: schemas.ImpactOut, **ERRORS},
    summary="Who removing the domain affects",
    tags=TAGS,
)
def preview_domain_removal(
    request: HttpRequest, org_slug: str, response: HttpResponse, domain_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Scope ``security:read``. The dashboard's confirmation list (``sso.connections.preview.preview_remove_domain``):
    the members who lose home-realm discovery and being linked by email; the domain's ETag in the ``ETag`` header."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    claimed = _domain(access, domain_id)
    response["ETag"] = etag_of(domain_values(claimed))
    return preview_remove_domain(claimed).as_dict()


@api.delete(
    "/orgs/{org_slug}/domains/{domain_id}",
    response={204: None, **ERRORS},
    summary="Remove a domain (confirm with the organization's slug)",
    tags=TAGS,
)
def delete_domain(
    request: HttpRequest,
    org_slug: str,
    domain_id: int = Path(..., ge=1, le=MAX_ID),
    confirm: str = Query(..., max_length=100, description="The organization's slug, typed back (as on the page)."),
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required (428 without, 412 when changed). Read
    ``…/removal/preview`` first; ``?confirm=<org slug>`` says you did (400 ``confirmation_required`` otherwise).
    Email-first sign-in stops routing the domain to the IdP, and the IdP's answers no longer link or create
    accounts by email."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    claimed = _domain(access, domain_id)
    require_if_match(request, domain_values(claimed))
    if confirm != access.organization.slug:
        raise refused(
            "confirmation_required",
            "Read GET …/removal/preview, then confirm with ?confirm= and the organization's slug.",
            400,
        )
    verification.remove(claimed, actor=delegated(access))
    return HttpResponse(status=204)
