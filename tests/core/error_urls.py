"""Test-only URLconf: the product's URLs plus views that fail the ways Django turns into error answers, under
/api/ (JSON errors), /scim/ (a format of its own in the tests) and elsewhere (HTML pages)."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orgsecurity import urls


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


@csrf_exempt
def read_form(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"fields": len(request.POST)})


@csrf_exempt
@require_POST
def post_only(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def failing_views(prefix: str) -> list:
    return [
        path(f"{prefix}boom/", boom),
        path(f"{prefix}form/", read_form),
        path(f"{prefix}post-only/", post_only),
        path(f"{prefix}forbidden/", forbidden),
    ]


urlpatterns = [
    *failing_views("api/test/"),
    *failing_views("scim/v2/test/"),
    *failing_views("test/"),
    *urls.urlpatterns,
]

handler400 = urls.handler400
handler403 = urls.handler403
handler404 = urls.handler404
handler500 = urls.handler500
