"""The key-authenticated JSON API under /api/v1/: ``whoami`` and ``projects/<id>/``.

Every request goes: method → key verification (``keys.authentication``) → ``settings.API_PIPELINE_CHECKS`` (run by
``orgsecurity.pipeline.run_api_checks``, the runner of the organization pipeline) →
the key's network restriction (CIDRs) → its permission (read / read-write) → the endpoint's own checks
(workload, team, project). Every refusal is JSON ``{"error": {"code", "message"}}`` (401 for the key itself,
403 naming the restriction not met, 404 for what the key cannot see) and is audited, throttled, as
``key.use_denied``. Sessions never authenticate here: ``request.user`` is set to anonymous before anything runs,
CSRF does not apply (no cookie is ever read), and nothing touches the session, so no cookie is set.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from audit.recorder import Actor, Target, record_throttled
from keys import tokens
from keys.authentication import authenticate
from keys.models import APIKey
from orgsecurity.actions import ActionRefused, rename_project
from orgsecurity.client_ip import canonical_address, canonical_network, client_ip
from orgsecurity.errors import json_error
from orgsecurity.jsonbody import NotJSON, parse_json
from orgsecurity.models import Project, Team
from orgsecurity.pipeline import run_api_checks
from orgsecurity.refusals import Refusal
from orgsecurity.roles import Role

WORKLOAD_HEADER = "X-Workload"
READ_METHODS = ("GET", "HEAD")
WRITE_METHODS = ("PATCH",)
MAX_DB_ID = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")

# --- refusals ------------------------------------------------------------------------------------------


def _audit_refusal(request: HttpRequest, refusal: Refusal, key: APIKey | None) -> None:
    ip = client_ip(request)
    presented = request.META.get("HTTP_AUTHORIZATION", "")
    key_id = key.key_id if key else _presented_key_id(presented)
    record_throttled(
        "key.use_denied",
        # Throttled per real key, never per presented key ID: anyone can make up a new well-formed ID per request.
        throttle_key=f"{key.key_id if key else '-'}:{ip}:{refusal.code}",
        organization=key.organization if key else None,
        # The key is the actor only once its secret was proven; a wrong secret for a real key ID is someone else.
        actor=Actor.api_key(key)
        if key and refusal.code != "unknown_key"
        else Actor.anonymous(f"API client at {ip or 'an unknown address'}"),
        target=key if key else Target("keys.apikey", "", tokens.display_prefix(key_id) if key_id else "an API key"),
        details={
            "code": refusal.code,
            "message": refusal.message,
            "method": request.method,
            "path": request.path[:200],
        },
    )


def _presented_key_id(header: str) -> str | None:
    # For the audit trail of unknown keys: the public key ID part of a well-formed token, never the secret.
    credentials = header.strip().partition(" ")[2].strip()
    try:
        return tokens.parse(credentials).key_id
    except tokens.MalformedKey:
        return None


def refuse(request: HttpRequest, refusal: Refusal, key: APIKey | None = None) -> JsonResponse:
    """The JSON error response for ``refusal``, audited (throttled) unless no key was presented at all."""
    if refusal.code != "missing_key":
        _audit_refusal(request, refusal, key)
    response = json_error(refusal.code, refusal.message, refusal.status)
    if refusal.status == 401:
        # RFC 6750 §3: say which scheme to use; "invalid_token" only when a token was sent.
        error = "" if refusal.code == "missing_key" else ', error="invalid_token"'
        response["WWW-Authenticate"] = f'Bearer realm="api"{error}'
    return response


# --- checks run on every API request -----------------------------------------------------------------


@lru_cache(maxsize=1024)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    # canonical_network: a NAT64 block stored before such blocks were saved as IPv4 still matches its clients.
    return tuple(canonical_network(ipaddress.ip_network(cidr)) for cidr in cidrs)


@lru_cache(maxsize=4096)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    return canonical_address(ip)


def check_network(request: HttpRequest, key: APIKey) -> Refusal | None:
    """403 ``network_not_allowed`` when the key lists CIDRs (RFC 4632) and the client IP is in none of them.
    The allowed networks are not named: whoever holds a leaked key should not learn where to use it from."""
    if not key.allowed_cidrs:
        return None
    ip = client_ip(request)
    address = _address(ip) if ip else None
    if address is not None and any(
        address.version == network.version and address in network for network in _networks(tuple(key.allowed_cidrs))
    ):
        return None
    return Refusal(
        "network_not_allowed",
        f"This API key may not be used from {ip or 'an unknown address'}: it is restricted to other networks.",
    )


def check_workload(request: HttpRequest, key: APIKey) -> Refusal | None:
    """403 ``workload_not_allowed`` when the key is restricted to workloads and the request declares none of
    them in ``X-Workload``."""
    if not key.workloads:
        return None
    declared = request.headers.get(WORKLOAD_HEADER, "").strip()
    if not declared:
        return Refusal(
            "workload_not_allowed",
            f"This API key is restricted to certain workloads: declare yours in the {WORKLOAD_HEADER} header.",
        )
    if declared not in key.workloads:
        return Refusal("workload_not_allowed", f"This API key may not be used by the workload {declared[:50]!r}.")
    return None


def check_permission(request: HttpRequest, key: APIKey) -> Refusal | None:
    """403 ``permission_insufficient`` for a write with a read-only key."""
    if request.method in WRITE_METHODS and key.permission != APIKey.Permission.READ_WRITE:
        return Refusal("permission_insufficient", "This API key is read-only; this request changes data.")
    return None


def api_endpoint(methods: tuple[str, ...]) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap an API view: allowed ``methods``, key authentication, the API pipeline, network and permission
    checks. The view is called as ``view(request, key, **kwargs)`` and may return a Refusal."""

    def decorator(view: Callable[..., HttpResponse | Refusal]) -> Callable[..., HttpResponse]:
        @csrf_exempt  # no cookie authenticates here, so there is nothing for a cross-site request to ride on
        @wraps(view)
        def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            request.user = AnonymousUser()  # a dashboard session never authenticates an API call
            if request.method not in methods:
                response = json_error(
                    "method_not_allowed", f"{request.method} is not allowed here; use {', '.join(methods)}.", 405
                )
                response["Allow"] = ", ".join(methods)
                return response
            key, refusal = authenticate(request)
            if refusal is None:
                request.api_key = key
                refusal = run_api_checks(request, key) or check_network(request, key) or check_permission(request, key)
            if refusal is not None:
                return refuse(request, refusal, key)
            result = view(request, key, **kwargs)
            if isinstance(result, Refusal):
                return refuse(request, result, key)
            result["Cache-Control"] = "no-store"
            return result

        return wrapped

    return decorator


