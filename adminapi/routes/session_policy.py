"""The session policy over the admin API (ETag, If-Match), through ``sessions_policy.actions``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from adminapi import schemas
from adminapi.access import org_access
from adminapi.concurrency import etag_of, require_if_match, with_etag
from adminapi.core import ERRORS, api
from adminapi.errors import refused
from keys import scopes
from sessions_policy.actions import update_session_policy
from sessions_policy.models import SessionPolicy
from sessions_policy.preview import preview_session_policy
from sessions_policy.rules import SessionRules, validate


def session_policy_document(organization: Any) -> dict[str, Any]:
    saved = SessionPolicy.objects.filter(organization=organization).first()
    rules = saved.to_rules() if saved else SessionRules.defaults()
    return {
        "idle_timeout_s": rules.idle_timeout_s,
        "absolute_timeout_s": rules.absolute_timeout_s,
        "reauth_max_age_s": rules.reauth_max_age_s,
        "single_session": rules.single_session,
    }


@api.get(
    "/orgs/{org_slug}/session-policy",
    response={200: schemas.SessionPolicyWithEtag, **ERRORS},
    summary="The session policy",
    tags=["session policy"],
)
def get_session_policy(request: HttpRequest, org_slug: str, response: HttpResponse) -> dict[str, Any]:
    """Scope ``security:read``. Timeouts in seconds, with the ETag the session policy page's form also carries."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    values = session_policy_document(access.organization)
    response["ETag"] = etag_of(values)
    return {**values, "etag": etag_of(values)}


def _change_session_policy(request: HttpRequest, org_slug: str, changes: dict[str, Any]) -> HttpResponse:
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    current = session_policy_document(access.organization)
    require_if_match(request, current)
    wanted = {**current, **{name: value for name, value in changes.items() if value is not None}}
    update_session_policy(access.organization, actor=access.actor, **wanted)
    values = session_policy_document(access.organization)
    body = schemas.SessionPolicyWithEtag(**values, etag=etag_of(values)).model_dump(mode="json")
    return with_etag(JsonResponse(body), values)


@api.put(
    "/orgs/{org_slug}/session-policy",
    response={200: schemas.SessionPolicyWithEtag, **ERRORS},
    summary="Replace the session policy",
    tags=["session policy"],
)
def put_session_policy(request: HttpRequest, org_slug: str, payload: schemas.SessionPolicyIn) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required. Out-of-bounds values: 400 ``out_of_bounds`` as on the page."""
    return _change_session_policy(request, org_slug, payload.dict())


@api.patch(
    "/orgs/{org_slug}/session-policy",
    response={200: schemas.SessionPolicyWithEtag, **ERRORS},
    summary="Change some of the session policy",
    tags=["session policy"],
)
def patch_session_policy(request: HttpRequest, org_slug: str, payload: schemas.SessionPolicyPatch) -> HttpResponse:
    """As PUT, changing only the fields sent."""
    return _change_session_policy(request, org_slug, payload.dict())


@api.post(
    "/orgs/{org_slug}/session-policy/preview",
    response={200: schemas.ImpactOut, **ERRORS},
    summary="Which sessions a session policy change would end at once",
    tags=["session policy"],
)
def preview_session_policy_change(
    request: HttpRequest, org_slug: str, payload: schemas.SessionPolicyPatch
) -> dict[str, Any]:
    """Scope ``security:read``; changes nothing. The session policy page's confirmation list
    (``sessions_policy.preview.preview_session_policy``) for the values sent (fields left out keep their saved
    value): the members' open sessions the new rules would end at once."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    current = session_policy_document(access.organization)
    wanted = {**current, **{name: value for name, value in payload.dict().items() if value is not None}}
    errors = validate(wanted["idle_timeout_s"], wanted["absolute_timeout_s"], wanted["reauth_max_age_s"])
    if errors:  # the bounds the save applies (400 ``out_of_bounds``), so a preview never shows what cannot be saved
        raise refused("out_of_bounds", " ".join(errors.values()), 400)
    return preview_session_policy(access.organization, **wanted).as_dict()
