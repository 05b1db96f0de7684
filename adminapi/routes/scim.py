"""SCIM provisioning over the admin API: tokens (list, create with the secret shown once, revoke) and group
mappings (list, preview, create, replace, change, delete), through ``scim.actions``.

Who: as on the SSO page's "Provisioning (SCIM)" section, owners and admins read (``security:read``) and only owners
change anything (``security:write``). The owner rule is the actions' own (``scim.actions.require_owner``, 403
``owner_only``), so only an owner's personal key passes it: an admin's key and a service account's key (which acts
as an admin) are refused like an admin on the page. The page's re-authentication has no API counterpart: the key is
the credential, and security writes need the organization's "allow security changes through the API" switch, which
an owner turns on after re-authenticating.

A mapping change that changes anyone's role is previewed first (``GET …/scim/mappings/preview``, the Impact the
mapping page shows, ``scim.actions.preview_mapping``); the change itself is refused (400 ``confirmation_required``, as
a domain's removal) unless it carries ``"confirm": "<org slug>"`` while that preview is not empty.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Path, Query

from adminapi import schemas as common
from adminapi import schemas_integrations as schemas
from adminapi.access import KeyAccess, org_access
from adminapi.concurrency import etag_of, idempotent, require_if_match, with_etag
from adminapi.core import ERRORS, MAX_ID, api, delegated
from adminapi.errors import refused
from keys import scopes
from orgsecurity.actions import ActionRefused
from orgsecurity.impact import Impact
from orgsecurity.models import Team
from orgsecurity.roles import Role
from scim import actions as scim_actions
from scim.models import GroupMapping, ProvisioningSettings, ScimToken
from scim.resources import base_url
from sso.models import SSOConnection

TAGS = ["scim"]


# --- tokens -----------------------------------------------------------------------------------------------------


def token_document(token: ScimToken) -> dict[str, Any]:
    """A token as the API shows it: never its secret."""
    return {
        "id": token.pk,
        "prefix": token.prefix,
        "name": token.name,
        "connection_id": token.connection_id,
        "connection": token.connection.name,
        "allowed_cidrs": list(token.allowed_cidrs or []),
        "created_at": token.created_at,
        "created_by": token.created_by.email if token.created_by else None,
        "last_used_at": token.last_used_at,
        "last_used_ip": token.last_used_ip,
        "revoked_at": token.revoked_at,
    }


@api.get(
    "/orgs/{org_slug}/scim/tokens",
    response={200: schemas.ScimTokenPage, **ERRORS},
    summary="SCIM tokens (never a secret)",
    tags=TAGS,
)
def list_tokens(
    request: HttpRequest, org_slug: str, after: int = Query(0, ge=0, le=MAX_ID), limit: int = Query(100, ge=1, le=500)
) -> dict[str, Any]:
    """Scope ``security:read``. Every SCIM token of the organization by id, revoked ones included, with last use."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    rows = list(
        ScimToken.objects.filter(organization_id=access.organization.pk, pk__gt=after)
        .select_related("connection", "created_by")
        .order_by("pk")[: limit + 1]
    )
    shown = rows[:limit]
    return {
        "tokens": [token_document(token) for token in shown],
        "next_after": shown[-1].pk if len(rows) > limit else None,
    }