# --- endpoints -----------------------------------------------------------------------------------------


def _time(value: Any) -> str | None:
    return value.isoformat() if value else None


def whoami_payload(key: APIKey) -> dict[str, Any]:
    """What ``GET /api/v1/whoami`` returns for ``key`` (see the README "API keys" section)."""
    if key.owner_service_account_id is not None:
        owner = {"type": "service_account", "name": key.owner_service_account.name}
    else:
        owner = {"type": "member", "email": key.owner_user.email, "role": getattr(key, "owner_role", None)}
    return {
        "organization": {"slug": key.organization.slug, "name": key.organization.name},
        "key": {"prefix": key.prefix, "name": key.name, "created_at": _time(key.created_at), "scopes": key.scopes},
        "owner": owner,
        "restrictions": {
            "permission": key.permission,
            "teams": key.team_ids,
            "projects": key.project_ids,
            "workloads": key.workloads,
            "allowed_cidrs": key.allowed_cidrs,
            "expires_at": _time(key.expires_at),
        },
    }


@api_endpoint(READ_METHODS)
def whoami(request: HttpRequest, key: APIKey) -> HttpResponse:
    """``GET /api/v1/whoami``: the key's organization, owner and restrictions."""
    return JsonResponse(whoami_payload(key))


def project_payload(project: Project) -> dict[str, Any]:
    team = project.team
    return {
        "id": project.pk,
        "slug": project.slug,
        "name": project.name,
        "organization": project.organization.slug,
        "team": {"id": team.pk, "slug": team.slug, "name": team.name},
    }


def _load_project(key: APIKey, raw_id: str) -> Project | Refusal:
    if not _ID.fullmatch(raw_id) or not 0 < int(raw_id) <= MAX_DB_ID:
        return Refusal("not_found", f"Project IDs are positive whole numbers; {raw_id[:30]!r} is not one.", status=404)
    queryset = Project.objects.select_related("team", "organization").filter(
        organization_id=key.organization_id, pk=int(raw_id)
    )
    if key.owner_user_id is not None and getattr(key, "owner_role", None) == Role.MEMBER:
        # A member's key reaches only their own teams' projects, also after they leave a team.
        owner_on_team = Team.members.through.objects.filter(
            team_id=OuterRef("team_id"),
            membership__user_id=key.owner_user_id,
            membership__organization_id=key.organization_id,
        )
        queryset = queryset.annotate(owner_on_team=Exists(owner_on_team))
    project = queryset.first()
    if project is None:
        # The same answer for another organization's project and one that does not exist.
        return Refusal("not_found", f"No project with ID {raw_id} is visible to this API key.", status=404)
    return project


def _check_project(key: APIKey, project: Project) -> Refusal | None:
    if key.team_ids and project.team_id not in key.team_ids:
        return Refusal("team_not_allowed", f"This API key may not be used for the team {project.team.slug!r}.")
    if getattr(project, "owner_on_team", True) is False:
        return Refusal(
            "team_not_allowed",
            f"This API key's owner is not on the team {project.team.slug!r}, so their key cannot reach it.",
        )
    if key.project_ids and project.pk not in key.project_ids:
        return Refusal("project_not_allowed", f"This API key may not be used for the project {project.slug!r}.")
    return None


@api_endpoint(READ_METHODS + WRITE_METHODS)
def project(request: HttpRequest, key: APIKey, project_id: str) -> HttpResponse | Refusal:
    """``GET /api/v1/projects/<id>/`` (read) and ``PATCH`` with ``{"name": ...}`` (read-write keys)."""
    refusal = check_workload(request, key)
    if refusal is not None:
        return refusal
    found = _load_project(key, project_id)
    if isinstance(found, Refusal):
        return found
    refusal = _check_project(key, found)
    if refusal is not None:
        return refusal
    if request.method in WRITE_METHODS:
        return _rename(request, key, found)
    return JsonResponse(project_payload(found))


def _rename(request: HttpRequest, key: APIKey, found: Project) -> HttpResponse:
    try:
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE raises RequestDataTooBig here: a JSON 413 (orgsecurity.errors).
        body = parse_json(request.body or b"null")
    except NotJSON:  # not JSON, not UTF-8, or nested too deep
        body = None
    if not isinstance(body, dict) or set(body) != {"name"} or not isinstance(body["name"], str):
        return json_error("bad_request", 'Send a JSON object with only a new name: {"name": "…"}.', 400)
    try:
        renamed = rename_project(found, actor=Actor.api_key(key), name=body["name"])
    except ActionRefused as exc:
        return json_error(exc.code, exc.message, exc.status)
    return JsonResponse(project_payload(renamed))


@csrf_exempt
def not_found(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """Any other path under /api/v1/: a JSON 404, never the HTML page."""
    request.user = AnonymousUser()
    return json_error("not_found", "There is no such API endpoint.", 404)
