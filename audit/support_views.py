"""The platform support console: staff find an organization and read its audit log, read-only."""

from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orgsecurity.models import Organization

staff_required = user_passes_test(lambda user: user.is_authenticated and user.is_staff)


@require_GET
@staff_required
def index(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    organizations = Organization.objects.order_by("slug")
    if query:
        organizations = organizations.filter(slug__icontains=query) | organizations.filter(name__icontains=query)
    return render(request, "audit/support_index.html", {"organizations": organizations[:50], "query": query})
