"""Every answer under /api/ is a JSON error {"error": {"code", "message"}}, also when Django itself writes it (404,
405, 413 for a body over the limit, 500); a prefix can have a format of its own (as /scim/ will); elsewhere the
HTML pages stay."""

from __future__ import annotations

import json

import pytest
from django.http import JsonResponse
from django.test import Client

from orgsecurity.errors import ErrorFormat
from orgsecurity.models import Project, Team
from tests.helpers.keys import issue

pytestmark = pytest.mark.urls("tests.core.error_urls")


def json_error_of(response) -> tuple[int, str, str]:
    """(status, code, message) of a JSON error answer, asserting its shape and media type."""
    assert response["Content-Type"] == "application/json", (response["Content-Type"], response.content[:300])
    body = json.loads(response.content)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"], body["error"]["message"]


@pytest.fixture
def api() -> Client:
    """A client that, like a real API client, receives the 500 answer instead of the view's exception."""
    return Client(raise_request_exception=False)


# --- /api/: JSON whatever produced the error ---------------------------------------------------------------


def test_a_bug_in_an_api_endpoint_answers_a_json_500(api, org, owner, monkeypatch):
    _, token = issue(org, owner)

    def broken(key):
        raise RuntimeError("a bug")

    monkeypatch.setattr("keys.api_views.whoami_payload", broken)
    response = api.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {token}")
    status, code, message = json_error_of(response)
    assert (status, code) == (500, "server_error")
    request_id = response["X-Request-ID"]
    assert f"request ID {request_id}" in message  # what to quote to support
    assert "a bug" not in message and "Traceback" not in message


def test_an_unhandled_exception_under_api_is_a_json_500(api):
    assert json_error_of(api.get("/api/test/boom/"))[:2] == (500, "server_error")


@pytest.mark.parametrize("path", ["/api/", "/api", "/api/v1", "/api/v2/whoami", "/api/v1x/whoami"])
def test_paths_nothing_routes_under_api_are_json_404(api, db, path):
    response = api.get(path)
    status, code, message = json_error_of(response)
    assert (status, code) == (404, "not_found") and not response.has_header("Location")
    assert message


def test_djangos_own_405_is_json_and_keeps_its_allow_header(api, db):
    response = api.get("/api/test/post-only/")
    assert json_error_of(response) == (405, "method_not_allowed", "GET is not allowed here; use POST.")
    assert response["Allow"] == "POST"


def test_a_body_over_the_upload_limit_is_a_json_413_not_djangos_400(api, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/api/test/form/", "x=" + "a" * 2000, content_type="application/x-www-form-urlencoded")
    assert json_error_of(response) == (
        413,
        "too_large",
        "The request body is larger than the 1000 bytes this server accepts.",
    )
    assert api.post("/api/test/form/", {"x": "a" * 100}).json() == {"fields": 1}  # under the limit: read as usual


def test_too_many_fields_is_a_json_413(api, db, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    response = api.post("/api/test/form/", {f"f{n}": "v" for n in range(20)})
    assert json_error_of(response)[:2] == (413, "too_large")


def test_an_oversized_patch_to_a_real_endpoint_is_a_json_413(api, org, owner, settings):
    team = Team.objects.create(organization=org, slug="platform", name="Platform")
    project = Project.objects.create(organization=org, team=team, slug="web", name="Web app")
    _, token = issue(org, owner, permission="read_write")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "x" * 2000})
    response = api.patch(
        f"/api/v1/projects/{project.pk}/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert json_error_of(response)[:2] == (413, "too_large")
    project.refresh_from_db()
    assert project.name == "Web app"


def test_a_disallowed_host_is_a_json_400(api, db):
    response = api.get("/api/v1/whoami", HTTP_HOST="attacker.example")
    assert json_error_of(response)[:2] == (400, "bad_request")


def test_permission_denied_is_a_json_403(api, db):
    assert json_error_of(api.get("/api/test/forbidden/"))[:2] == (403, "forbidden")


def test_with_debug_on_the_answers_are_still_json(api, db, settings):
    # DEBUG makes Django answer with its technical pages and skip the URLconf's handlers.
    settings.DEBUG = True
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert json_error_of(api.get("/api/test/boom/"))[:2] == (500, "server_error")
    assert json_error_of(api.get("/api/v2/"))[:2] == (404, "not_found")
    big = api.post("/api/test/form/", "x=" + "a" * 2000, content_type="application/x-www-form-urlencoded")
    assert json_error_of(big)[:2] == (413, "too_large")


def test_json_errors_written_by_the_api_itself_are_kept(api, db):
    response = api.get("/api/v1/whoami")
    assert json_error_of(response)[:2] == (401, "missing_key")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


# --- another prefix, another format (as /scim/ will register the SCIM Error schema) ----------------------------

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def render_scim_like(request, status, code, message):
    response = JsonResponse({"schemas": [SCIM_ERROR], "status": str(status), "detail": message})
    response["Content-Type"] = "application/scim+json"
    response.status_code = status
    return response


SCIM_LIKE_ERRORS = ErrorFormat("application/scim+json", render_scim_like)


def test_each_prefix_answers_in_its_own_format(api, db, settings):
    settings.ERROR_FORMATS = {**settings.ERROR_FORMATS, "/scim/": "tests.core.test_error_formats.SCIM_LIKE_ERRORS"}
    for path, method, status in [
        ("/scim/v2/test/boom/", "get", 500),
        ("/scim/v2/Users/unknown", "get", 404),
        ("/scim/v2/test/post-only/", "get", 405),
    ]:
        response = getattr(api, method)(path)
        assert response.status_code == status
        assert response["Content-Type"] == "application/scim+json"
        assert json.loads(response.content)["schemas"] == [SCIM_ERROR]
    assert json_error_of(api.get("/api/test/boom/"))[0] == 500  # /api/ keeps its own


# --- elsewhere: the HTML pages stay ------------------------------------------------------------------------


def test_pages_outside_the_prefixes_keep_their_html_error_pages(api, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    for path, status, text in [
        ("/test/boom/", 500, b"Something went wrong"),
        ("/no-such-page/", 404, b"Page not found"),
        ("/apix/", 404, b"Page not found"),
    ]:
        response = api.get(path)
        assert (response.status_code, response["Content-Type"]) == (status, "text/html; charset=utf-8"), path
        assert text in response.content
    big = api.post("/test/form/", "x=" + "a" * 2000, content_type="application/x-www-form-urlencoded")
    assert big.status_code == 400 and big["Content-Type"].startswith("text/html")
