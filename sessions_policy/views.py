"""Views of the sessions_policy app."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orgsecurity.accessors import org_for_member
from orgsecurity.roles import Capability


@require_GET
def index(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    return render(request, "orgsecurity/not_configured.html", {"org": org, "title": "Session management"})
