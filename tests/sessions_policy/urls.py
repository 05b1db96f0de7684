"""The project's URLs plus one sensitive test view, for the re-authentication tests."""

from django.http import HttpResponse
from django.urls import path

from orgsecurity.urls import urlpatterns as project_urlpatterns
from sessions_policy.decorators import require_recent_auth


@require_recent_auth
def sensitive(request, org_slug):
    return HttpResponse(f"done {request.method}")


urlpatterns = [path("orgs/<slug:org_slug>/sensitive/", sensitive), *project_urlpatterns]
