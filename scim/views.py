"""The SCIM 2.0 service provider of one organization, at ``/scim/v2/<org_slug>/`` (RFC 7644 §3).

Every request: size (over ``MAX_BODY_BYTES`` → 413) → token (``scim.authentication``: 401/403/429) → the endpoint.
Answers are ``application/scim+json``; every error is a SCIM Error (RFC 7644 §3.12, ``scim.errors``), refusals of the
core's guardrails included (409 with their sentence as ``detail``). Dashboard sessions and API keys never open these
endpoints, and CSRF does not apply (no cookie is read). Another organization's ids are unknown here (404).

Resources carry ``meta.version`` (a weak ETag, also the ``ETag`` header); ``If-Match`` on PUT/PATCH/DELETE answers
412 for a stale version (RFC 7644 §3.14).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig
from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    ETag,
    Filter,
    Group,
    Patch,
    PatchOp,
    PatchOperation,
    ResourceType,
    ResponseParameters,
    SCIMException,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
)
from scim2_models.path import CompareOperator, Comparison

from orgsecurity.actions import ActionRefused
from orgsecurity.jsonbody import NotJSON, parse_json
from orgsecurity.refusals import Refusal
from scim import filters, provisioning, resources
from scim.authentication import authenticate
from scim.errors import ScimError, error_response, scim_json
from scim.models import ScimGroup, ScimToken, ScimUser

MAX_BODY_BYTES = 1024 * 1024
MAX_RESULTS = 200
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

View = Callable[..., HttpResponse]


def scim_endpoint(*methods: str) -> Callable[[View], View]:
    """Wrap a SCIM view: allowed ``methods`` (405 otherwise), body size, token authentication, and every failure
    as a SCIM Error. The view is called as ``view(request, token, **kwargs)``."""

    def decorator(view: View) -> View:
        @csrf_exempt  # no cookie authenticates here
        @wraps(view)
        def wrapped(request: HttpRequest, org_slug: str, **kwargs: Any) -> HttpResponse:
            request.user = AnonymousUser()  # a dashboard session never acts here
            if request.method not in methods:
                response = error_response(405, f"{request.method} is not allowed here; use {', '.join(methods)}.")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > MAX_BODY_BYTES:
                return error_response(413, f"The request body is larger than the {MAX_BODY_BYTES} bytes accepted.")
            result = authenticate(request, org_slug)
            if isinstance(result, Refusal):
                response = error_response(result.status, result.message)
                if result.status == 401:
                    response["WWW-Authenticate"] = 'Bearer realm="scim"'
                if result.status == 429:
                    response["Retry-After"] = str(result.context.get("retry_after", 60))
                return response
            try:
                return view(request, result, **kwargs)
            except ScimError as exc:
                return error_response(exc.status, exc.detail, exc.scim_type)
            except ActionRefused as exc:
                return error_response(exc.status if exc.status >= 400 else 409, exc.message)
            except RequestDataTooBig:
                return error_response(413, f"The request body is larger than the {MAX_BODY_BYTES} bytes accepted.")

        return wrapped

    return decorator


# --- request reading -----------------------------------------------------------------------------------------


def _body(request: HttpRequest) -> Any:
    raw = request.body
    if len(raw) > MAX_BODY_BYTES:
        raise ScimError(413, f"The request body is larger than the {MAX_BODY_BYTES} bytes accepted.")
    try:
        return parse_json(raw)
    except NotJSON as exc:
        raise ScimError(400, str(exc), "invalidSyntax") from None


def _parameters(request: HttpRequest) -> ResponseParameters | None:
    return _response_parameters(request.GET.get("attributes"), request.GET.get("excludedAttributes"))


def _response_parameters(attributes: str | None, excluded: str | None) -> ResponseParameters | None:
    if not attributes and not excluded:
        return None
    try:
        return ResponseParameters(attributes=attributes or None, excluded_attributes=excluded or None)
    except (ValidationError, SCIMException, ValueError) as exc:
        raise ScimError(400, f"attributes/excludedAttributes are not valid: {exc}", "invalidValue") from None


LARGEST_NUMBER = 2**31 - 1
"""``startIndex`` and ``count`` beyond this are read as this (RFC 7644 §3.4.2.4 integers; a database offset is
bounded, and an offset past the last result is an empty page anyway)."""


def _number(query: dict[str, Any], name: str, default: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        if isinstance(raw, bool | list | dict):
            raise TypeError(name)
        value = int(raw)
    except (TypeError, ValueError):  # not an integer, or more digits than Python converts
        raise ScimError(400, f"{name} must be an integer.", "invalidValue") from None
    return max(-LARGEST_NUMBER, min(LARGEST_NUMBER, value))


def _check_if_match(request: HttpRequest, version: int) -> None:
    wanted = request.headers.get("If-Match")
    if wanted and wanted.strip() != "*" and resources.etag(version) not in [v.strip() for v in wanted.split(",")]:
        raise ScimError(412, "The resource changed since you read it (If-Match does not match its version).")


def _resource_answer(payload: dict, version: int, status: int = 200, location: str | None = None) -> HttpResponse:
    headers = {"ETag": resources.etag(version)}
    if location:
        headers["Location"] = location
    return scim_json(payload, status=status, headers=headers)


def _search_parameters(request: HttpRequest) -> dict[str, Any]:
    """The query of a list request: the URL's (GET) or a SearchRequest body's (POST .search, RFC 7644 §3.4.3)."""
    if request.method != "POST":
        return {name: request.GET.get(name) for name in SEARCH_PARAMETERS}
    body = _body(request)
    if not isinstance(body, dict):
        raise ScimError(400, "A .search body is a SearchRequest object.", "invalidSyntax")
    found = {}
    for name in SEARCH_PARAMETERS:
        value = body.get(name)
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        found[name] = None if value is None else str(value)
    return found


SEARCH_PARAMETERS = ("filter", "startIndex", "count", "attributes", "excludedAttributes")


def _list(request: HttpRequest, queryset: QuerySet, render: Callable[[Any], Any]) -> HttpResponse:
    query = request.scim_query
    start = max(1, _number(query, "startIndex", 1))
    count = min(MAX_RESULTS, max(0, _number(query, "count", MAX_RESULTS)))
    total = queryset.count()
    page = list(queryset[start - 1 : start - 1 + count]) if count else []
    parameters = _response_parameters(query.get("attributes"), query.get("excludedAttributes"))
    return scim_json(
        {
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(page),
            "Resources": [resources.dump(render(item), parameters) for item in page],
        }
    )


# --- discovery (RFC 7644 §4) ---------------------------------------------------------------------------------


def service_provider_config(org_slug: str) -> ServiceProviderConfig:
    """What this service supports: PATCH, filter (max ``MAX_RESULTS``), ETags; no bulk, sort or password change."""
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="OAuth Bearer Token",
                description="A SCIM token created on the organization's SSO page (Authorization: Bearer scim_…).",
                primary=True,
            )
        ],
    )


def _discovery_meta(payload: dict, org_slug: str, resource_type: str, path: str) -> dict:
    payload["meta"] = {"resourceType": resource_type, "location": f"{resources.base_url(org_slug)}/{path}"}
    return payload


@scim_endpoint("GET", "HEAD")
def service_provider_config_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    slug = token.organization.slug
    payload = service_provider_config(slug).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return scim_json(_discovery_meta(payload, slug, "ServiceProviderConfig", "ServiceProviderConfig"))


def _resource_types(org_slug: str) -> list[dict]:
    found = []
    for model, name in ((resources.UserResource, "User"), (Group, "Group")):
        payload = ResourceType.from_resource(model).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        found.append(_discovery_meta(payload, org_slug, "ResourceType", f"ResourceTypes/{name}"))
    return found


def _schemas(org_slug: str) -> list[dict]:
    from scim2_models import EnterpriseUser, User

    found = []
    for model in (User, EnterpriseUser, Group):
        payload = model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        found.append(_discovery_meta(payload, org_slug, "Schema", f"Schemas/{payload['id']}"))
    return found


def _discovery_list(items: list[dict]) -> HttpResponse:
    return scim_json(
        {
            "schemas": [LIST_RESPONSE],
            "totalResults": len(items),
            "startIndex": 1,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@scim_endpoint("GET", "HEAD")
def resource_types_view(request: HttpRequest, token: ScimToken, resource_id: str | None = None) -> HttpResponse:
    items = _resource_types(token.organization.slug)
    if resource_id is None:
        return _discovery_list(items)
    for item in items:
        if item["id"] == resource_id:
            return scim_json(item)
    raise ScimError(404, f"There is no resource type {resource_id!r}.")


@scim_endpoint("GET", "HEAD")
def schemas_view(request: HttpRequest, token: ScimToken, schema_id: str | None = None) -> HttpResponse:
    items = _schemas(token.organization.slug)
    if schema_id is None:
        return _discovery_list(items)
    for item in items:
        if item["id"].lower() == schema_id.lower():
            return scim_json(item)
    raise ScimError(404, f"There is no schema {schema_id!r}.")


# --- PATCH (RFC 7644 §3.5.2) ---------------------------------------------------------------------------------


def _normalized_operations(body: Any) -> dict:
    """The dialects of real IdPs in RFC 7644 form: Entra ID's ``Remove`` of ``members`` with a value list becomes
    one ``members[value eq "…"]`` removal each; read-only keys (``id``, ``meta``, ``schemas``) inside a path-less
    value object, which Okta sends with a group's new name, are dropped. Everything else (``op`` in any case,
    ``"True"``/``"False"``, dotted keys and extension URNs in a path-less value, filtered paths) scim2-models reads
    as it is."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        raise ScimError(400, "A PATCH body is a PatchOp message with an Operations list.", "invalidSyntax")
    operations = []
    for operation in body["Operations"]:
        if not isinstance(operation, dict):
            raise ScimError(400, "Each PATCH operation must be a JSON object.", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        path = operation.get("path")
        value = operation.get("value")
        if op == "remove" and isinstance(path, str) and path.lower() == "members" and isinstance(value, list):
            for member in value:
                member_id = member.get("value") if isinstance(member, dict) else None
                if not isinstance(member_id, str):
                    raise ScimError(400, "Each member to remove needs a value (the user's id).", "invalidValue")
                operations.append({"op": "remove", "path": f'members[value eq "{member_id.replace(chr(34), "")}"]'})
            continue
        if path in (None, "") and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k.lower() not in {"id", "meta", "schemas"}}
            operation = {**operation, "value": value}
            operation.pop("path", None)
        operations.append({**operation, "op": op})
    return {
        "schemas": body.get("schemas") or ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    }


