"""The admin API under ``/api/v1/``: ``NinjaAPI`` with key authentication (``adminapi.access.KeyAuth``), JSON
errors (``adminapi.errors``), the generated OpenAPI 3.1 schema at ``/api/v1/openapi.json`` and its reference page
at ``/api/v1/docs`` (Swagger UI from django-ninja's own static files, nothing from a CDN).

Every write calls the same action function as the dashboard page (``allowlist.actions``), so the same refusals
apply with the same codes, audited with the key as actor. See the README's "Admin API" section.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Path, Query
from ninja.errors import HttpError
from ninja.parser import Parser

from adminapi import schemas
from adminapi.access import KeyAuth, org_access
from adminapi.concurrency import etag_of, idempotent, require_if_match, with_etag
from adminapi.errors import install_handlers, refused
from allowlist import actions as allowlist_actions
from allowlist.models import IPAllowlistEntry
from audit.models import AuditEvent
from audit.query import AuditFilterForm, Cursor, InvalidCursor, log_events, page_of
from keys import scopes
from keys.actions import revoke_api_key, rotate_api_key, set_key_policy
from keys.forms import PolicyForm
from keys.models import APIKey, KeyPolicy
from orgsecurity.actions import DelegatedActor, change_role, remove_member
from orgsecurity.client_ip import client_ip
from orgsecurity.jsonbody import NotJSON, parse_json
from orgsecurity.models import Membership
from orgsecurity.roles import Role
from sessions_policy.actions import update_session_policy
from sessions_policy.models import SessionPolicy
from sessions_policy.rules import SessionRules
from sso.models import SSOConnection

ENTRIES_PAGE = 200
MAX_ID = 2**63 - 1  # the largest id the database stores (bigint)
ERRORS = {code: schemas.Error for code in (400, 401, 403, 404, 409, 412, 413, 422, 428, 429)}


class ObjectBodyParser(Parser):
    """JSON bodies must be objects: a bare number, string or list is refused (400 ``bad_request``), never read as
    an empty object."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            data = parse_json(request.body or b"null")  # one reader of client JSON: nesting bounded, never a 500
        except NotJSON as exc:
            raise HttpError(400, str(exc)) from None
        if not isinstance(data, dict):
            raise HttpError(400, "Send a JSON object as the request body")
        return data


KEY_AUTH = KeyAuth()
api = NinjaAPI(
    title="orgsecurity admin API",
    version="1",
    description=(
        "Security settings, IP allowlists and the audit log of one organization, for programs. Authenticate with "
        "an API key holding the scopes each operation names: `Authorization: Bearer osk_…`."
    ),
    urls_namespace="adminapi",
    auth=KEY_AUTH,
    parser=ObjectBodyParser(),
)
KEY_AUTH.api = api
install_handlers(api)


# --- the security overview -------------------------------------------------------------------------------------


def allowlist_document(organization: Any) -> dict[str, Any]:
    """The allowlist's settings, entry count and ETag (two queries)."""
    values = allowlist_actions.settings_values(organization)
    entries = IPAllowlistEntry.objects.filter(organization=organization).count()
    return {**values, "entries": entries, "etag": etag_of(values)}


