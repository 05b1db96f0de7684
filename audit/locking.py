"""Audited writes: one transaction per change, its organizations locked first, retried when the database says so.

Every transaction that calls ``audit.record`` is opened by ``@audited(scope)`` on its action function, and takes
its row locks in one order (PostgreSQL; SQLite runs one writing transaction at a time, see settings.DATABASES):

1. **the organization rows** the write concerns, ``FOR NO KEY UPDATE``, ascending id, as the first statement of
   the transaction (``@audited`` does it, nothing else locks an organization row);
2. **the rows it changes**, in whatever order the action needs: writers of one organization reach this point one
   at a time, so they never wait on each other here;
3. **the audit chain head** (``audit.record``), held until commit;
4. at COMMIT, the deferred foreign-key checks of the rows it inserted take ``FOR KEY SHARE`` on the organization
   rows they point to. ``FOR NO KEY UPDATE`` does not block that lock; a plain ``select_for_update()`` (``FOR
   UPDATE``) on an organization row would, and two writers would then wait on each other (issue 14, item 3).

``audit.record`` refuses (LockOrderError) an event for an organization that no enclosing ``@audited`` locked, so
an action that skips step 1 fails in every test that runs it rather than deadlocking in production. A transaction
that still fails with a deadlock (SQLSTATE 40P01), a serialization failure (40001), or SQLite's "database is
locked" (its busy timeout ran out before the transaction began) is rolled back and run again, at most
``ATTEMPTS`` times in all: the whole function, so nothing half-done is kept (emails go in ``on_commit``, which a
rolled-back attempt never runs).
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import OperationalError, transaction
from django.db.models import Model

from orgsecurity.models import Organization
from orgsecurity.rows import column, table

logger = logging.getLogger(__name__)

ATTEMPTS = 3
RETRY_PAUSE_SECONDS = (0.01, 0.05)  # a random pause in this range, times the attempt number, before running again
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure (PostgreSQL)

F = TypeVar("F", bound=Callable[..., Any])
Scope = str | Callable[..., Any] | None


class LockOrderError(RuntimeError):
    """``audit.record`` was called for an organization that no enclosing ``@audited`` locked first."""


def _frames(connection: Any) -> list[set[int]]:
    """The organization ids each open ``@audited`` call on this connection (thread) locked, innermost last."""
    frames = getattr(connection, "audited_frames", None)
    if frames is None:
        frames = connection.audited_frames = []
    return frames


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` says only "run the transaction again": a PostgreSQL deadlock or serialization failure, or
    SQLite's "database is locked"."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc)


def _organization_ids(value: Any) -> Iterator[int]:
    if value is None:
        return
    if isinstance(value, Organization):
        yield value.pk
    elif isinstance(value, int):
        yield value
    elif isinstance(value, Model):
        organization_id = getattr(value, "organization_id", None)
        if organization_id is not None:
            yield organization_id
        elif hasattr(value, "organization_id"):
            return  # e.g. a platform-level row: no organization
        else:
            raise TypeError(f"@audited scope: a {type(value).__name__} has no organization_id.")
    elif isinstance(value, Iterable) and not isinstance(value, str | bytes):
        for item in value:
            yield from _organization_ids(item)
    else:
        raise TypeError(f"@audited scope: {value!r} is not an organization, its id, or a row of one.")


def _resolver(function: Callable[..., Any], scope: Scope) -> Callable[..., set[int]]:
    if scope is None:
        return lambda *args, **kwargs: set()
    if callable(scope):
        return lambda *args, **kwargs: set(_organization_ids(scope(*args, **kwargs)))
    name, *attributes = scope.split(".")
    signature = inspect.signature(function)
    if name not in signature.parameters:
        raise TypeError(f"@audited({scope!r}): {function.__qualname__} has no parameter {name!r}.")

    def resolve(*args: Any, **kwargs: Any) -> set[int]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        value = bound.arguments[name]
        for attribute in attributes:
            value = None if value is None else getattr(value, attribute)
        return set(_organization_ids(value))

    return resolve


def lock_organizations(organization_ids: Iterable[int]) -> None:
    """Lock these organization rows FOR NO KEY UPDATE, ascending id (step 1 of the order in the module docstring),
    and note them in the innermost ``@audited`` frame. Only ``@audited`` calls it."""
    from django.db import connection

    frames = _frames(connection)
    held = set().union(*frames) if frames else set()
    wanted = sorted(set(organization_ids) - held)
    if wanted and connection.features.has_select_for_update:
        with connection.cursor() as cursor:  # SQL from the model: every audited write runs it (orgsecurity.rows)
            cursor.execute(_lock_sql(len(wanted)), wanted)
    if frames:
        frames[-1].update(wanted)


@functools.lru_cache(maxsize=64)  # one statement per number of organizations locked at once
def _lock_sql(count: int) -> str:
    from django.db import connection

    pk = column(Organization, "id")
    mode = "NO KEY UPDATE" if connection.features.has_select_for_no_key_update else "UPDATE"
    placeholders = ", ".join(["%s"] * count)
    return f"SELECT {pk} FROM {table(Organization)} WHERE {pk} IN ({placeholders}) ORDER BY {pk} FOR {mode}"  # noqa: S608


def holds(organization_ids: Iterable[int]) -> bool:
    """Whether an open ``@audited`` call on this connection (thread) locked every one of ``organization_ids``: code
    that records in their logs may then write in that call's transaction, without an ``@audited`` of its own."""
    from django.db import connection

    frames = _frames(connection)
    if not frames:
        return False
    held = set().union(*frames)
    return all(organization_id in held for organization_id in organization_ids)