CREATE_UNMATCHED_TYPE = ScimPolicy(unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create)


def _policy_for(operation: PatchOperation) -> ScimPolicy | None:
    """How one operation treats a path filter that matches no value.

    An ``add`` whose path selects by type alone (``emails[type eq "work"].value``, ``addresses[type eq
    "work"].locality``) creates the entry the filter describes when the resource has none: Microsoft Entra ID sends
    a new work email or address that way, and Okta the same shape. Every other operation keeps RFC 7644 §3.5.2:
    ``replace`` of an unmatched filter is 400 ``noTarget`` (§3.5.2.3), ``remove`` removes nothing (§3.5.2.2), and an
    ``add`` with any other filter (``members[value eq "…"]``, ``or``, ``co``) is still ``noTarget``."""
    if operation.op != PatchOperation.Op.add or operation.path is None:
        return None
    selection = operation.path.value_filter
    if (
        isinstance(selection, Comparison)
        and selection.op == CompareOperator.eq
        and selection.attr_path.attr.lower() == "type"
        and selection.attr_path.sub_attr is None
        and selection.attr_path.uri is None
        and isinstance(selection.value, str)
    ):
        return CREATE_UNMATCHED_TYPE
    return None


def _patched(model: Any, model_type: Any, body: Any) -> Any:
    message = _normalized_operations(body)
    try:
        patch = PatchOp[model_type].model_validate(message, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        # One operation at a time, each under its own policy (``_policy_for``); a failure answers an error and
        # nothing is stored, so the all-or-nothing of RFC 7644 §3.5.2 holds.
        for operation in patch.operations or []:
            patch.model_copy(update={"operations": [operation]}).patch(model, scim_policy=_policy_for(operation))
        # Re-read the result as a replacement, so what PATCH produces is judged like a PUT body.
        dumped = model.model_dump(scim_ctx=Context.DEFAULT, exclude_none=True)
        dumped.pop("meta", None)
        return model_type.model_validate(dumped, scim_ctx=Context.DEFAULT)
    except ValidationError as exc:
        raise resources.validation_error(exc) from None
    except SCIMException as exc:
        raise ScimError(exc.status, exc.detail, exc.scim_type or None) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ScimError(400, f"This PATCH cannot be applied: {exc}", "invalidValue") from None


# --- Users and Groups: one shape -----------------------------------------------------------------------------


def _users(token: ScimToken) -> QuerySet[ScimUser]:
    return (
        ScimUser.objects.filter(organization=token.organization)
        .select_related("user", "organization")
        .prefetch_related(Prefetch("groups", queryset=ScimGroup.objects.order_by("display_name"), to_attr="group_list"))
        .alias(user_name_lower=Lower("user_name"), display_name_lower=Lower("display_name"))
    )


def _groups(token: ScimToken) -> QuerySet[ScimGroup]:
    return (
        ScimGroup.objects.filter(organization=token.organization)
        .select_related("organization")
        .prefetch_related(Prefetch("members", queryset=ScimUser.objects.order_by("user_name"), to_attr="member_list"))
        .alias(display_name_lower=Lower("display_name"))
    )


def _user_model(scim_user: ScimUser) -> Any:
    if not hasattr(scim_user, "group_list"):
        scim_user.group_list = list(scim_user.groups.order_by("display_name"))
    return resources.user_model(scim_user, scim_user.organization.slug)


def _group_model(group: ScimGroup) -> Group:
    return resources.group_model(group, group.organization.slug, getattr(group, "member_list", None))


def _save_user(token: ScimToken, scim_user: ScimUser | None, resource: Any) -> ScimUser:
    if scim_user is None:
        return provisioning.create_user(token, resources.user_fields(resource))
    return provisioning.update_user(token, scim_user, resources.user_fields(resource))


def _save_group(token: ScimToken, group: ScimGroup | None, resource: Group) -> ScimGroup:
    return provisioning.save_group(
        token,
        group=group,
        display_name=resource.display_name or "",
        external_id=resource.external_id or "",
        member_ids=_member_ids(resource),
    )


def _member_ids(group: Group) -> list[str]:
    ids = []
    for member in group.members or []:
        if not member.value:
            raise ScimError(400, "Each group member needs a value (the user's id).", "invalidValue")
        ids.append(str(member.value))
    return ids


@dataclass(frozen=True)
class Kind:
    """What tells /Users and /Groups apart; the endpoints below are the same for both (RFC 7644 §3.3 to §3.6).

    ``rows(token)`` the organization's rows (their filter aliases and prefetches); ``model(row)`` the row as a
    scim2-models resource (answered, and patched); ``parse(body, replacing=)`` a POST/PUT body; ``save(token, row or
    None, resource)`` creates or updates it (``scim.provisioning``); ``delete(token, row)``."""

    noun: str  # in "There is no <noun> …"
    path: str  # the collection, in a created resource's Location
    model_type: Any  # what a PATCH is validated against
    columns: dict[str, filters.Column]
    rows: Callable[[ScimToken], QuerySet]
    model: Callable[[Any], Any]
    parse: Callable[..., Any]
    save: Callable[[ScimToken, Any, Any], Any]
    delete: Callable[[ScimToken, Any], None]


USERS = Kind(
    noun="user",
    path="Users",
    model_type=resources.UserResource,
    columns=filters.USER_COLUMNS,
    rows=_users,
    model=_user_model,
    parse=resources.parse_user,
    save=_save_user,
    delete=provisioning.delete_user,
)
GROUPS = Kind(
    noun="group",
    path="Groups",
    model_type=Group,
    columns=filters.GROUP_COLUMNS,
    rows=_groups,
    model=_group_model,
    parse=resources.parse_group,
    save=_save_group,
    delete=provisioning.delete_group,
)


def _row(kind: Kind, token: ScimToken, resource_id: str) -> Any:
    try:
        scim_id = uuid.UUID(resource_id)
    except ValueError:
        scim_id = None
    found = kind.rows(token).filter(scim_id=scim_id).first() if scim_id is not None else None
    if found is None:
        raise ScimError(404, f"There is no {kind.noun} {resource_id!r} here.")
    return found


def _answer(kind: Kind, request: HttpRequest, row: Any, status: int = 200) -> HttpResponse:
    payload = resources.dump(kind.model(row), _parameters(request))
    location = f"{resources.base_url(row.organization.slug)}/{kind.path}/{row.scim_id}" if status == 201 else None
    return _resource_answer(payload, row.version, status, location)


def _collection(kind: Kind, request: HttpRequest, token: ScimToken) -> HttpResponse:
    """GET (list, RFC 7644 §3.4.2) or POST (create, §3.3) on the collection."""
    if request.method != "POST":
        return _list_rows(kind, request, token)
    created = kind.save(token, None, kind.parse(_body(request)))
    return _answer(kind, request, _row(kind, token, str(created.scim_id)), status=201)


def _list_rows(kind: Kind, request: HttpRequest, token: ScimToken) -> HttpResponse:
    request.scim_query = _search_parameters(request)
    queryset = kind.rows(token)
    text = request.scim_query.get("filter")
    if text:
        query = filters.build_query(text, kind.columns)
        # A filter on a multi-valued attribute (a group's members) joins one row per value: keep each resource once.
        queryset = kind.rows(token).filter(pk__in=queryset.filter(query).values("pk"))
    return _list(request, queryset.order_by("created_at", "pk"), kind.model)


def _resource(kind: Kind, request: HttpRequest, token: ScimToken, resource_id: str) -> HttpResponse:
    """GET/HEAD (``If-None-Match``: 304), PUT (§3.5.1), PATCH (§3.5.2) or DELETE (§3.6) of one resource; the writes
    check ``If-Match`` (412, §3.14)."""
    row = _row(kind, token, resource_id)
    if request.method in ("GET", "HEAD"):
        if request.headers.get("If-None-Match", "").strip() == resources.etag(row.version):
            return HttpResponse(status=304, headers={"ETag": resources.etag(row.version)})
        return _answer(kind, request, row)
    _check_if_match(request, row.version)
    if request.method == "DELETE":
        kind.delete(token, row)
        return HttpResponse(status=204)
    if request.method == "PUT":
        resource = kind.parse(_body(request), replacing=True)
    else:
        resource = _patched(kind.model(row), kind.model_type, _body(request))
    kind.save(token, row, resource)
    return _answer(kind, request, _row(kind, token, resource_id))


@scim_endpoint("GET", "HEAD", "POST")
def users_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """/Users: list (GET) or create (POST)."""
    return _collection(USERS, request, token)


@scim_endpoint("POST")
def users_search_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """POST /Users/.search (RFC 7644 §3.4.3): a list query whose parameters are in the body."""
    return _list_rows(USERS, request, token)


@scim_endpoint("GET", "HEAD", "PUT", "PATCH", "DELETE")
def user_view(request: HttpRequest, token: ScimToken, resource_id: str) -> HttpResponse:
    """/Users/<id>."""
    return _resource(USERS, request, token, resource_id)


@scim_endpoint("GET", "HEAD", "POST")
def groups_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """/Groups: list (GET) or create (POST)."""
    return _collection(GROUPS, request, token)


@scim_endpoint("POST")
def groups_search_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """POST /Groups/.search (RFC 7644 §3.4.3)."""
    return _list_rows(GROUPS, request, token)


@scim_endpoint("GET", "HEAD", "PUT", "PATCH", "DELETE")
def group_view(request: HttpRequest, token: ScimToken, resource_id: str) -> HttpResponse:
    """/Groups/<id>."""
    return _resource(GROUPS, request, token, resource_id)


@scim_endpoint("POST")
def root_search_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """POST /.search (RFC 7644 §3.4.3): Users then Groups matching the filter; an attribute one resource type lacks
    matches none of that type (§3.4.2.1)."""
    query = request.scim_query = _search_parameters(request)
    text = query.get("filter")
    found: list[Any] = []
    for kind in (USERS, GROUPS):
        queryset = kind.rows(token)
        if text:
            try:
                condition = filters.build_query(text, kind.columns)
            except ScimError as exc:
                if "not supported here" in exc.detail:
                    continue
                raise
            queryset = queryset.filter(pk__in=queryset.filter(condition).values("pk"))
        found.extend(kind.model(item) for item in queryset.order_by("created_at", "pk")[: MAX_RESULTS * 5])
    start = max(1, _number(query, "startIndex", 1))
    count = min(MAX_RESULTS, max(0, _number(query, "count", MAX_RESULTS)))
    page = found[start - 1 : start - 1 + count]
    parameters = _response_parameters(query.get("attributes"), query.get("excludedAttributes"))
    return scim_json(
        {
            "schemas": [LIST_RESPONSE],
            "totalResults": len(found),
            "startIndex": start,
            "itemsPerPage": len(page),
            "Resources": [resources.dump(item, parameters) for item in page],
        }
    )
