"""The project's URLs plus a sensitive test view and a test IdP, for the re-authentication tests."""

from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme

from orgsecurity.urls import urlpatterns as project_urlpatterns
from sessions_policy.decorators import require_recent_auth
from sessions_policy.reauth import mark_reauthenticated


@require_recent_auth
def sensitive(request, org_slug):
    return HttpResponse(f"done {request.method} {dict(request.POST.lists())}")


def idp_start(request, next_url):
    """What an SSO app registers with register_provider: send the person to the IdP with a forced login."""
    return redirect(f"/test-idp/login/?{urlencode({'force_authn': 'true', 'relay_state': next_url})}")


def idp_answer(request):
    """Stands in for the verified IdP answer (ACS / callback): mark re-authenticated and continue."""
    relay_state = request.GET.get("relay_state", "/")
    mark_reauthenticated(request)
    return redirect(relay_state if url_has_allowed_host_and_scheme(relay_state, allowed_hosts=set()) else "/")


urlpatterns = [
    path("orgs/<slug:org_slug>/sensitive/", sensitive),
    path("test-idp/answer/", idp_answer),
    *project_urlpatterns,
]
