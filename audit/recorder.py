"""Writing audit events: ``record()`` appends one event to its organization's hash chain.

Call it from action functions inside the same ``transaction.atomic()`` as the change it describes
(the Zulip ``do_*`` pattern): if the change rolls back, so does the event, and if the event cannot be
written the change does not commit either.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, models, transaction
from django.db import connection as db
from django.utils import timezone

from audit import context, events, search
from audit.locking import audited, require_locked
from audit.models import ActorType, AuditChain, AuditEvent
from orgsecurity.actors import ProgramActor
from orgsecurity.client_ip import canonical_ip_text
from orgsecurity.models import Organization
from orgsecurity.rows import ModelColumns, column, table

REDACTED = "[redacted]"
# Field names whose values are secrets: never stored, whatever the caller passes.
_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|private[_-]?key|api[_-]?key|token|recovery[_-]?code|credential|signature",
    re.IGNORECASE,
)
# A surrogate code point in a Python string is always unpaired (a pair is one code point): UTF-8 cannot encode it,
# so neither database can store it and the hash input could not be encoded.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class AuditOutsideTransaction(RuntimeError):
    """record() was called outside transaction.atomic(): the event could commit without its change."""


@dataclass(frozen=True)
class Actor:
    """Who did it: a snapshot that survives the deletion of the user or key."""

    type: str
    id: str
    label: str

    @classmethod
    def user(cls, user: Any) -> Actor:
        return cls(ActorType.USER, str(user.pk), getattr(user, "email", str(user)))

    @classmethod
    def support(cls, user: Any) -> Actor:
        return cls(ActorType.SUPPORT, str(user.pk), f"{user.email} (platform support)")

    @classmethod
    def system(cls, label: str = "System") -> Actor:
        return cls(ActorType.SYSTEM, "", label)

    @classmethod
    def api_key(cls, key: Any) -> Actor:
        return cls(ActorType.API_KEY, str(key.pk), f"API key {getattr(key, 'prefix', key.pk)}")

    @classmethod
    def anonymous(cls, label: str) -> Actor:
        """Someone not signed in, e.g. the email typed into a failed sign-in."""
        return cls(ActorType.USER, "", label)


@dataclass(frozen=True)
class Target:
    """What it was done to: type, id and a label snapshot."""

    type: str
    id: str
    label: str


def as_actor(actor: Any) -> Actor:
    """Accept an Actor, a user (signed-in person), an ``orgsecurity.actors.ProgramActor`` (its type, id and
    label), or None (the system)."""
    if actor is None:
        return Actor.system()
    if isinstance(actor, Actor):
        return actor
    if isinstance(actor, ProgramActor):
        return Actor(actor.type, actor.id, actor.label)
    return Actor.user(actor)


def as_target(target: Any) -> Target | None:
    if target is None or isinstance(target, Target):
        return target
    if isinstance(target, models.Model):
        return Target(target._meta.label_lower, str(target.pk), str(target))
    raise TypeError(f"An audit target must be a model instance or a Target, not {type(target).__name__}.")


def redact(value: Any) -> Any:
    """Return a JSON-safe copy of ``value`` with every secret-named key's value replaced by [redacted].

    Values become what JSON, PostgreSQL jsonb and SQLite store unchanged, so the stored event hashes the same as
    the written one (``AuditEvent.canonical_content``): None, booleans and integers stay; floats, decimals,
    datetimes and other objects become their text (``str``); keys become text; NUL characters, which jsonb
    refuses, are dropped and unpaired surrogates, which UTF-8 cannot encode, become U+FFFD, in keys and values.
    """
    if isinstance(value, dict):
        return {
            storable_text(key): (REDACTED if _SECRET_NAME.search(str(key)) and item not in (None, "") else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [redact(item) for item in items]
    if value is None or isinstance(value, bool | int):
        return value
    return storable_text(value)


def storable_text(value: Any) -> str:
    """``str(value)`` as both databases store it unchanged: NUL characters dropped (PostgreSQL refuses them) and
    unpaired surrogates replaced by U+FFFD (not encodable in UTF-8)."""
    return _LONE_SURROGATE.sub("\ufffd", str(value).replace("\x00", ""))


def _clip(text: str | None, limit: int) -> str:
    return storable_text(text or "")[:limit]


def _lock_chain(organization: Organization | None) -> AuditChain:
    scope = AuditChain.scope_for(organization)
    chain = _locked_chain(scope)
    if chain is not None:
        return chain
    try:
        with transaction.atomic():
            AuditChain.objects.create(scope=scope, organization=organization)
    except IntegrityError:
        pass  # another writer created it first; lock theirs below
    return AuditChain.objects.select_for_update().get(scope=scope)


def _locked_chain(scope: str) -> AuditChain | None:
    """The chain head of ``scope`` locked FOR UPDATE until commit (SQLite: one writer at a time), or None. SQL built
    from the model (``orgsecurity.rows``), like ``_advance_chain``: every audited write runs both."""
    select, _, columns = _chain_statements()
    with db.cursor() as cursor:
        cursor.execute(select, [scope])
        row = cursor.fetchone()
    return None if row is None else columns.instances(row)[0]


def _advance_chain(chain_id: int, seq: int, hash_: str) -> None:
    _, update, _ = _chain_statements()
    with db.cursor() as cursor:
        cursor.execute(update, [seq, hash_, chain_id])


@functools.cache
def _chain_statements() -> tuple[str, str, ModelColumns]:
    columns = ModelColumns((AuditChain, "c"))
    lock = " FOR UPDATE" if db.features.has_select_for_update else ""
    pk = column(AuditChain, "id")
    select = f"SELECT {columns.sql} FROM {table(AuditChain)} c WHERE c.{column(AuditChain, 'scope')} = %s{lock}"  # noqa: S608
    update = (
        f"UPDATE {table(AuditChain)} SET {column(AuditChain, 'last_seq')} = %s, "  # noqa: S608 (model names)
        f"{column(AuditChain, 'last_hash')} = %s WHERE {pk} = %s"
    )
    return select, update, columns


def record(
    action: str,
    *,
    organization: Organization | None,
    actor: Any,
    target: Any = None,
    changes: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to ``organization``'s chain (``None``: the platform-level log) and return it.

    ``actor`` is a user, an Actor, an ``orgsecurity.actors.ProgramActor``, or None for the system; ``target`` a
    model instance or a Target; ``changes`` maps field -> [old, new]; ``details`` is extra context. Time is
    ``timezone.now()`` (UTC). Raises UnknownAuditAction for an unregistered action, AuditOutsideTransaction when
    not inside ``transaction.atomic()``, and LockOrderError when no enclosing ``audit.locking.audited`` locked
    ``organization`` first (the lock order of audited writes is in that module).
    """
    return record_many(
        action,
        organization=organization,
        actor=actor,
        items=[{"target": target, "changes": changes, "details": details}],
    )[0]


