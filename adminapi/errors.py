"""The admin API's error answers: always the product's JSON shape ``{"error": {"code", "message"}}``
(``orgsecurity.errors.json_error``), with ``fields`` for validation errors, for every status including 500.

``APIRefusal`` carries a ``orgsecurity.refusals.Refusal`` out of the authentication and access checks; it is
answered (and audited, throttled) by ``keys.api_views.refuse`` exactly as the key API answers its refusals.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from allowlist.actions import InvalidEntries
from keys.api_views import refuse
from keys.models import APIKey
from orgsecurity.actions import ActionRefused
from orgsecurity.errors import describe_exception, json_error
from orgsecurity.refusals import Refusal

logger = logging.getLogger(__name__)

# Statuses of an action's refusal that are recorded in the audit log with the key: not allowed (403) and refused
# by a guardrail (409: last owner, self-lockout, owner protection, ...). Plain validation (400, 404) is not.
RECORDED_ACTION_REFUSALS = frozenset({403, 409})


class APIRefusal(Exception):
    """Stop the request with ``refusal`` (``key``: the authenticated key, when there is one, for the audit)."""

    def __init__(self, refusal: Refusal, key: APIKey | None = None) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.key = key


def refused(code: str, message: str, status: int = 403) -> APIRefusal:
    """An ``APIRefusal`` for a new ``Refusal(code, message, status)`` (raise it)."""
    return APIRefusal(Refusal(code, message, status=status))


def _field_name(location: Any) -> str:
    # ninja's locations look like ("body", "payload", "cidr") or ("query", "limit"): keep the field's own path.
    parts = [str(part) for part in location if part not in {"body", "query", "path", "header", "payload"}]
    return ".".join(parts) or "body"


def validation_fields(errors: list[dict[str, Any]]) -> dict[str, str]:
    """``{"field.path": "message"}`` for ninja's (pydantic's) validation ``errors``, the first message per field."""
    fields: dict[str, str] = {}
    for error in errors:
        fields.setdefault(_field_name(error.get("loc", ())), str(error.get("msg", "Invalid value.")))
    return fields


def install_handlers(api: NinjaAPI) -> None:
    """Make every error ``api`` answers the product's JSON shape: refusals with their codes, validation errors as
    400 with ``fields``, refused actions with their status (409 for a refused transition; a 403 or 409 one is
    audited as ``key.use_denied`` with the key, as the access checks' refusals are), anything else through
    ``orgsecurity.errors.describe_exception`` (413 for a too-large body, a JSON 500 otherwise, logged)."""

    @api.exception_handler(APIRefusal)
    def _refusal(request: HttpRequest, exc: APIRefusal) -> HttpResponse:
        key = exc.key or getattr(request, "auth", None) or getattr(request, "api_key", None)
        response = refuse(request, exc.refusal, key if isinstance(key, APIKey) else None)
        retry_after = exc.refusal.context.get("retry_after")
        if retry_after:
            response["Retry-After"] = str(retry_after)
        return response

    @api.exception_handler(InvalidEntries)
    def _invalid_entries(request: HttpRequest, exc: InvalidEntries) -> HttpResponse:
        lines = [{"line": error.line, "text": error.text, "message": error.message} for error in exc.errors]
        fields = {f"entries.{error.line}": error.message for error in exc.errors}
        body = {"error": {"code": exc.code, "message": exc.message, "fields": fields, "lines": lines}}
        return JsonResponse(body, status=exc.status)

    @api.exception_handler(ActionRefused)
    def _action_refused(request: HttpRequest, exc: ActionRefused) -> HttpResponse:
        key = getattr(request, "auth", None)
        if exc.status in RECORDED_ACTION_REFUSALS and isinstance(key, APIKey):
            # A guardrail refused the key (an owner-only change, a lockout): recorded as the access checks' refusals
            # are (``key.use_denied``, throttled), so probing for what a key may do leaves a trace.
            return refuse(request, Refusal(exc.code, exc.message, status=exc.status), key)
        return json_error(exc.code, exc.message, exc.status)

    @api.exception_handler(ValidationError)
    def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        fields = validation_fields(list(exc.errors))
        listed = "; ".join(f"{name}: {message}" for name, message in fields.items())
        body = {"error": {"code": "invalid_request", "message": f"Check the request: {listed}.", "fields": fields}}
        return JsonResponse(body, status=400)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return json_error(
            "missing_key", "Send your API key in the Authorization header: 'Authorization: Bearer osk_…'.", 401
        )

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = "bad_request" if exc.status_code == 400 else "error"
        return json_error(code, str(exc) if str(exc).endswith(".") else f"{exc}.", exc.status_code)

    @api.exception_handler(Exception)
    def _anything(request: HttpRequest, exc: Exception) -> HttpResponse:
        status, code, message = describe_exception(request, exc)
        if status >= 500:
            logger.exception("Admin API request failed: %s %s", request.method, request.path)
        return json_error(code, message, status)
