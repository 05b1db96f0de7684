"""Authenticating SCIM requests: ``Authorization: Bearer scim_…`` (RFC 6750 §2.1) → the live ``ScimToken`` of the
organization in the URL, or a ``Refusal``.

One indexed query (unique ``key_id``) loads the token with its organization and connection; the secret is checked
by HMAC in constant time. A token opens only its own organization's endpoint; API keys (``osk_…``) and dashboard
sessions never authenticate here (nothing reads the session or ``request.user``). The organization's IP allowlist
does not apply (IdPs call from their own clouds); a token's own ``allowed_cidrs`` do (403). Every refusal is audited,
throttled, as ``scim.token_refused`` (like ``key.use_denied``), and failures count per client network
(``SCIM_AUTH_FAILURE_LIMIT`` a minute): past that the answer is 429 with ``Retry-After``.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from audit.recorder import Actor, Target, record_throttled
from orgsecurity import ratelimit
from orgsecurity.client_ip import canonical_address, canonical_network, client_ip
from orgsecurity.refusals import Refusal
from scim import tokens
from scim.models import ScimToken

LAST_USED_INTERVAL = timedelta(minutes=1)
MAX_AUTHORIZATION_LENGTH = 200
SCIM_AUTH_FAILURE_LIMIT = 30
FAILURE_WINDOW_SECONDS = 60


def _unauthorized(code: str, message: str) -> Refusal:
    return Refusal(code, message, status=401)


def _lookup(key_id: str) -> ScimToken | None:
    return ScimToken.objects.select_related("organization", "connection").filter(key_id=key_id).first()


def _network_allowed(token: ScimToken, ip: str | None) -> bool:
    if not token.allowed_cidrs:
        return True
    address = canonical_address(ip) if ip else None
    if address is None:
        return False
    for cidr in token.allowed_cidrs:
        network = canonical_network(ipaddress.ip_network(cidr, strict=False))
        if network.version == address.version and address in network:
            return True
    return False


def _check(request: HttpRequest, org_slug: str) -> tuple[ScimToken | None, Refusal | None]:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.strip().partition(" ")
    if not header or scheme.lower() != "bearer" or not credentials.strip():
        return None, _unauthorized("missing_token", "Send the SCIM token in the header 'Authorization: Bearer scim_…'.")
    if len(header) > MAX_AUTHORIZATION_LENGTH:
        return None, _unauthorized("malformed_token", "This is not a SCIM token.")
    try:
        parsed = tokens.parse(credentials.strip())
    except tokens.MalformedToken as exc:
        return None, _unauthorized("malformed_token", str(exc))
    token = _lookup(parsed.key_id)
    if token is None or not tokens.matches(parsed.token, token.secret_hash):
        return None, _unauthorized("unknown_token", "This SCIM token is not valid.")
    if token.revoked_at is not None:
        return token, _unauthorized("token_revoked", "This SCIM token was revoked.")
    if token.organization.slug != org_slug:
        # A token opens its own organization's endpoint only; another organization's URL is as if it did not exist.
        return token, _unauthorized("wrong_organization", "This SCIM token is not valid for this endpoint.")
    if not _network_allowed(token, client_ip(request)):
        return token, Refusal(
            "network_not_allowed",
            f"This SCIM token may not be used from {client_ip(request) or 'an unknown address'}.",
            status=403,
        )
    return token, None


def _audit(request: HttpRequest, refusal: Refusal, token: ScimToken | None) -> None:
    ip = client_ip(request)
    record_throttled(
        "scim.token_refused",
        throttle_key=f"scim:{token.key_id if token else '-'}:{ip}:{refusal.code}",
        organization=token.organization if token else None,
        actor=Actor.anonymous(f"SCIM client at {ip or 'an unknown address'}"),
        target=Target("scim.scimtoken", str(token.pk), token.prefix) if token else None,
        details={
            "code": refusal.code,
            "message": refusal.message,
            "method": request.method,
            "path": request.path[:200],
        },
    )


def record_use(token: ScimToken, request: HttpRequest) -> None:
    """Write ``last_used_at``/``last_used_ip`` at most once a minute per token (a conditional UPDATE)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_INTERVAL:
        return
    ip = client_ip(request)
    ScimToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_INTERVAL)
    ).update(last_used_at=now, last_used_ip=ip)
    token.last_used_at, token.last_used_ip = now, ip


def authenticate(request: HttpRequest, org_slug: str) -> ScimToken | Refusal:
    """The live token of ``org_slug`` the request presents, or the refusal to answer (401, 403, or 429 with
    ``retry_after`` in its context once the client network's failures pass the limit). Refusals are audited."""
    token, refusal = _check(request, org_slug)
    if refusal is None:
        assert token is not None
        record_use(token, request)
        return token
    if refusal.code != "missing_token":
        _audit(request, refusal, token)
    decision = ratelimit.hit(
        f"scim-auth:{ratelimit.client_network(client_ip(request))}",
        limit=SCIM_AUTH_FAILURE_LIMIT,
        window_seconds=FAILURE_WINDOW_SECONDS,
    )
    if not decision.allowed:
        return Refusal(
            "too_many_failures",
            f"Too many failed SCIM token attempts from this network. Try again in {decision.retry_after} seconds.",
            status=429,
            context={"retry_after": decision.retry_after},
        )
    return refusal
