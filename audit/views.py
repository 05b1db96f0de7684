"""The organization audit log viewer."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.models import AuditEvent
from orgsecurity.accessors import org_for_member
from orgsecurity.roles import Capability

PAGE_SIZE = 50


@require_GET
def log(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.VIEW_AUDIT)
    events = AuditEvent.objects.filter(organization=org.organization).order_by("-seq")[:PAGE_SIZE]
    return render(request, "audit/log.html", {"org": org, "events": events})