@api.post(
    "/orgs/{org_slug}/scim/tokens",
    response={201: schemas.ScimTokenCreated, **ERRORS},
    summary="Create a SCIM token (the secret is shown once)",
    tags=TAGS,
)
def create_token(request: HttpRequest, org_slug: str, payload: schemas.ScimTokenIn) -> HttpResponse:
    """Scope ``security:write``; owners' personal keys only (403 ``owner_only``, as on the page). Bound to one SSO
    connection of the organization (400 ``no_connection`` otherwise), optionally to networks (400 ``bad_cidr``);
    409 ``too_many_tokens`` past ten live ones. Accepts ``Idempotency-Key``: a replay answers the token with
    ``secret`` null. Answered with ``Cache-Control: no-store``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    organization = access.organization
    actor = delegated(access)
    scim_actions.require_owner(organization, actor)  # the action's rule, asked first: 403 before a 400
    connection = SSOConnection.objects.filter(pk=payload.connection_id, organization_id=organization.pk).first()
    if connection is None:
        raise ActionRefused("Choose the SSO connection of the IdP that provisions.", code="no_connection")
    cidrs = scim_actions.parse_cidrs("\n".join(payload.allowed_cidrs))

    def run() -> HttpResponse:
        token, text = scim_actions.create_token(
            organization, actor=actor, connection=connection, name=payload.name, allowed_cidrs=cidrs
        )
        token = ScimToken.objects.select_related("connection", "created_by").get(pk=token.pk)
        body = {"token": token_document(token), "secret": text, "base_url": base_url(organization.slug) + "/"}
        response = JsonResponse(schemas.ScimTokenCreated(**body).model_dump(mode="json"), status=201)
        response["Cache-Control"] = "no-store"
        return response

    return idempotent(request, access.key.pk, run, secret_fields=("secret",))


def _token(access: KeyAccess, token_id: int) -> ScimToken:
    token = (
        ScimToken.objects.filter(organization_id=access.organization.pk, pk=token_id)
        .select_related("organization", "connection", "created_by")
        .first()
    )
    if token is None:
        raise refused("not_found", f"There is no SCIM token {token_id} in this organization.", 404)
    return token


@api.post(
    "/orgs/{org_slug}/scim/tokens/{token_id}/revoke",
    response={200: schemas.ScimTokenOut, **ERRORS},
    summary="Revoke a SCIM token now",
    tags=TAGS,
)
def revoke_token(request: HttpRequest, org_slug: str, token_id: int = Path(..., ge=1, le=MAX_ID)) -> HttpResponse:
    """Scope ``security:write``; owners' personal keys only (403 ``owner_only``). The IdP's next request with it
    gets 401. Revoking a revoked token changes nothing and answers it again (safe to retry)."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    token = _token(access, token_id)
    scim_actions.revoke_token(token, actor=delegated(access))
    token = _token(access, token_id)
    return JsonResponse(schemas.ScimTokenOut(**token_document(token)).model_dump(mode="json"))


# --- group mappings ---------------------------------------------------------------------------------------------


def mapping_values(mapping: GroupMapping) -> dict[str, Any]:
    """What a mapping's ETag versions: its id, group, role and team ids."""
    return {
        "id": mapping.pk,
        "group_ref": mapping.group_ref,
        "role": mapping.role,
        "teams": sorted(team.pk for team in mapping.teams.all()),
    }


def mapping_document(mapping: GroupMapping) -> dict[str, Any]:
    teams = sorted(mapping.teams.all(), key=lambda team: team.pk)
    return {
        "id": mapping.pk,
        "group_ref": mapping.group_ref,
        "role": mapping.role,
        "teams": [{"id": team.pk, "slug": team.slug, "name": team.name} for team in teams],
        "created_at": mapping.created_at,
        "etag": etag_of(mapping_values(mapping)),
    }


def _mapping_response(mapping_id: int, status: int = 200) -> HttpResponse:
    mapping = GroupMapping.objects.prefetch_related("teams").get(pk=mapping_id)
    body = schemas.MappingOut(**mapping_document(mapping)).model_dump(mode="json")
    return with_etag(JsonResponse(body, status=status), mapping_values(mapping))


