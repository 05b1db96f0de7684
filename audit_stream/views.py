"""The audit streaming page of an organization (owners)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def streaming(request: HttpRequest, org_slug: str) -> HttpResponse:
    raise NotImplementedError