def key_policy_document(organization: Any) -> dict[str, Any]:
    policy = KeyPolicy.for_organization(organization)
    return {
        "require_expiry": policy.require_expiry,
        "max_lifetime_days": policy.max_lifetime_days,
        "allow_unrestricted": policy.allow_unrestricted,
        "allow_api_security_changes": policy.allow_api_security_changes,
    }


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
    "/orgs/{org_slug}/security",
    response={200: schemas.SecurityOverview, **ERRORS},
    summary="Every security setting of the organization",
    tags=["security"],
)
def security_overview(request: HttpRequest, org_slug: str) -> dict[str, Any]:
    """Scope ``security:read``. One document with the SSO connections, session policy, IP allowlist settings and key
    policy; a fixed number of queries whatever the organization's size."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    organization = access.organization
    connections = SSOConnection.objects.filter(organization_id=organization.pk).order_by("pk")
    return {
        "organization": {"slug": organization.slug, "name": organization.name},
        "sso_connections": [
            {"id": c.pk, "protocol": c.protocol, "name": c.name, "status": c.status}
            for c in connections.only("pk", "protocol", "name", "status")
        ],
        "session_policy": session_policy_document(organization),
        "ip_allowlist": allowlist_document(organization),
        "key_policy": key_policy_document(organization),
    }


# --- IP allowlist ----------------------------------------------------------------------------------------------


@api.get(
    "/orgs/{org_slug}/allowlist",
    response={200: schemas.AllowlistOut, **ERRORS},
    summary="The IP allowlist's settings",
    tags=["ip allowlist"],
)
def allowlist_settings(request: HttpRequest, org_slug: str, response: HttpResponse) -> dict[str, Any]:
    """Scope ``security:read``. Whether the list is on and what it guards, with its ETag (also in the ``ETag``
    header; the dashboard's allowlist form carries the same version)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    document = allowlist_document(access.organization)
    response["ETag"] = document["etag"]
    return document


def _change_settings(request: HttpRequest, org_slug: str, enabled: bool | None, scope: str | None) -> HttpResponse:
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    organization = access.organization
    current = allowlist_actions.settings_values(organization)
    require_if_match(request, current)
    allowlist_actions.update_settings(
        organization,
        actor=access.actor,
        actor_ip=client_ip(request),
        enabled=current["enabled"] if enabled is None else enabled,
        scope=current["scope"] if scope is None else scope,
    )
    document = allowlist_document(organization)
    return with_etag(JsonResponse(schemas.AllowlistOut(**document).model_dump(mode="json")), document)


@api.put(
    "/orgs/{org_slug}/allowlist",
    response={200: schemas.AllowlistOut, **ERRORS},
    summary="Replace the IP allowlist's settings",
    tags=["ip allowlist"],
)
def put_allowlist_settings(request: HttpRequest, org_slug: str, payload: schemas.AllowlistSettings) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required (428 without, 412 when changed). The dashboard's guard
    applies: 409 ``self_lockout`` when guarding dashboard pages would leave this client's IP outside the list."""
    return _change_settings(request, org_slug, payload.enabled, payload.scope)


@api.patch(
    "/orgs/{org_slug}/allowlist",
    response={200: schemas.AllowlistOut, **ERRORS},
    summary="Change some of the IP allowlist's settings",
    tags=["ip allowlist"],
)
def patch_allowlist_settings(request: HttpRequest, org_slug: str, payload: schemas.AllowlistPatch) -> HttpResponse:
    """As PUT, changing only the fields sent."""
    return _change_settings(request, org_slug, payload.enabled, payload.scope)


def entry_values(entry: IPAllowlistEntry) -> dict[str, Any]:
    """What an entry's ETag versions: its id, block and label."""
    return {"id": entry.pk, "cidr": entry.cidr, "label": entry.label}


def entry_document(entry: IPAllowlistEntry) -> dict[str, Any]:
    return {**entry_values(entry), "added_at": entry.added_at, "etag": etag_of(entry_values(entry))}


@api.get(
    "/orgs/{org_slug}/allowlist/entries",
    response={200: schemas.EntryPage, **ERRORS},
    summary="The IP allowlist's entries",
    tags=["ip allowlist"],
)
def list_entries(
    request: HttpRequest,
    org_slug: str,
    after: int = Query(0, ge=0, le=MAX_ID),
    limit: int = Query(ENTRIES_PAGE, ge=1, le=1000),
) -> dict[str, Any]:
    """Scope ``security:read``. Entries by id, ``limit`` per page from after the id ``after``."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    rows = list(
        IPAllowlistEntry.objects.filter(organization_id=access.organization.pk, pk__gt=after).order_by("pk")[
            : limit + 1
        ]
    )
    shown = rows[:limit]
    return {
        "entries": [entry_document(entry) for entry in shown],
        "next_after": shown[-1].pk if len(rows) > limit else None,
    }


@api.post(
    "/orgs/{org_slug}/allowlist/entries",
    response={201: schemas.EntriesAdded, **ERRORS},
    summary="Add one entry",
    tags=["ip allowlist"],
)
def add_entry(request: HttpRequest, org_slug: str, payload: schemas.EntryIn) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. 400 ``invalid_entry`` or ``duplicate_entry`` as on
    the page."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)

    def run() -> HttpResponse:
        result = allowlist_actions.add_entry(access.organization, payload.cidr, actor=access.actor, label=payload.label)
        return _added(result)

    return idempotent(request, access.key.pk, run)


@api.post(
    "/orgs/{org_slug}/allowlist/entries/bulk",
    response={201: schemas.EntriesAdded, **ERRORS},
    summary="Add many entries (the page's bulk paste)",
    tags=["ip allowlist"],
)
def add_entries(request: HttpRequest, org_slug: str, payload: schemas.BulkEntriesIn) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. Any bad line refuses the whole paste (400
    ``invalid_entries`` with ``lines``); duplicates are skipped and reported in ``notices``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)

    def run() -> HttpResponse:
        result = allowlist_actions.add_entries(
            access.organization, payload.text, actor=access.actor, default_label=payload.default_label
        )
        return _added(result)

    return idempotent(request, access.key.pk, run)


def _added(result: allowlist_actions.AddResult) -> HttpResponse:
    body = {"added": [entry_document(entry) for entry in result.added], "notices": result.notices}
    return JsonResponse(schemas.EntriesAdded(**body).model_dump(mode="json"), status=201)


def _entry(organization: Any, entry_id: int) -> IPAllowlistEntry:
    entry = IPAllowlistEntry.objects.filter(organization_id=organization.pk, pk=entry_id).first()
    if entry is None:
        raise refused("not_found", f"There is no allowlist entry {entry_id} in this organization.", 404)
    return entry


@api.get(
    "/orgs/{org_slug}/allowlist/entries/{entry_id}",
    response={200: schemas.EntryOut, **ERRORS},
    summary="One entry",
    tags=["ip allowlist"],
)
def get_entry(
    request: HttpRequest, org_slug: str, response: HttpResponse, entry_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Scope ``security:read``. The entry with its ETag (also in the ``ETag`` header)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    document = entry_document(_entry(access.organization, entry_id))
    response["ETag"] = document["etag"]
    return document


@api.delete(
    "/orgs/{org_slug}/allowlist/entries/{entry_id}",
    response={204: None, **ERRORS},
    summary="Remove one entry",
    tags=["ip allowlist"],
)
def delete_entry(request: HttpRequest, org_slug: str, entry_id: int = Path(..., ge=1, le=MAX_ID)) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required. 409 ``self_lockout`` when the list guards dashboard pages
    and this client's IP would fall outside it, as on the page."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    entry = _entry(access.organization, entry_id)
    require_if_match(request, entry_values(entry))
    allowlist_actions.remove_entries(access.organization, [entry.pk], actor=access.actor, actor_ip=client_ip(request))
    return HttpResponse(status=204)


# --- audit log -------------------------------------------------------------------------------------------------


def event_document(event: AuditEvent) -> dict[str, Any]:
    target = None
    if event.target_type or event.target_label:
        target = {"type": event.target_type, "id": event.target_id, "label": event.target_label}
    return {
        "id": event.pk,
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "action": event.action,
        "category": event.category,
        "sentence": event.sentence,
        "actor": {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label},
        "target": target,
        "changes": event.changes,
        "details": event.details,
        "ip": event.ip,
        "request_id": event.request_id,
    }


@api.get(
    "/orgs/{org_slug}/audit/events",
    response={200: schemas.AuditPage, **ERRORS},
    summary="Audit events, newest first",
    tags=["audit"],
)
def audit_events(request: HttpRequest, org_slug: str, filters: Query[schemas.AuditQuery]) -> dict[str, Any]:
    """Scope ``audit:read``. The audit log's filters (the same as the dashboard's), newest first, ``limit`` per
    page; follow ``older`` with ``?cursor=`` (cursors are signed and bound to this organization's log)."""
    access = org_access(request, org_slug, scopes.AUDIT_READ)
    organization = access.organization
    data = {name: value for name, value in filters.dict().items() if name not in {"cursor", "limit"}}
    form = AuditFilterForm({name: "" if value is None else str(value) for name, value in data.items()})
    if not form.is_valid():
        fields = {name: str(errors[0]) for name, errors in form.errors.items()}
        listed = "; ".join(f"{name}: {message}" for name, message in fields.items())
        return _invalid(f"Check the filters: {listed}", fields)
    cursor = None
    if filters.cursor:
        try:
            cursor = Cursor.load(filters.cursor, organization)
        except InvalidCursor:
            return _invalid("This cursor is not one this log gave out; start again without it.", {"cursor": "invalid"})
    queryset = form.filters().apply(log_events(organization))
    page = page_of(queryset, organization, cursor, size=filters.limit)
    return {"events": [event_document(event) for event in page.events], "older": page.older, "newer": page.newer}


def _invalid(message: str, fields: dict[str, str]) -> Any:
    body = {"error": {"code": "invalid_request", "message": message, "fields": fields}}
    return JsonResponse(body, status=400)


# --- session policy --------------------------------------------------------------------------------------------


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


# --- members ---------------------------------------------------------------------------------------------------


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


@api.get(
    "/orgs/{org_slug}/members",
    response={200: schemas.MemberPage, **ERRORS},
    summary="Members with their roles",
    tags=["members"],
)
def list_members(
    request: HttpRequest, org_slug: str, after: int = Query(0, ge=0, le=MAX_ID), limit: int = Query(100, ge=1, le=500)
) -> dict[str, Any]:
    """Scope ``members:read``. Memberships by id, ``limit`` per page from after the id ``after``."""
    access = org_access(request, org_slug, scopes.MEMBERS_READ)
    rows = list(
        Membership.objects.filter(organization_id=access.organization.pk, pk__gt=after)
        .select_related("user")
        .order_by("pk")[: limit + 1]
    )
    shown = rows[:limit]
    return {
        "members": [member_document(membership) for membership in shown],
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


def _delegated(access: Any) -> DelegatedActor:
    actor = access.actor
    return DelegatedActor(actor.type, actor.id, actor.label, role=access.role, user_id=access.key.owner_user_id)


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
    changed = change_role(membership, actor=_delegated(access), role=payload.role)
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
    remove_member(membership, actor=_delegated(access))
    return HttpResponse(status=204)


# --- key policy ------------------------------------------------------------------------------------------------


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
    set_key_policy(access.organization, actor=_delegated(access), **wanted)
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


# --- API keys --------------------------------------------------------------------------------------------------


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
    key only by its owner's own key; 409 ``inactive`` for a revoked or expired key."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    key = _key(access, key_id)

    def run() -> HttpResponse:
        overlap = timedelta(seconds=payload.overlap_seconds)
        rotated, token = rotate_api_key(key, actor=_delegated(access), overlap=overlap)
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
    revoked = revoke_api_key(_key(access, key_id), actor=_delegated(access), reason=payload.reason)
    return JsonResponse(schemas.KeyOut(**key_document(revoked)).model_dump(mode="json"))