@api.get(
    "/orgs/{org_slug}/scim/mappings",
    response={200: schemas.MappingPage, **ERRORS},
    summary="SCIM group mappings (group → role and teams)",
    tags=TAGS,
)
def list_mappings(request: HttpRequest, org_slug: str) -> dict[str, Any]:
    """Scope ``security:read``. Every mapping by group name, and the role of members in no mapped group."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    organization = access.organization
    mappings = GroupMapping.objects.filter(organization_id=organization.pk).prefetch_related("teams")
    settings_row = ProvisioningSettings.objects.filter(organization_id=organization.pk).first()
    return {
        "mappings": [mapping_document(mapping) for mapping in mappings],
        "default_role": settings_row.default_role if settings_row else Role.MEMBER,
    }


def _teams(access: KeyAccess, ids: list[int]) -> list[Team]:
    wanted = sorted(set(ids))
    teams = list(Team.objects.filter(organization_id=access.organization.pk, pk__in=wanted).order_by("pk"))
    missing = sorted(set(wanted) - {team.pk for team in teams})
    if missing:
        raise refused("not_found", f"There is no team {missing[0]} in this organization.", 404)
    return teams


def _mapping(access: KeyAccess, mapping_id: int) -> GroupMapping:
    mapping = (
        GroupMapping.objects.filter(organization_id=access.organization.pk, pk=mapping_id)
        .select_related("organization")
        .prefetch_related("teams")
        .first()
    )
    if mapping is None:
        raise refused("not_found", f"There is no SCIM group mapping {mapping_id} in this organization.", 404)
    return mapping


def _require_confirmation(access: KeyAccess, impact: Impact, confirm: str) -> None:
    """400 ``confirmation_required`` when ``impact`` changes anyone's role and ``confirm`` is not the org's slug."""
    slug = access.organization.slug
    if impact.total and confirm.strip() != slug:
        raise ActionRefused(
            f"This changes the role of {impact.total} member(s); read the preview (GET scim/mappings/preview), "
            f'then send "confirm": "{slug}" to make the change.',
            code="confirmation_required",
            status=400,
        )


def _save(access: KeyAccess, *, group_ref: str, role: str, teams: list[Team], confirm: str) -> GroupMapping:
    organization = access.organization
    actor = delegated(access)
    scim_actions.require_owner(organization, actor)  # the action's rule, asked first: 403 before a 409
    impact = scim_actions.preview_mapping(organization, group_ref=group_ref, role=role, teams=teams)
    _require_confirmation(access, impact, confirm)
    return scim_actions.save_mapping(organization, actor=actor, group_ref=group_ref, role=role, teams=teams)


@api.get(
    "/orgs/{org_slug}/scim/mappings/preview",
    response={200: common.ImpactOut, **ERRORS},
    summary="Preview a mapping change: whose role it changes",
    tags=TAGS,
)
def preview_mapping(request: HttpRequest, org_slug: str, query: Query[schemas.MappingPreviewQuery]) -> dict[str, Any]:
    """Scope ``security:read``. The mapping page's Impact preview of mapping ``group_ref`` to ``role`` and
    ``teams`` (``remove=true``: of removing its mapping): each provisioned member whose role would change, computed
    with the function provisioning applies. A change with a non-empty preview needs ``"confirm": "<org slug>"``."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    chosen = _teams(access, query.teams)
    impact = scim_actions.preview_mapping(
        access.organization, group_ref=query.group_ref.strip(), role=query.role, teams=chosen, removing=query.remove
    )
    return impact.as_dict()


