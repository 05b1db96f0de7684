"""Who may do what through the admin API: key authentication, then the organization, the key's scope, the role the
key acts with and, for security changes, the organization's "allow security changes through the API" switch.

Order of the checks, each with a stable code (the first that fails answers):

1. the key (``keys.authentication.authenticate``: 401 ``missing_key``, ``key_revoked``, …), the key API's pipeline
   (``settings.API_PIPELINE_CHECKS`` through ``orgsecurity.pipeline.run_api_checks``: e.g. the IP allowlist), the
   key's networks and workloads (``keys.api_views.check_network``, ``check_workload``), the per-key rate limit
   (429 ``rate_limited`` with ``Retry-After``);
2. the organization in the path is the key's (else 404 ``not_found``, the same answer as for one that does not
   exist);
3. the scope the operation needs is on the key (403 ``scope_missing``);
4. the role the key acts with allows it on the dashboard (``keys.scopes.acting_role``: the personal key's owner's
   current role, admin for a service account's key; 403 ``role_not_allowed``);
5. for ``security:write``: the organization allows security changes through the API (403
   ``api_security_changes_off``).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.security import HttpBearer

from adminapi.errors import APIRefusal, refused
from audit.recorder import Actor
from keys import scopes
from keys.api_views import check_network, check_workload
from keys.authentication import authenticate
from keys.models import APIKey, KeyPolicy
from orgsecurity import ratelimit
from orgsecurity.models import Organization
from orgsecurity.pipeline import run_api_checks
from orgsecurity.refusals import Refusal
from orgsecurity.roles import Capability, Role, has_capability

# The dashboard capability each scope needs from the role the key acts with.
SCOPE_CAPABILITY: dict[str, Capability] = {
    scopes.SECURITY_READ: Capability.MANAGE_SECURITY,
    scopes.SECURITY_WRITE: Capability.MANAGE_SECURITY,
    scopes.MEMBERS_READ: Capability.MANAGE_MEMBERS,
    scopes.MEMBERS_WRITE: Capability.MANAGE_MEMBERS,
    scopes.AUDIT_READ: Capability.VIEW_AUDIT,
}


class KeyAuth(HttpBearer):
    """``Authorization: Bearer osk_…`` (RFC 6750 §2.1) with the key API's checks; returns the live ``APIKey`` or
    raises ``APIRefusal`` with the refusal's code (answered and audited by ``adminapi.errors``). ``api``: the
    ``NinjaAPI`` it guards (set by ``adminapi.core``), whose schema names each operation's query parameters."""

    api: NinjaAPI | None = None

    def __call__(self, request: HttpRequest) -> APIKey:
        request.user = AnonymousUser()  # a dashboard session never authenticates an API call
        key, refusal = authenticate(request)
        if refusal is None:
            request.api_key = key
            refusal = run_api_checks(request, key) or check_network(request, key) or check_workload(request, key)
        if refusal is None:
            refusal = rate_limit(key) or unknown_query(request, self.api)
        if refusal is not None:
            raise APIRefusal(refusal, key)
        return key

    def authenticate(self, request: HttpRequest, token: str) -> APIKey | None:  # pragma: no cover - __call__ decides
        return None


clock = time.time  # seconds since the epoch; tests replace it


@cache
def _query_names(api: NinjaAPI) -> dict[tuple[str, str], frozenset[str]]:
    # (OpenAPI path, method) -> the query parameters the API's generated schema declares for it (read once).
    document = api.get_openapi_schema(path_prefix="/api/v1")
    table = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            table[(path, method.upper())] = frozenset(names)
    return table


def unknown_query(request: HttpRequest, api: NinjaAPI | None) -> Refusal | None:
    """400 ``unknown_parameter`` for a query parameter the operation does not declare (a typo such as ``?limt=``
    would otherwise be silently ignored)."""
    if not request.GET or api is None:
        return None
    match = request.resolver_match
    route = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", match.route) if match else ""
    allowed = _query_names(api).get((route.rstrip("/") or route, request.method), frozenset())
    extra = sorted(set(request.GET) - allowed)
    if not extra:
        return None
    return Refusal("unknown_parameter", f"This operation has no query parameter {extra[0][:50]!r}.", status=400)


def rate_limit(key: APIKey) -> Refusal | None:
    """429 ``rate_limited`` (with ``retry_after`` seconds in its context, sent as ``Retry-After``, RFC 9110
    §10.2.3) once ``key`` made more than ``settings.ADMIN_API_RATE_LIMIT`` admin API requests this minute."""
    decision = ratelimit.hit(f"adminapi:{key.pk}", limit=settings.ADMIN_API_RATE_LIMIT, window_seconds=60, now=clock())
    if decision.allowed:
        return None
    return Refusal(
        "rate_limited",
        f"This API key made more than {settings.ADMIN_API_RATE_LIMIT} requests this minute; retry in "
        f"{decision.retry_after} seconds.",
        status=429,
        context={"retry_after": decision.retry_after},
    )


