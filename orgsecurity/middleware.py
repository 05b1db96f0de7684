"""Request-wide middleware: request IDs and audit metadata, error formats per path prefix, and the organization
enforcement pipeline."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from audit.context import RequestMeta, request_meta
from orgsecurity.client_ip import client_ip
from orgsecurity.errors import TOO_LARGE, error_format_for, reformat, render_exception, render_refusal
from orgsecurity.pipeline import run_checks


class RequestContextMiddleware:
    """Gives each request an ID (``request.request_id``, echoed in ``X-Request-ID``) and makes its client
    IP, user agent and ID available to audit events recorded while it is served."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Always our own ID: a client-sent one would let anyone choose what lands in the audit log.
        request.request_id = uuid.uuid4().hex
        meta = RequestMeta(
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", "")[:512],
            request_id=request.request_id,
        )
        with request_meta(meta):
            response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class ErrorFormatMiddleware:
    """Under a prefix of ``settings.ERROR_FORMATS`` (e.g. /api/), every error answer is in that prefix's format
    (``orgsecurity.errors``): an error response of another media type (Django's HTML 405, a CSRF failure page,
    ``DEBUG``'s technical pages) is rewritten with its status and headers kept, and a too-large request body read
    in a view answers 413 instead of Django's 400. Sits just inside ``RequestContextMiddleware``, so rewritten
    answers still carry ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400:
            return response
        error_format = error_format_for(request)
        if error_format is None or error_format.has_written(response):
            return response
        return reformat(request, response, error_format)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Only what Django would answer with the wrong status; every other exception goes on to Django, which
        # logs it (and signals got_request_exception) before the URLconf's handlers write the answer.
        if isinstance(exception, TOO_LARGE):
            return render_exception(request, exception)
        return None


class OrgPolicyMiddleware:
    """Runs the enforcement pipeline (``orgsecurity.pipeline``) before every view under /orgs/<slug>/."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple,
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        org_slug = view_kwargs.get("org_slug")
        # path_info is what URL resolution matched; path also holds SCRIPT_NAME, which a request can set behind
        # some servers (gunicorn takes it from a header of a trusted forwarder), and would skip every check.
        if org_slug is None or not request.path_info.startswith("/orgs/"):
            return None
        refusal = run_checks(request, org_slug)
        return render_refusal(request, refusal) if refusal else None
