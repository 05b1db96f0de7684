"""The round trip through the IdP: pending logins, single use, browser binding, and the finishing step.

0. Public sign-in starts are counted per client network first (``count_sign_in_start``): beyond the limit they
   are refused with 429 before anything is stored. Expired pending logins are purged
   (``purge_expired_pending_logins``) by the worker (``sso.tasks``) and the ``purge_pending_logins`` command.
1. ``begin`` stores a pending login keyed by what the IdP will hand back (SAML AuthnRequest ID / OIDC state) and
   binds it to this browser (a random value in the session; only its hash is stored).
2. The protocol code validates the IdP's answer, then ``answer`` consumes the pending login (once, before its
   expiry) and stores the asserted identity with a one-time finish token.
3. The browser is sent to ``/sso/<org>/finish/?token=…`` — a same-site GET, so the SameSite=Lax session cookie
   comes along even when the IdP answered with a cross-site POST — where ``finish`` checks the browser binding and
   hands over to ``sso.signin.completion.complete``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection as db
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from orgsecurity import ratelimit
from orgsecurity.client_ip import client_ip
from orgsecurity.models import Organization
from orgsecurity.rows import ModelColumns, column, table
from sso.assertion import AssertedIdentity
from sso.errors import SSOSignInRefused
from sso.models import PENDING_TTL, SSOConnection, SSOPendingLogin, SSOTestRun

logger = logging.getLogger(__name__)

FINISH_TTL = timedelta(minutes=5)
_BINDING_SESSION_KEY = "sso_binding"
MAX_NEXT_URL_LENGTH = SSOPendingLogin._meta.get_field("next_url").max_length


class TooManySignInStarts(SSOSignInRefused):
    """More sign-ins were started from one client network than ``SSO_START_LIMIT`` per ``SSO_START_WINDOW_SECONDS``
    allows (429). ``retry_after`` is the number of seconds until starts are accepted again."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many sign-ins were started from your network just now, so this one was not started. "
            f"Wait {_duration(retry_after)} and try again.",
            code="too_many_sign_in_starts",
            status=429,
        )
        self.retry_after = retry_after


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


def count_sign_in_start(request: HttpRequest) -> None:
    """Count one sign-in start from the request's client network (the IPv4 address, or the IPv6 /64:
    ``orgsecurity.ratelimit.client_network``) and raise ``TooManySignInStarts`` (429) beyond ``SSO_START_LIMIT``
    starts per ``SSO_START_WINDOW_SECONDS``. Call it before anything is looked up or stored: a refused start
    costs one cache increment and writes no row (no pending login, no session)."""
    network = ratelimit.client_network(client_ip(request))
    decision = ratelimit.hit(
        f"sso-start:{network}", limit=settings.SSO_START_LIMIT, window_seconds=settings.SSO_START_WINDOW_SECONDS
    )
    if not decision.allowed:
        if decision.count == settings.SSO_START_LIMIT + 1:  # once per window and network, not per refused request
            logger.warning("Sign-in starts from %s refused for %s s: over the limit", network, decision.retry_after)
        raise TooManySignInStarts(decision.retry_after)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def safe_next_url(candidate: str | None, default: str = "/") -> str:
    """``candidate`` when it is a same-origin path (e.g. from RelayState or ?next=) short enough to keep with a
    pending login, else ``default``."""
    if (
        candidate
        and len(candidate) <= MAX_NEXT_URL_LENGTH
        and candidate.startswith("/")
        and not candidate.startswith("//")
        and "\\" not in candidate
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts=set())
    ):
        return candidate
    return default


def begin(
    request: HttpRequest,
    connection: SSOConnection,
    *,
    key: str,
    purpose: str,
    next_url: str = "",
    user: Any = None,
    test_run: SSOTestRun | None = None,
    data: dict[str, Any] | None = None,
    ttl: timedelta = PENDING_TTL,
) -> SSOPendingLogin:
    """Store a pending login for ``key`` (unique, e.g. the AuthnRequest ID) bound to this browser's session.

    A browser with no signed-in session gets one that lives only as long as the pending login can be used
    (``ttl`` + ``FINISH_TTL``), so anonymous starts leave no session behind for weeks; signing in
    (``orgsecurity.auth.sign_in``) gives the session its normal lifetime.
    """
    binding = request.session.get(_BINDING_SESSION_KEY)
    if not binding:
        binding = secrets.token_urlsafe(32)
        request.session[_BINDING_SESSION_KEY] = binding
    if not getattr(getattr(request, "user", None), "is_authenticated", False):
        request.session.set_expiry(int((ttl + FINISH_TTL).total_seconds()))
    return SSOPendingLogin.objects.create(
        connection=connection,
        key=key,
        purpose=purpose,
        user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        test_run=test_run,
        next_url=safe_next_url(next_url, ""),
        browser_binding=_sha256(binding),
        data=data or {},
        expires_at=timezone.now() + ttl,
    )


