"""One-time secrets shown once after a redirect (post/redirect/get for API keys, recovery codes, SCIM tokens...).

The view that makes a secret calls ``stash(request, kind, value, **details)`` and redirects to a page carrying the
returned *ticket* (a random handle, never the secret) in its URL. That page calls ``take(request, kind, ticket)``:
the first read returns the secret and removes it, so reloading, going back or sharing the URL shows nothing; the
page then says the secret was shown once. Entries live in the person's session (encrypted with
``orgsecurity.crypto``, so the session store never holds the plaintext) for ``TTL_SECONDS`` at most.

``details`` are small JSON values the page needs besides the secret (the key's id, "created" or "rotated"); the
page compares them with its URL so a ticket made for one object never shows on another's page.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from orgsecurity.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret

STASH_SESSION_KEY = "orgsecurity.one_time_secrets"
TTL_SECONDS = 10 * 60
MAX_ENTRIES = 20


@dataclass(frozen=True)
class StashedSecret:
    """A secret taken from the stash: ``value`` (plaintext) and the ``details`` given to ``stash``."""

    kind: str
    value: str
    details: dict[str, Any]


def _live_entries(request: HttpRequest, now: float) -> dict[str, dict[str, Any]]:
    entries = request.session.get(STASH_SESSION_KEY) or {}
    return {ticket: entry for ticket, entry in entries.items() if now - entry.get("at", 0) < TTL_SECONDS}


def stash(request: HttpRequest, kind: str, value: str, **details: Any) -> str:
    """Keep ``value`` (a secret, text) for one read by ``take`` in this session within ``TTL_SECONDS``.

    ``kind`` names what it is (``"api_key"``, ``"recovery_codes"``...); ``details`` must be JSON-serialisable.
    Returns the ticket (URL-safe text, 22 characters) to put in the redirect URL. Expired entries are dropped, and
    the oldest when more than ``MAX_ENTRIES`` are waiting.
    """
    now = time.time()
    entries = _live_entries(request, now)
    ticket = secrets.token_urlsafe(16)
    entries[ticket] = {"kind": kind, "value": encrypt_secret(value), "details": details, "at": now}
    if len(entries) > MAX_ENTRIES:
        entries = dict(sorted(entries.items(), key=lambda item: item[1]["at"])[-MAX_ENTRIES:])
    request.session[STASH_SESSION_KEY] = entries
    return ticket


def take(request: HttpRequest, kind: str, ticket: str) -> StashedSecret | None:
    """Remove and return the secret stashed under ``ticket`` if it is of ``kind`` and younger than
    ``TTL_SECONDS``; ``None`` when it was already shown, expired, belongs to another session or kind, or cannot be
    decrypted (the encryption keys changed meanwhile)."""
    now = time.time()
    entries = _live_entries(request, now)
    entry = entries.get(ticket)
    if entry is None or entry.get("kind") != kind:
        if entries != request.session.get(STASH_SESSION_KEY, {}):
            request.session[STASH_SESSION_KEY] = entries
        return None
    del entries[ticket]
    request.session[STASH_SESSION_KEY] = entries
    try:
        value = decrypt_secret(entry["value"])
    except SecretDecryptionError:
        return None
    return StashedSecret(kind=kind, value=value, details=dict(entry.get("details") or {}))
