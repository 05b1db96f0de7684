"""Error answers per URL prefix: everything under /api/ answers JSON errors, whatever produced the error.

``settings.ERROR_FORMATS`` maps a path prefix to the dotted path of an ``ErrorFormat`` (the media type of its
error answers and the function that writes one): ``{"/api/": "orgsecurity.errors.JSON_ERRORS"}``; a SCIM
endpoint registers ``"/scim/"`` with its own format (RFC 7644 §3.12 Error schema). The longest matching prefix of
``request.path_info`` wins; paths under no prefix keep Django's HTML error pages.

Three places apply the format, so no error under a prefix escapes it:

- the URLconf's error handlers (``handler400/403/404/500`` in ``orgsecurity.urls``) for exceptions, including
  those raised by middleware and by URL resolution: 404 for an unknown path, 500 for an unhandled exception, 400
  for a ``SuspiciousOperation`` such as a disallowed Host header;
- ``ErrorFormatMiddleware.process_exception`` for a too-large request body raised in a view, which Django answers
  with 400 but is 413 Content Too Large (RFC 9110 §15.5.14) — also under ``DEBUG``, where Django bypasses the
  handlers;
- ``ErrorFormatMiddleware`` for error responses that views or middleware return as they are: Django's 405 from
  ``require_http_methods`` (its ``Allow`` header kept), a CSRF failure page, ``DEBUG``'s technical pages.

``render_refusal`` answers a ``orgsecurity.refusals.Refusal`` (any specialisation) through the same formats,
as JSON for programs elsewhere (``wants_json``), and otherwise with a redirect or the refusal page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.module_loading import import_string
from django.views import defaults

from orgsecurity.refusals import Refusal

ErrorRenderer = Callable[[HttpRequest, int, str, str], HttpResponse]

# Request bodies Django refuses to read (DATA_UPLOAD_MAX_MEMORY_SIZE, _MAX_NUMBER_FIELDS, _MAX_NUMBER_FILES).
TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


@dataclass(frozen=True)
class ErrorFormat:
    """How error answers are written under one path prefix: ``media_type`` is the Content-Type every error
    answer there has (an error response of another type is rewritten), and ``render(request, status, code,
    message)`` writes one, ``code`` a stable snake_case word and ``message`` a sentence for the person."""

    media_type: str
    render: ErrorRenderer

    def has_written(self, response: HttpResponse) -> bool:
        """True when ``response`` already is an error answer in this format (judged by its media type)."""
        return response.get("Content-Type", "").partition(";")[0].strip().lower() == self.media_type


def json_error(code: str, message: str, status: int) -> JsonResponse:
    """The product's JSON error shape: ``{"error": {"code": ..., "message": ...}}`` with HTTP ``status``."""
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _render_json(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    return json_error(code, message, status)


JSON_ERRORS = ErrorFormat("application/json", _render_json)
"""The product's JSON error shape ``{"error": {"code": ..., "message": ...}}`` (``json_error``)."""


@lru_cache(maxsize=8)
def _load_formats(configured: tuple[tuple[str, str], ...]) -> tuple[tuple[str, ErrorFormat], ...]:
    # Longest prefix first, so "/api/v2/" may have a format of its own inside "/api/".
    pairs = ((prefix, import_string(path)) for prefix, path in configured)
    return tuple(sorted(pairs, key=lambda pair: len(pair[0]), reverse=True))


def error_format_for(request: HttpRequest) -> ErrorFormat | None:
    """The ``ErrorFormat`` of the longest ``settings.ERROR_FORMATS`` prefix that ``request.path_info`` is under
    (the prefix itself without its trailing slash counts too), or None for Django's HTML pages."""
    path = request.path_info
    for prefix, error_format in _load_formats(tuple(sorted(settings.ERROR_FORMATS.items()))):
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return error_format
    return None


def wants_json(request: HttpRequest) -> bool:
    """True for API and XHR/fetch clients, which get JSON errors instead of HTML pages or redirects."""
    if request.path_info.startswith("/api/") or request.headers.get("x-requested-with") == "XMLHttpRequest":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def render_refusal(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    """The one answer to a ``Refusal`` (or any specialisation): in the error format of the request's path prefix
    (``settings.ERROR_FORMATS``), else JSON for programs (``wants_json``), else for browsers a redirect to
    ``refusal.redirect_to`` (GET and HEAD) or the refusal's page with its status (a POST that may not go on is not
    processed: the page offers ``redirect_to`` as the way back)."""
    error_format = error_format_for(request)
    if error_format is not None:
        return error_format.render(request, refusal.status, refusal.code, refusal.message)
    if wants_json(request):
        return json_error(refusal.code, refusal.message, refusal.status)
    if refusal.redirect_to and request.method in {"GET", "HEAD"}:
        response = HttpResponse(status=302)
        response["Location"] = refusal.redirect_to
        return response
    context = {"refusal": refusal, **refusal.context}
    if refusal.redirect_to:
        context = {"refusal": refusal, "continue_url": refusal.redirect_to, **refusal.context}
    return render(request, refusal.template, context, status=refusal.status)


def _status_words(status: int) -> tuple[str, str]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return phrase.lower().replace(" ", "_").replace("-", "_"), f"{phrase}."


def describe_status(request: HttpRequest, status: int, allow: str = "") -> tuple[str, str]:
    """The ``(code, message)`` of an error answer with HTTP ``status`` that carries no more specific reason;
    ``allow`` is the ``Allow`` header of a 405 (RFC 9110 §15.5.6)."""
    if status == 400:
        return "bad_request", "This request is malformed and was not processed."
    if status == 403:
        return "forbidden", "This request is not allowed."
    if status == 404:
        return "not_found", "There is nothing at this address. Check the path."
    if status == 405:
        methods = allow or "another method"
        return "method_not_allowed", f"{request.method} is not allowed here; use {methods}."
    if status == 413:
        return describe_exception(request, RequestDataTooBig())[1:]
    if status >= 500:
        request_id = getattr(request, "request_id", "")
        reference = f" (request ID {request_id})" if request_id else ""
        return (
            "server_error",
            f"Something went wrong on our side{reference}. Try again; if it keeps happening, tell us.",
        )
    return _status_words(status)


def describe_exception(request: HttpRequest, exception: BaseException | None) -> tuple[int, str, str]:
    """``(status, code, message)`` for an exception Django turns into an error page: 413 for a body over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (or too many fields or files), 400 for any other ``SuspiciousOperation``,
    403 for ``PermissionDenied``, 404 for ``Http404``, 500 for anything else."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return 413, "too_large", f"The request body is larger than the {limit} bytes this server accepts."
    if isinstance(exception, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 413, "too_large", f"The request has more than the {limit} fields this server accepts."
    if isinstance(exception, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return 413, "too_large", f"The request has more than the {limit} files this server accepts."
    for kind, status in ((SuspiciousOperation, 400), (PermissionDenied, 403), (Http404, 404)):
        if isinstance(exception, kind):
            return status, *describe_status(request, status)
    return 500, *describe_status(request, 500)


def render_exception(request: HttpRequest, exception: BaseException | None) -> HttpResponse | None:
    """The error answer for ``exception`` in the request's error format, or None when its path has none."""
    error_format = error_format_for(request)
    if error_format is None:
        return None
    return error_format.render(request, *describe_exception(request, exception))


def reformat(request: HttpRequest, response: HttpResponse, error_format: ErrorFormat) -> HttpResponse:
    """``response`` (an error in another media type, e.g. Django's HTML 405) rewritten in ``error_format``, with
    the same status and every header and cookie except its content's type and length."""
    code, message = describe_status(request, response.status_code, response.get("Allow", ""))
    rewritten = error_format.render(request, response.status_code, code, message)
    for header, value in response.items():
        if header.lower() not in {"content-type", "content-length"}:
            rewritten[header] = value
    rewritten.cookies = response.cookies
    return rewritten


# --- the URLconf's error handlers (orgsecurity.urls: handler400, handler403, handler404, handler500) ----------


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 (413 for a too-large body) in the path's error format, else Django's page."""
    return render_exception(request, exception) or defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403 in the path's error format, else Django's page."""
    return render_exception(request, exception) or defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 in the path's error format, else Django's page (templates/404.html)."""
    return render_exception(request, exception) or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 in the path's error format, else Django's page (templates/500.html)."""
    return render_exception(request, None) or defaults.server_error(request)