@dataclass(frozen=True)
class KeyAccess:
    """What an admin API operation acts with: the ``key``, its ``organization``, the ``role`` it acts with and the
    audit ``actor`` (the key, by its public prefix)."""

    key: APIKey
    organization: Organization
    role: str

    @property
    def actor(self) -> Actor:
        """The audit actor of every change made through the key: ``API key osk_…``."""
        return Actor.api_key(self.key)


def org_access(request: HttpRequest, org_slug: str, scope: str) -> KeyAccess:
    """Steps 2 to 5 of the module's order for the key ``request.auth`` on ``org_slug`` needing ``scope`` (a
    ``keys.scopes`` name); raises ``APIRefusal`` (404, 403) or returns the ``KeyAccess``."""
    key: APIKey = request.auth  # type: ignore[attr-defined]
    if org_slug != key.organization.slug:
        raise refused("not_found", "There is no such organization, or this key does not belong to it.", 404)
    if scope not in (key.scopes or ()):
        raise refused("scope_missing", f"This API key does not have the {scope} scope this request needs.")
    role = scopes.acting_role(key)
    if role is None or not has_capability(role, SCOPE_CAPABILITY[scope]):
        shown = Role(role).label if role else "no role"
        raise refused("role_not_allowed", f"This key acts with its owner's role ({shown}), which may not do this.")
    if scope == scopes.SECURITY_WRITE:
        allowed = KeyPolicy.objects.filter(organization_id=key.organization_id, allow_api_security_changes=True)
        if not allowed.exists():
            raise refused(
                "api_security_changes_off",
                "This organization does not allow security changes through the API; an owner can allow them on "
                "the API key policy page.",
            )
    return KeyAccess(key=key, organization=key.organization, role=role)


def _within(networks: Iterable[str], outer: Iterable[str]) -> bool:
    parsed = [ipaddress.ip_network(cidr, strict=False) for cidr in outer]
    for cidr in networks:
        network = ipaddress.ip_network(cidr, strict=False)
        if not any(network.version == bound.version and network.subnet_of(bound) for bound in parsed):  # type: ignore[arg-type]
            return False
    return True


def _narrower(values: Iterable[object], bound: Iterable[object]) -> bool:
    # A restriction list (teams, projects, workloads): empty means "all", so a bounded caller needs a non-empty subset.
    bound_set = {str(value) for value in bound}
    values_set = {str(value) for value in values}
    return not bound_set or (bool(values_set) and values_set <= bound_set)


def beyond_calling_key(
    caller: APIKey,
    *,
    scopes_wanted: Iterable[str],
    permission: str,
    team_ids: Iterable[object],
    project_ids: Iterable[object],
    workloads: Iterable[object],
    allowed_cidrs: Iterable[str],
    expires_at: datetime | None,
) -> str | None:
    """Why a key with these powers would reach further than the calling key ``caller`` (a message naming the first
    difference), or None when it reaches no further. A key never obtains a key that can do more than itself: not by
    issuing one (``POST service-accounts/<id>/keys``) and not by rotating one to learn its secret
    (``POST keys/<id>/rotate``). Compared: the admin API scopes, the project ``permission`` (read < read_write),
    the team, project and workload restrictions (empty: all), the networks it may be used from (empty: anywhere)
    and its expiry (None: never)."""
    held = set(caller.scopes or ())
    extra = [scope for scope in scopes_wanted if scope not in held]
    if extra:
        return f"This API key does not hold the {extra[0]} scope, so it cannot give or reveal a key holding it."
    if permission == APIKey.Permission.READ_WRITE and caller.permission != APIKey.Permission.READ_WRITE:
        return "This API key is read-only, so it cannot give or reveal a read-and-write key."
    for label, values, bound in (
        ("teams", team_ids, caller.team_ids),
        ("projects", project_ids, caller.project_ids),
        ("workloads", workloads, caller.workloads),
    ):
        if not _narrower(values or (), bound or ()):
            return f"This API key is limited to some {label}, so it cannot give or reveal a key reaching others."
    if caller.allowed_cidrs:
        cidrs = list(allowed_cidrs or ())
        if not cidrs or not _within(cidrs, caller.allowed_cidrs):
            return "This API key is limited to some networks, so it cannot give or reveal a key usable elsewhere."
    if caller.expires_at is not None and (expires_at is None or expires_at > caller.expires_at):
        return "This API key expires, so it cannot give or reveal a key that outlives it."
    return None


def refuse_beyond_calling_key(caller: APIKey, target: APIKey) -> None:
    """Raise 403 ``scope_not_allowed`` when the existing key ``target`` reaches further than ``caller``
    (``beyond_calling_key``): rotating it would hand the caller its new secret."""
    reason = beyond_calling_key(
        caller,
        scopes_wanted=target.scopes or (),
        permission=target.permission,
        team_ids=target.team_ids,
        project_ids=target.project_ids,
        workloads=target.workloads,
        allowed_cidrs=target.allowed_cidrs,
        expires_at=target.expires_at,
    )
    if reason is not None:
        raise refused("scope_not_allowed", reason)


__all__ = ["APIRefusal", "KeyAccess", "KeyAuth", "beyond_calling_key", "org_access", "refuse_beyond_calling_key"]