def note_new_organization(organization: Organization) -> None:
    """Count ``organization``, created in the current ``@audited`` transaction, as locked by it: nobody else can
    see the row before this transaction commits, so there is nothing to wait for."""
    from django.db import connection

    frames = _frames(connection)
    if not frames:
        raise LockOrderError("note_new_organization() is for the @audited transaction that created the organization.")
    frames[-1].add(organization.pk)


def require_locked(action: str, organization: Organization | None) -> None:
    """Raise LockOrderError unless an enclosing ``@audited`` locked ``organization`` (None, the platform log: unless
    one is open at all). Called by ``audit.record``."""
    from django.db import connection

    frames = _frames(connection)
    if not frames:
        raise LockOrderError(
            f"audit.record({action!r}) outside an audited write: open its transaction with @audited(...) "
            "(audit.locking) on the action function, which locks the organization first."
        )
    if organization is not None and not any(organization.pk in frame for frame in frames):
        raise LockOrderError(
            f"audit.record({action!r}) for organization {organization.pk}, which the enclosing @audited did not lock "
            "first: name it in the @audited scope, so it is locked before any other row."
        )


@contextmanager
def _frame(organization_ids: set[int]) -> Iterator[None]:
    from django.db import connection

    frames = _frames(connection)
    frames.append(set())
    try:
        lock_organizations(organization_ids)
        yield
    finally:
        frames.pop()


def _outermost(connection: Any) -> bool:
    """No transaction is open, except those of the test framework (Django's TestCase blocks)."""
    return all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def audited(scope: Scope, *, attempts: int = ATTEMPTS) -> Callable[[F], F]:
    """Decorate an action function that records audit events: it runs in one transaction that first locks the
    organization rows ``scope`` names, and is run again on a deadlock or serialization failure (at most
    ``attempts`` runs in all; 1 for code that changes more than the database, e.g. the request's session).

    ``scope`` is the dotted path of a parameter (``"organization"``, ``"key"``, ``"run.connection"``) whose value is
    an Organization, an organization id, a row with ``organization_id``, None (the platform log only) or an
    iterable of these; or a callable taking the function's arguments and returning such a value. A retry happens
    only where the call opened the transaction; nested inside another one, the outer call decides.
    """

    def decorate(function: F) -> F:
        resolve = _resolver(function, scope)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from django.db import connection

            retrying = _outermost(connection)
            for attempt in range(1, attempts + 1):
                try:
                    with transaction.atomic(), _frame(resolve(*args, **kwargs)):
                        return function(*args, **kwargs)
                except OperationalError as exc:
                    if not retrying or attempt >= attempts or not is_retryable(exc):
                        raise
                    logger.warning("%s: %s; running it again (attempt %d)", function.__qualname__, exc, attempt + 1)
                    time.sleep(random.uniform(*RETRY_PAUSE_SECONDS) * attempt)  # noqa: S311 (jitter, not a secret)
            raise AssertionError("unreachable")  # pragma: no cover

        wrapper.audited_scope = scope  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
