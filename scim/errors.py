"""SCIM error answers (RFC 7644 §3.12): ``{"schemas": [Error URN], "status": "409", "scimType": "uniqueness",
"detail": "..."}`` as ``application/scim+json``, for every error under /scim/.

``SCIM_ERRORS`` is the ``orgsecurity.errors.ErrorFormat`` registered for the ``/scim/`` prefix in
``settings.ERROR_FORMATS``, so Django's own errors there (404 for an unknown path, 405, 413 for a body over the
limit, 500) are SCIM errors too. Views raise ``ScimError``.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from scim2_models import Error

from orgsecurity.errors import ErrorFormat

MEDIA_TYPE = "application/scim+json"
CONTENT_TYPE = f"{MEDIA_TYPE}; charset=utf-8"

# The scimType values of RFC 7644 §3.12 Table 9 (only with status 400, except uniqueness 409 and tooMany).
SCIM_TYPES = frozenset(
    {
        "invalidFilter",
        "tooMany",
        "uniqueness",
        "mutability",
        "invalidSyntax",
        "invalidPath",
        "noTarget",
        "invalidValue",
        "invalidVers",
        "sensitive",
    }
)


class ScimError(Exception):
    """A SCIM error answer: HTTP ``status``, a ``detail`` sentence for the person, and ``scim_type`` (one of
    ``SCIM_TYPES``) where RFC 7644 §3.12 defines one for the case."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type if scim_type in SCIM_TYPES else None


def scim_json(payload: dict, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    """``payload`` as an ``application/scim+json`` answer with ``status`` and extra ``headers``."""
    response = HttpResponse(json.dumps(payload, ensure_ascii=False), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    """The SCIM Error resource for ``status`` (RFC 7644 §3.12)."""
    error = Error(status=status, detail=detail, scim_type=scim_type if scim_type in SCIM_TYPES else None)
    return scim_json(error.model_dump(), status=status)


def _render(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    # Codes of the product (e.g. "too_large", "not_found") are not scimTypes; only SCIM's own names pass through.
    return error_response(status, message, code if code in SCIM_TYPES else None)


SCIM_ERRORS = ErrorFormat(MEDIA_TYPE, _render)
"""The error format of every path under /scim/ (``settings.ERROR_FORMATS``)."""
