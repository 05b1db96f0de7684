"""Resuming a form that re-authentication interrupted, only after the person confirms it.

When a POST needs re-authentication, its form data is stashed server-side (``SuspendedRequest``: encrypted
at rest, bound to the tracked session and so to one person, single use, expiring after
``SUSPENDED_REQUEST_TTL``) and the person re-authenticates. Then a confirmation page shows what the form was
about to do; its "Continue" button posts only a resume token (with a fresh CSRF token) to the original URL,
where ``require_recent_auth`` swaps in the stashed data and runs the view, after the whole enforcement
pipeline has run again. Nothing is ever replayed without that click, for another session, or after expiry.

The idea (suspend the POST, resume it after re-authentication) is django-allauth's reauthentication flow;
allauth replays at once, we ask first.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.urls import reverse

from audit.recorder import redact
from orgsecurity.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret
from sessions_policy import clock
from sessions_policy.enforcement import form_page
from sessions_policy.models import SuspendedRequest, UserSession

RESUME_FIELD = "_resume"
SUSPENDED_REQUEST_TTL = timedelta(minutes=10)
# Larger forms (and any with files) are not stashed: the person fills them in again after re-authenticating.
MAX_STASHED_BYTES = 64 * 1024
MAX_PATH_LENGTH = 2048  # SuspendedRequest.path and form_page
_NOT_STASHED = {"csrfmiddlewaretoken", RESUME_FIELD}


@dataclass(frozen=True)
class Suspended:
    """A stashed POST found for this session: where it goes, the form page it came from, and its fields."""

    token: str
    path: str
    form_page: str
    fields: dict[str, list[str]]

    def shown_fields(self) -> list[tuple[str, str]]:
        """(name, value) pairs to show on the confirmation page; secret-named fields are shown as [redacted]."""
        safe = redact(self.fields)
        return [(name, ", ".join(values) if isinstance(values, list) else str(values)) for name, values in safe.items()]

    def as_query_dict(self) -> QueryDict:
        data = QueryDict(mutable=True)
        for name, values in self.fields.items():
            data.setlist(name, values)
        data._mutable = False
        return data


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _current_session(request: HttpRequest) -> UserSession | None:
    key = request.session.session_key
    if not key or not request.user.is_authenticated:
        return None
    return UserSession.objects.filter(session_key=key, user_id=request.user.pk, revoked_at=None).first()


def suspend_post(request: HttpRequest) -> str | None:
    """Stash this POST for the current tracked session; returns the confirmation page URL to resume it, or
    None when it cannot be stashed (files, too large, untracked session)."""
    target = request.get_full_path()
    if request.method != "POST" or request.FILES or len(target) > MAX_PATH_LENGTH:
        return None
    session = _current_session(request)
    if session is None:
        return None
    fields = {name: request.POST.getlist(name) for name in request.POST if name not in _NOT_STASHED}
    payload = json.dumps(fields, separators=(",", ":"))
    if len(payload.encode()) > MAX_STASHED_BYTES:
        return None
    token = secrets.token_urlsafe(32)
    now = clock.now()
    with transaction.atomic():
        SuspendedRequest.objects.filter(user_session__user_id=request.user.pk, expires_at__lte=now).delete()
        SuspendedRequest.objects.create(
            token_hash=_hash(token),
            user_session=session,
            path=target,
            form_page=form_page(request)[:MAX_PATH_LENGTH],
            encrypted_post=encrypt_secret(payload),
            created_at=now,
            expires_at=now + SUSPENDED_REQUEST_TTL,
        )
    return reverse("reauth_resume", args=[token])


def _query(request: HttpRequest, token: str):
    session = _current_session(request)
    if session is None or not token or len(token) > 100:
        return None
    return SuspendedRequest.objects.filter(token_hash=_hash(token), user_session=session, expires_at__gt=clock.now())


def _load(row: SuspendedRequest, token: str) -> Suspended | None:
    try:
        fields = json.loads(decrypt_secret(row.encrypted_post))
    except (SecretDecryptionError, ValueError):
        return None
    return Suspended(token=token, path=row.path, form_page=row.form_page, fields=fields)


def find_suspended(request: HttpRequest, token: str) -> Suspended | None:
    """The stashed POST of ``token`` if it belongs to this very session and has not expired; else None."""
    rows = _query(request, token)
    row = rows.first() if rows is not None else None
    return _load(row, token) if row is not None else None


def take_suspended(request: HttpRequest, token: str) -> Suspended | None:
    """Like ``find_suspended`` for a POST to the stashed URL (path and query), and delete it: a stash is
    replayed once."""
    rows = _query(request, token)
    if rows is None:
        return None
    with transaction.atomic():
        row = rows.select_for_update().filter(path=request.get_full_path()).first()
        if row is None:
            return None
        suspended = _load(row, token)
        row.delete()
    return suspended


def discard_suspended(request: HttpRequest, token: str) -> Suspended | None:
    """Delete the stashed POST of ``token`` (the person cancelled); returns what it was, or None."""
    rows = _query(request, token)
    row = rows.first() if rows is not None else None
    if row is None:
        return None
    suspended = _load(row, token)
    row.delete()
    return suspended
