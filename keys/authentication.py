"""Authenticating API requests by key: ``Authorization: Bearer osk_…`` (RFC 6750 §2.1) → a live APIKey or a
Refusal with a stable code.

One indexed query (on the unique ``key_id``) loads the key with its organization, owner and the owner's current
role; the secret is checked by HMAC in constant time. ``last_used_at``/``last_used_ip`` are written at most once
a minute per key with a conditional UPDATE, so concurrent workers write once between them. Dashboard sessions play
no part: nothing here reads ``request.user`` or the session.

401 codes: ``missing_key``, ``malformed_key``, ``unknown_key``, ``key_rotated`` (an old secret after its overlap),
``key_revoked`` (its message gives the date, never the revocation's reason), ``key_expired``, ``key_owner_removed``
(also when the owner's account was deactivated). 403: ``owner_role_not_allowed`` (the owner's role no longer allows
this key; normally already revoked by ``change_role``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest
from django.utils import timezone

from keys import tokens
from keys.actions import KEY_MANAGERS
from keys.models import APIKey
from orgsecurity.client_ip import client_ip
from orgsecurity.models import Membership
from orgsecurity.refusals import Refusal
from orgsecurity.roles import Role
from orgsecurity.text import end_sentence

LAST_USED_INTERVAL = timedelta(minutes=1)
# Longer than any token, shorter than anything worth scanning: refuse oversized headers before any work.
MAX_AUTHORIZATION_LENGTH = 200


def format_time(moment: datetime) -> str:
    """A UTC time as people read it in messages: ``2026-12-01 14:05 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _unauthorized(code: str, message: str) -> Refusal:
    return Refusal(code, message, status=401)