def claim(connection: SSOConnection, key: str) -> SSOPendingLogin:
    """Consume the pending login ``key`` of ``connection``: exactly once, before it expires.

    Raises SSOSignInRefused for an unknown key (a response to a request we never sent, or sent for another
    organization's connection), a second use (replay) or an expired one.
    """
    with transaction.atomic():
        pending = (
            SSOPendingLogin.objects.select_for_update(of=("self",))
            .select_related("connection__organization", "test_run")
            .filter(connection=connection, key=key)
            .first()
        )
        if pending is None:
            raise SSOSignInRefused(
                "This sign-in answer does not match any sign-in started here. Start the sign-in again.",
                code="unknown_request",
                status=400,
            )
        if pending.answered_at is not None:
            raise SSOSignInRefused(
                "This sign-in answer was already used. Start the sign-in again.", code="replayed", status=400
            )
        if pending.expires_at <= timezone.now():
            raise SSOSignInRefused(
                "This sign-in took too long and expired. Start the sign-in again.", code="expired", status=400
            )
        pending.answered_at = timezone.now()
        pending.save(update_fields=["answered_at"])
    return pending


def claim_and_answer(pending: SSOPendingLogin, identity: AssertedIdentity) -> str:
    """Consume ``pending`` (already loaded by the caller) and store the validated identity, in one conditional
    UPDATE: it succeeds once, before the expiry, whichever process gets there first. Returns the finishing URL.

    Raises SSOSignInRefused when the pending login was already answered (replay) or expired. The caller checks that
    ``pending`` belongs to the connection that validated the answer.
    """
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    updated = _conditional_answer(pending.pk, now, _with_identity(pending.data, identity), _sha256(token))
    if not updated:
        claim(pending.connection, pending.key)  # raises the refusal that says why
        raise SSOSignInRefused("This sign-in answer was already used. Start the sign-in again.", code="replayed")
    return _finish_url(pending, token)


def _conditional_answer(pk: int, now: Any, data: dict[str, Any], token_hash: str) -> int:
    """UPDATE the pending login ``pk`` as answered, only if it is not answered yet and not expired; returns the row
    count. Written as SQL built once from the model (values adapted by the fields themselves) because every
    sign-in runs it and the ORM's update() took longer to compose than to run (bench/saml_acs.py)."""
    sql, fields = _answer_statement()
    params = [
        fields["answered_at"].get_db_prep_save(now, db),
        fields["data"].get_db_prep_save(data, db),
        token_hash,
        pk,
        fields["expires_at"].get_db_prep_save(now, db),
    ]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@cache
def _answer_statement() -> tuple[str, dict[str, Any]]:
    quote = db.ops.quote_name
    fields = {field.name: field for field in SSOPendingLogin._meta.concrete_fields}
    column = {name: quote(field.column) for name, field in fields.items()}
    sql = (
        f"UPDATE {quote(SSOPendingLogin._meta.db_table)} SET {column['answered_at']} = %s, "  # noqa: S608
        f"{column['data']} = %s, {column['finish_token_hash']} = %s "
        f"WHERE {column['id']} = %s AND {column['answered_at']} IS NULL AND {column['expires_at']} > %s"
    )
    return sql, fields


def _with_identity(data: dict[str, Any], identity: AssertedIdentity) -> dict[str, Any]:
    return {**data, "identity": identity.to_dict()}


def _finish_url(pending: SSOPendingLogin, token: str) -> str:
    slug = pending.connection.organization.slug
    return f"{reverse('sso_public:finish', args=[slug])}?{urlencode({'token': token})}"


def answer(pending: SSOPendingLogin, identity: AssertedIdentity) -> str:
    """Store the validated identity on a claimed pending login; return the URL that finishes the sign-in."""
    token = secrets.token_urlsafe(32)
    SSOPendingLogin.objects.filter(pk=pending.pk, finished_at=None).update(
        data=_with_identity(pending.data, identity), finish_token_hash=_sha256(token)
    )
    return _finish_url(pending, token)