def record_many(
    action: str, *, organization: Organization | None, actor: Any, items: list[dict[str, Any]]
) -> list[AuditEvent]:
    """Append one ``action`` event per item of ``items`` to ``organization``'s chain in ONE bulk insert (so the
    query count does not grow with the number of items: e.g. the per-key events of a deprovisioning) and return
    them in chain order. Each item is a dict with optional ``target``, ``changes`` and ``details``, as for
    ``record``; every event has the same actor, time and request. The chain stays verifiable (``audit_verify``):
    each event's ``prev_hash`` is the previous one's hash. Raises what ``record`` raises; an empty ``items``
    records nothing (and still checks the transaction and lock order).
    """
    event_type = events.get(action)
    if not transaction.get_connection().in_atomic_block:
        raise AuditOutsideTransaction(f"audit.record({action!r}) must run inside the transaction of its change.")
    require_locked(action, organization)
    if not items:
        return []
    who = as_actor(actor)
    meta = context.current()
    ip = canonical_ip_text(meta.ip)  # one form of a client address everywhere (orgsecurity.client_ip)
    chain = _lock_chain(organization)
    occurred_at = timezone.now()
    seq, prev_hash = chain.last_seq, chain.last_hash
    written = []
    for item in items:
        unknown = set(item) - {"target", "changes", "details"}
        if unknown:
            raise TypeError(f"record_many item keys are target, changes, details; not {', '.join(sorted(unknown))}.")
        what = as_target(item.get("target"))
        seq += 1
        event = AuditEvent(
            organization=organization,
            seq=seq,
            occurred_at=occurred_at,
            actor_type=who.type,
            actor_id=_clip(who.id, 64),
            actor_label=_clip(who.label, 255),
            action=event_type.name,
            category=event_type.category,
            target_type=_clip(what.type if what else "", 100),
            target_id=_clip(what.id if what else "", 64),
            target_label=_clip(what.label if what else "", 255),
            changes=json.loads(json.dumps(redact(item.get("changes") or {}))),
            details=json.loads(json.dumps(redact(item.get("details") or {}))),
            ip=ip,
            user_agent=_clip(meta.user_agent, 512),
            request_id=_clip(meta.request_id, 64),
            prev_hash=prev_hash,
        )
        event.hash = prev_hash = event.compute_hash()
        event.search_text = search.search_text(
            action=event.action,
            actor=event.actor_label,
            target=event.target_label,
            changes=event.changes,
            details=event.details,
        )
        written.append(event)
    if len(written) == 1:
        written[0].save()
    else:
        AuditEvent.objects.bulk_create(written)
    _advance_chain(chain.pk, seq, prev_hash)
    return written


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Return ``{field: [old, new]}`` for every field whose value differs between two snapshots."""
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}


@audited(lambda action, **kwargs: kwargs.get("organization"))
def _record_alone(action: str, **kwargs: Any) -> AuditEvent:
    return record(action, **kwargs)


def _throttle_window_key(action: str, throttle_key: str) -> str:
    return f"audit-throttle:{action}:{throttle_key}"


def throttled_request_id(action: str, throttle_key: str) -> str:
    """The request ID of the event ``record_throttled`` recorded for ``action`` and ``throttle_key`` in the current
    window ("" when none is known, e.g. the window ended or another process recorded it): what a suppressed repeat
    can point people to, since it has no event of its own."""
    return cache.get(f"{_throttle_window_key(action, throttle_key)}:request_id") or ""


def record_throttled(action: str, *, throttle_key: str, window_seconds: int = 60, **kwargs: Any) -> AuditEvent | None:
    """Record ``action`` at most once per ``window_seconds`` for ``throttle_key`` (e.g. org + client IP), so a
    flood of refusals does not flood the log. Suppressed repeats are counted (in the shared cache) and the next
    recorded event carries ``details["suppressed_since_last"]``. Returns the event, or None when suppressed.

    Flood control only: with a per-process cache each process records once per window, which is acceptable.
    """
    window_key = _throttle_window_key(action, throttle_key)
    count_key = f"{window_key}:suppressed"
    if cache.add(window_key, True, timeout=window_seconds):
        suppressed = cache.get(count_key) or 0
        if suppressed:
            cache.delete(count_key)
            kwargs["details"] = {**(kwargs.get("details") or {}), "suppressed_since_last": suppressed}
        event = _record_alone(action, **kwargs)
        cache.set(f"{window_key}:request_id", event.request_id, timeout=window_seconds)
        return event
    try:
        cache.incr(count_key)
    except ValueError:
        cache.set(count_key, 1, timeout=window_seconds * 60)
    return None