def read_bearer_token(request: HttpRequest) -> str | Refusal:
    """The credentials of an ``Authorization: Bearer`` header, or a 401 Refusal (``missing_key``)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.strip().partition(" ")
    if not header or scheme.lower() != "bearer" or not credentials.strip():
        return _unauthorized(
            "missing_key", "Send your API key in the Authorization header: 'Authorization: Bearer osk_…'."
        )
    if len(header) > MAX_AUTHORIZATION_LENGTH:
        return _unauthorized("malformed_key", "This is not an API key: keys are 52 characters starting with osk_.")
    return credentials.strip()


def _owner_role() -> RawSQL:
    # The owner's current role in the key's organization (None when not a member, or a suspended one: a suspended
    # member counts as no member), as a correlated subselect on the unique
    # (organization, user) index. Written as SQL from model metadata (no input reaches it) because compiling the
    # equivalent ORM Subquery on every request costs more than the rest of the key check together.
    membership, key = Membership._meta.db_table, APIKey._meta.db_table
    return RawSQL(  # noqa: S611
        f'SELECT "role" FROM "{membership}" WHERE "organization_id" = "{key}"."organization_id" '  # noqa: S608
        f'AND "user_id" = "{key}"."owner_user_id" AND "suspended_at" IS NULL',
        (),
    )


# Every column of the key, and of its organization and owner only what API answers and refusals show, plus the
# organization's IP allowlist state, so the allowlist check (API_PIPELINE_CHECKS) needs no query of its own.
RELATED_FIELDS = (
    "organization__slug",
    "organization__name",
    "owner_user__email",
    "owner_user__is_active",
    "owner_service_account__name",
    *(f"organization__ip_allowlist__{name}" for name in ("id", "enabled", "scope", "version")),
)


def key_queryset() -> QuerySet[APIKey]:
    """Keys joined with their organization (and its IP allowlist) and owner: what an API request uses, one query."""
    key_fields = [field.name for field in APIKey._meta.concrete_fields]
    return APIKey.objects.select_related("organization__ip_allowlist", "owner_user", "owner_service_account").only(
        *key_fields, *RELATED_FIELDS
    )


def lookup_key(key_id: str) -> APIKey | None:
    """The key with ``key_id`` with its organization, owner and the owner's current role in that organization
    (``owner_role``; None when the owner is no longer a member), in one query on the unique key_id index."""
    found = _lookup_queryset().filter(key_id=key_id)[:1]
    return next(iter(found), None)


@cache
def _lookup_queryset() -> QuerySet[APIKey]:
    # Built once and only ever cloned (never evaluated): each clone deep-copies the select_related tree, so
    # chaining the same five calls on every request would cost more than the key check itself. No ORDER BY:
    # key_id is unique, and the default ordering would only add a sort to the plan.
    return key_queryset().annotate(owner_role=_owner_role()).order_by()


def _verify_secret(key: APIKey, token: str, now: datetime) -> Refusal | None:
    if tokens.matches(token, key.secret_hash):
        return None
    if tokens.matches(token, key.previous_secret_hash):
        if key.previous_valid_until is not None and now < key.previous_valid_until:
            key.via_previous_secret = True  # being retired: it mints no new secret (adminapi.concurrency.idempotent)
            return None
        ended = format_time(key.previous_valid_until or key.rotated_at or now)
        return _unauthorized(
            "key_rotated", f"This API key was rotated; its old secret stopped working on {ended}. Use the new one."
        )
    return _unauthorized("unknown_key", "This API key is not valid.")


def _check_state(key: APIKey, now: datetime) -> Refusal | None:
    if key.revoked_at is not None:
        # The code and the date only: the revocation's reason is the organization's note (free text, and automatic
        # ones name people), not something whoever holds the key should read.
        return _unauthorized("key_revoked", f"This API key was revoked on {format_time(key.revoked_at)}.")
    if key.is_expired(now):
        return _unauthorized("key_expired", f"This API key expired on {format_time(key.expires_at)}.")
    if key.owner_service_account_id is None:
        if key.owner_user_id is None:
            return _unauthorized("key_owner_removed", "The account that owned this API key was deleted.")
        if not key.owner_user.is_active:
            # A deactivated account can no longer sign in; its keys must not keep acting for it either.
            return _unauthorized("key_owner_removed", "The account that owns this API key was deactivated.")
        role = getattr(key, "owner_role", None)
        if role is None:
            return _unauthorized(
                "key_owner_removed",
                f"The owner of this API key is no longer a member of {end_sentence(key.organization.name)}",
            )
        if role not in KEY_MANAGERS and (role != Role.MEMBER or key.permission != APIKey.Permission.READ):
            return Refusal(
                "owner_role_not_allowed",
                f"The owner's role ({Role(role).label}) does not allow this API key.",
                status=403,
            )
    return None


def record_use(key: APIKey, request: HttpRequest, now: datetime) -> None:
    """Write ``last_used_at``/``last_used_ip`` if the stored time is over a minute old (one UPDATE per key per
    minute across all processes: the condition is re-checked by the database)."""
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_INTERVAL:
        return
    ip = client_ip(request)
    APIKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_INTERVAL)
    ).update(last_used_at=now, last_used_ip=ip)
    key.last_used_at, key.last_used_ip = now, ip


def authenticate(request: HttpRequest) -> tuple[APIKey | None, Refusal | None]:
    """Verify the request's bearer key: ``(key, None)`` for a live key, else ``(key or None, refusal)``.

    The key is returned with a refusal when it was identified (its secret verified, or its ID found for
    ``unknown_key``), so refusals can be audited in its organization's log. A live key carries
    ``via_previous_secret``: True when the request used the old secret of a rotation, still in its overlap.
    """
    credentials = read_bearer_token(request)
    if isinstance(credentials, Refusal):
        return None, credentials
    try:
        parsed = tokens.parse(credentials)
    except tokens.MalformedKey as exc:
        return None, _unauthorized("malformed_key", str(exc))
    key = lookup_key(parsed.key_id)
    if key is None:
        return None, _unauthorized("unknown_key", "This API key is not valid.")
    key.via_previous_secret = False
    now = timezone.now()
    refusal = _verify_secret(key, parsed.token, now) or _check_state(key, now)
    if refusal is not None:
        return key, refusal
    record_use(key, request, now)
    return key, None
