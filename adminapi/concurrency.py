"""Safe concurrent edits over the admin API: strong ETags (RFC 9110 §8.8.3) from ``orgsecurity.versions`` so a
dashboard form and a script see the same version, ``If-Match`` required on PUT, PATCH and DELETE (RFC 9110 §13.1.1:
428 when absent (RFC 6585 §3), 412 when it names another version), and ``Idempotency-Key`` on POST so a retried
create does not create twice.

Idempotency: the first answer (2xx) to a POST with a given ``Idempotency-Key`` is kept for ``IDEMPOTENCY_TTL``
seconds in the cache, per key (the API key's id) and path; a retry with the same body gets that answer again with
``Idempotent-Replayed: true``; the same header with another body is refused (422 ``idempotency_key_reused``), and
a retry while the first is still running gets 409 ``idempotency_in_progress``. A one-time secret is never kept:
the fields a caller names in ``secret_fields`` are stored (and replayed) as null; and such an operation is refused
to a key's old secret during a rotation's overlap (403 ``previous_secret``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse

from adminapi.errors import refused
from orgsecurity.versions import version_of

IDEMPOTENCY_TTL = 24 * 3600  # seconds
MAX_IDEMPOTENCY_KEY = 255
_PENDING = "pending"


def etag_of(values: Mapping[str, Any]) -> str:
    """The strong ETag of a resource with saved ``values``: ``"<orgsecurity.versions.version_of(values)>"``."""
    return f'"{version_of(values)}"'


def require_if_match(request: HttpRequest, current: Mapping[str, Any]) -> None:
    """Raise 428 ``precondition_required`` without ``If-Match``, 412 ``precondition_failed`` when none of its
    ETags is the current one (``*`` matches any existing resource). Comparison is strong (RFC 9110 §13.1.1): a
    weak tag (``W/"…"``) never matches, even with the current value, since it does not promise the same bytes."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise refused(
            "precondition_required",
            "Send the ETag you last read in an If-Match header, so a change made meanwhile is not overwritten.",
            428,
        )
    offered = {tag.strip() for tag in header.split(",")}  # a weak W/"…" stays as sent, so never equals ours
    if "*" in offered or etag_of(current) in offered:
        return
    raise refused(
        "precondition_failed",
        "This resource changed since you read it (its ETag is different), so nothing was changed. Read it again "
        "and retry.",
        412,
    )


def with_etag(response: HttpResponse, values: Mapping[str, Any]) -> HttpResponse:
    """``response`` with the ETag of ``values``."""
    response["ETag"] = etag_of(values)
    return response


def idempotent(
    request: HttpRequest, key_pk: int, run: Callable[[], HttpResponse], *, secret_fields: tuple[str, ...] = ()
) -> HttpResponse:
    """Answer a POST once per ``Idempotency-Key`` (see the module); without the header, just ``run()``.
    ``secret_fields``: top-level fields of the answer holding a one-time secret; they are kept as null, so a replay
    shows the resource but never the secret again. An operation that answers a one-time secret refuses a key
    authenticated with the old secret of a rotation, still in its overlap (403 ``previous_secret``): a secret
    being retired (perhaps because it leaked) must not mint a new one, e.g. rotate the key again and take it over."""
    if secret_fields and getattr(getattr(request, "auth", None), "via_previous_secret", False):
        raise refused(
            "previous_secret",
            "This request used the API key's old secret, which works only until its rotation's overlap ends; it "
            "cannot obtain a new secret. Use the key's current secret.",
        )
    idempotency_key = request.headers.get("Idempotency-Key", "")
    if not idempotency_key:
        return run()
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY or not idempotency_key.isprintable():
        raise refused("bad_idempotency_key", "An Idempotency-Key is 1 to 255 printable characters.", 400)
    digest = hashlib.sha256(f"{key_pk}\0{request.path}\0{idempotency_key}".encode()).hexdigest()
    slot = f"adminapi:idempotency:{digest}"
    fingerprint = hashlib.sha256(request.body).hexdigest()
    if not cache.add(slot, {"state": _PENDING, "fingerprint": fingerprint}, IDEMPOTENCY_TTL):
        stored = cache.get(slot) or {}
        if stored.get("fingerprint") != fingerprint:
            raise refused(
                "idempotency_key_reused",
                "This Idempotency-Key was used with another request body; use a new key for a new request.",
                422,
            )
        if stored.get("state") == _PENDING:
            raise refused(
                "idempotency_in_progress", "A request with this Idempotency-Key is still running; retry later.", 409
            )
        replay = JsonResponse(json.loads(stored["body"]), status=stored["status"])
        for header, value in stored.get("headers", {}).items():
            replay[header] = value
        replay["Idempotent-Replayed"] = "true"
        return replay
    try:
        response = run()
    except BaseException:
        cache.delete(slot)  # nothing was done: a retry may run it
        raise
    if 200 <= response.status_code < 300:
        kept = {name: response[name] for name in ("ETag", "Location") if name in response}
        body = json.loads(response.content)
        for name in secret_fields:
            if name in body:
                body[name] = None
        cache.set(
            slot,
            {
                "state": "done",
                "fingerprint": fingerprint,
                "status": response.status_code,
                "body": json.dumps(body),
                "headers": kept,
            },
            IDEMPOTENCY_TTL,
        )
    else:
        cache.delete(slot)
    return response
