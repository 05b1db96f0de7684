"""The API key policy over the admin API (ETag, If-Match; owners only), through ``keys.actions``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from adminapi import schemas
from adminapi.access import org_access
from adminapi.concurrency import etag_of, require_if_match
from adminapi.core import ERRORS, api, delegated
from adminapi.errors import refused
from keys import scopes
from keys.actions import MAX_LIFETIME_DAYS, set_key_policy
from keys.forms import PolicyForm
from keys.models import KeyPolicy
from keys.preview import preview_key_policy


def key_policy_document(organization: Any) -> dict[str, Any]:
    policy = KeyPolicy.for_organization(organization)
    return {
        "require_expiry": policy.require_expiry,
        "max_lifetime_days": policy.max_lifetime_days,
        "allow_unrestricted": policy.allow_unrestricted,
        "allow_api_security_changes": policy.allow_api_security_changes,
    }


def key_policy_values(organization: Any) -> dict[str, Any]:
    """The key policy's saved values by the policy form's fields: what its ETag versions, the same values the key
    policy page's form carries."""
    policy = KeyPolicy.for_organization(organization)
    return {name: getattr(policy, name) for name in PolicyForm.base_fields}


def _key_policy_body(organization: Any) -> dict[str, Any]:
    values = key_policy_values(organization)
    switch = KeyPolicy.for_organization(organization).allow_api_security_changes
    return {**values, "allow_api_security_changes": switch, "etag": etag_of(values)}


@api.get(
    "/orgs/{org_slug}/key-policy",
    response={200: schemas.KeyPolicyWithEtag, **ERRORS},
    summary="The API key policy",
    tags=["key policy"],
)
def get_key_policy(request: HttpRequest, org_slug: str, response: HttpResponse) -> dict[str, Any]:
    """Scope ``security:read``. The rules for keys issued from now on, with their ETag."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    body = _key_policy_body(access.organization)
    response["ETag"] = body["etag"]
    return body


def _change_key_policy(
    request: HttpRequest, org_slug: str, changes: dict[str, Any], *, replace: bool = False
) -> HttpResponse:
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    current = key_policy_values(access.organization)
    require_if_match(request, current)
    sent = changes if replace else {name: value for name, value in changes.items() if value is not None}
    wanted = {**current, **sent}
    if wanted["max_lifetime_days"] == 0:
        wanted["max_lifetime_days"] = None
    set_key_policy(access.organization, actor=delegated(access), **wanted)
    body = _key_policy_body(access.organization)
    response = JsonResponse(schemas.KeyPolicyWithEtag(**body).model_dump(mode="json"))
    response["ETag"] = body["etag"]
    return response


@api.put(
    "/orgs/{org_slug}/key-policy",
    response={200: schemas.KeyPolicyWithEtag, **ERRORS},
    summary="Replace the API key policy",
    tags=["key policy"],
)
def put_key_policy(request: HttpRequest, org_slug: str, payload: schemas.KeyPolicyValues) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required. Owners only, as on the page: a service account's key (which
    acts as an admin) and an admin's key get 403 ``role_not_allowed``."""
    return _change_key_policy(request, org_slug, payload.dict(), replace=True)


@api.patch(
    "/orgs/{org_slug}/key-policy",
    response={200: schemas.KeyPolicyWithEtag, **ERRORS},
    summary="Change some of the API key policy",
    tags=["key policy"],
)
def patch_key_policy(request: HttpRequest, org_slug: str, payload: schemas.KeyPolicyPatch) -> HttpResponse:
    """As PUT, changing only the fields sent (``max_lifetime_days: 0`` removes the maximum)."""
    return _change_key_policy(request, org_slug, payload.dict())


@api.post(
    "/orgs/{org_slug}/key-policy/preview",
    response={200: schemas.ImpactOut, **ERRORS},
    summary="Which active keys a key policy change would find out of bounds",
    tags=["key policy"],
)
def preview_key_policy_change(request: HttpRequest, org_slug: str, payload: schemas.KeyPolicyPatch) -> dict[str, Any]:
    """Scope ``security:read``; changes nothing. The key policy page's confirmation list
    (``keys.preview.preview_key_policy``) for the values sent (fields left out keep their saved value;
    ``max_lifetime_days: 0`` removes the maximum): each active key the policy would newly find out of bounds (they
    keep working; the policy binds keys issued from now on)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    current = key_policy_values(access.organization)
    wanted = {**current, **{name: value for name, value in payload.dict().items() if value is not None}}
    if wanted["max_lifetime_days"] == 0:
        wanted["max_lifetime_days"] = None
    lifetime = wanted["max_lifetime_days"]
    if lifetime is not None and not 1 <= lifetime <= MAX_LIFETIME_DAYS:  # the bound the save applies
        raise refused("bad_lifetime", f"The maximum lifetime must be 1 to {MAX_LIFETIME_DAYS} days.", 400)
    return preview_key_policy(
        access.organization,
        require_expiry=wanted["require_expiry"],
        max_lifetime_days=wanted["max_lifetime_days"],
        allow_unrestricted=wanted["allow_unrestricted"],
    ).as_dict()