def take_answered(request: HttpRequest, org_slug: str, token: str) -> tuple[SSOPendingLogin, AssertedIdentity]:
    """Return the answered pending login for a finish ``token`` and its identity, marking it finished.

    Raises SSOSignInRefused when the token is unknown, already used, too old, for another organization, or was
    started in another browser.
    """
    if not token or len(token) > 100:
        raise SSOSignInRefused("This sign-in link is not valid. Start the sign-in again.", code="bad_token", status=400)
    with transaction.atomic():
        pending = _answered_for_update(_sha256(token), org_slug)
        now = timezone.now()  # after the row lock: a finish that waited for it is judged by when it got it
        if pending is None or pending.finished_at is not None or "identity" not in pending.data:
            raise SSOSignInRefused(
                "This sign-in link is not valid or was already used. Start the sign-in again.",
                code="bad_token",
                status=400,
            )
        if pending.answered_at is None or pending.answered_at + FINISH_TTL <= now:
            raise SSOSignInRefused("This sign-in expired. Start the sign-in again.", code="expired", status=400)
        if not bound_to_browser(request, pending.browser_binding):
            raise SSOSignInRefused(
                "This sign-in was started in another browser. Start the sign-in again from this browser.",
                code="other_browser",
                status=400,
            )
        pending.finished_at = now
        _mark_finished(pending)
    return pending, AssertedIdentity.from_dict(pending.data["identity"])


def _answered_for_update(token_hash: str, org_slug: str) -> SSOPendingLogin | None:
    """The pending login with ``token_hash`` at a connection of the organization ``org_slug``, row-locked (FOR UPDATE
    on PostgreSQL; SQLite runs one writing transaction at a time) until the caller's transaction ends, with
    ``.connection`` and its ``.organization`` loaded; None when there is none. One query, written as SQL built from
    the models (``_finish_statements``) because every SSO sign-in runs it; ``test_run`` and ``user``, which only
    test, link and re-authentication round trips use, load when first read."""
    select, _, columns = _finish_statements()
    with db.cursor() as cursor:
        cursor.execute(select, [token_hash, org_slug])
        row = cursor.fetchone()
    if row is None:
        return None
    pending, connection, organization = columns.instances(row)
    connection.organization = organization
    pending.connection = connection
    return pending


def _mark_finished(pending: SSOPendingLogin) -> None:
    _, update, _ = _finish_statements()
    finished_at = SSOPendingLogin._meta.get_field("finished_at").get_db_prep_save(pending.finished_at, db)
    with db.cursor() as cursor:
        cursor.execute(update, [finished_at, pending.pk])


@cache
def _finish_statements() -> tuple[str, str, ModelColumns]:
    columns = ModelColumns((SSOPendingLogin, "p"), (SSOConnection, "c"), (Organization, "o"))
    pending, connection, organization = (table(model) for model in (SSOPendingLogin, SSOConnection, Organization))
    pk = column(SSOPendingLogin, "id")
    lock = " FOR UPDATE OF p" if db.features.has_select_for_update_of else ""
    select = (
        f"SELECT {columns.sql} FROM {pending} p "  # noqa: S608 (names from model metadata, values are parameters)
        f"JOIN {connection} c ON c.{column(SSOConnection, 'id')} = p.{column(SSOPendingLogin, 'connection')} "
        f"JOIN {organization} o ON o.{column(Organization, 'id')} = c.{column(SSOConnection, 'organization')} "
        f"WHERE p.{column(SSOPendingLogin, 'finish_token_hash')} = %s AND o.{column(Organization, 'slug')} = %s "
        f"ORDER BY p.{pk} LIMIT 1{lock}"
    )
    update = f"UPDATE {pending} SET {column(SSOPendingLogin, 'finished_at')} = %s WHERE {pk} = %s"  # noqa: S608
    return select, update, columns


def bound_to_browser(request: HttpRequest, browser_binding: str) -> bool:
    """Whether ``browser_binding`` (the hash ``begin`` stored) is this browser's: the session that started the
    round trip. Constant-time comparison."""
    binding = request.session.get(_BINDING_SESSION_KEY)
    return bool(binding) and secrets.compare_digest(_sha256(binding), browser_binding)


def purge_expired_pending_logins(now: datetime | None = None, *, limit: int | None = None) -> int:
    """Delete the pending logins that can no longer be used and return how many were deleted.

    A pending login is dead once its IdP answer can no longer be accepted (``expires_at``) nor finished (an answer
    stored at the latest at ``expires_at`` is finishable for ``FINISH_TTL`` more): rows with ``expires_at`` before
    ``now`` (default: the current time, UTC) minus ``FINISH_TTL`` go. ``limit`` deletes at most that many, oldest
    first (for a request that purges on the side); None deletes them all. Idempotent and safe to call from any
    number of processes at once (the ``purge_pending_logins`` command, the worker's ``sso.purge_expired`` job).
    """
    cutoff = (now or timezone.now()) - FINISH_TTL
    dead = SSOPendingLogin.objects.filter(expires_at__lt=cutoff)
    if limit is not None:
        dead = SSOPendingLogin.objects.filter(
            pk__in=list(dead.order_by("expires_at").values_list("pk", flat=True)[:limit])
        )
    deleted, _ = dead.delete()
    return deleted


def public_url(path: str) -> str:
    """An absolute URL on this service, built from PUBLIC_BASE_URL (never from the request's Host header)."""
    return f"{settings.PUBLIC_BASE_URL}{path}"