@api.get(
    "/orgs/{org_slug}/scim/mappings/{mapping_id}",
    response={200: schemas.MappingOut, **ERRORS},
    summary="One group's mapping",
    tags=TAGS,
)
def get_mapping(request: HttpRequest, org_slug: str, mapping_id: int = Path(..., ge=1, le=MAX_ID)) -> HttpResponse:
    """Scope ``security:read``. The mapping with its ETag (also in the ``ETag`` header)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    return _mapping_response(_mapping(access, mapping_id).pk)


@api.post(
    "/orgs/{org_slug}/scim/mappings",
    response={201: schemas.MappingOut, **ERRORS},
    summary="Map a SCIM group to a role and teams",
    tags=TAGS,
)
def create_mapping(request: HttpRequest, org_slug: str, payload: schemas.MappingIn) -> HttpResponse:
    """Scope ``security:write``; owners' personal keys only (403 ``owner_only``). Applied at once to every
    provisioned member; 400 ``confirmation_required`` when it changes roles without ``confirm``; 409
    ``mapping_exists`` when the group is already mapped (change that one with PUT or PATCH and its ETag); the
    page's refusals (409 ``owner_protected`` for owner, 400 ``bad_group``). Accepts ``Idempotency-Key``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    group_ref = payload.group_ref.strip()
    teams = _teams(access, payload.teams)

    def run() -> HttpResponse:
        existing = GroupMapping.objects.filter(organization_id=access.organization.pk, group_ref__iexact=group_ref)
        if group_ref and existing.exists():
            raise ActionRefused(
                f"The group {group_ref!r} is already mapped; change its mapping with PUT or PATCH and its ETag.",
                code="mapping_exists",
                status=409,
            )
        mapping = _save(access, group_ref=group_ref, role=payload.role, teams=teams, confirm=payload.confirm)
        return _mapping_response(mapping.pk, status=201)

    return idempotent(request, access.key.pk, run)


def _change(
    access: KeyAccess, request: HttpRequest, mapping_id: int, role: str | None, team_ids: list[int] | None, confirm: str
) -> HttpResponse:
    mapping = _mapping(access, mapping_id)
    require_if_match(request, mapping_values(mapping))
    teams = list(mapping.teams.all()) if team_ids is None else _teams(access, team_ids)
    saved = _save(
        access,
        group_ref=mapping.group_ref,
        role=mapping.role if role is None else role,
        teams=teams,
        confirm=confirm,
    )
    return _mapping_response(saved.pk)


@api.put(
    "/orgs/{org_slug}/scim/mappings/{mapping_id}",
    response={200: schemas.MappingOut, **ERRORS},
    summary="Replace a group's mapping",
    tags=TAGS,
)
def put_mapping(
    request: HttpRequest, org_slug: str, payload: schemas.MappingPut, mapping_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required; owners' personal keys only. The role and teams of the
    mapping's group; 400 ``confirmation_required`` when it changes roles without ``confirm``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    return _change(access, request, mapping_id, payload.role, payload.teams, payload.confirm)


@api.patch(
    "/orgs/{org_slug}/scim/mappings/{mapping_id}",
    response={200: schemas.MappingOut, **ERRORS},
    summary="Change a group's role or teams",
    tags=TAGS,
)
def patch_mapping(
    request: HttpRequest, org_slug: str, payload: schemas.MappingPatch, mapping_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """As PUT, changing only the fields sent."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    return _change(access, request, mapping_id, payload.role, payload.teams, payload.confirm)


@api.delete(
    "/orgs/{org_slug}/scim/mappings/{mapping_id}",
    response={204: None, **ERRORS},
    summary="Remove a group's mapping",
    tags=TAGS,
)
def delete_mapping(
    request: HttpRequest,
    org_slug: str,
    mapping_id: int = Path(..., ge=1, le=MAX_ID),
    confirm: str = Query("", max_length=100),
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required; owners' personal keys only. Members' roles then follow their
    remaining groups: when that changes anyone's role (``GET …/preview?group_ref=…&remove=true``), send
    ``?confirm=<org slug>`` (else 400 ``confirmation_required``)."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    mapping = _mapping(access, mapping_id)
    require_if_match(request, mapping_values(mapping))
    actor = delegated(access)
    scim_actions.require_owner(access.organization, actor)
    impact = scim_actions.preview_mapping(
        access.organization, group_ref=mapping.group_ref, role=mapping.role, removing=True
    )
    _require_confirmation(access, impact, confirm)
    scim_actions.delete_mapping(mapping, actor=actor)
    return HttpResponse(status=204)
