"""The enforcement pipeline: ordered checks, 401/redirect for anonymous, 404 for outsiders, JSON for programs."""

from __future__ import annotations

from django.test import override_settings

from orgsecurity.refusals import Refusal


def refuse_everything(request, org_slug):
    return Refusal("maintenance", "The organization is in maintenance.", status=503)


def test_anonymous_visitors_are_sent_to_sign_in_with_next(client_for, org):
    response = client_for(None).get("/orgs/acme/members/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Forgs%2Facme%2Fmembers%2F"


def test_unknown_and_foreign_orgs_look_the_same(client_for, owner, outsider):
    for client in (client_for(outsider), client_for(owner)):
        for slug in ("acme", "globex", "does-not-exist"):
            response = client.get(f"/orgs/{slug}/")
            assert response.status_code in {200, 404}
    assert client_for(outsider).get("/orgs/acme/").status_code == 404
    assert client_for(outsider).get("/orgs/does-not-exist/").status_code == 404
    anonymous = client_for(None)
    assert anonymous.get("/orgs/acme/")["Location"] == anonymous.get("/orgs/does-not-exist/")["Location"].replace(
        "does-not-exist", "acme"
    )


def test_json_clients_get_json_errors(client_for, owner, outsider):
    response = client_for(None).get("/orgs/acme/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    response = client_for(outsider).get("/orgs/acme/", HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "There is no such page."}}


def test_an_anonymous_post_is_not_processed(client_for, org):
    response = client_for(None).post("/orgs/acme/members/invite/", {"email": "x@acme.test", "role": "member"})
    assert response.status_code == 401
    assert b"Sign in to continue" in response.content


def test_added_checks_run_after_the_built_in_ones(client_for, owner, outsider, settings):
    settings.ORG_PIPELINE_CHECKS = [*settings.ORG_PIPELINE_CHECKS, "tests.core.test_pipeline.refuse_everything"]
    assert client_for(outsider).get("/orgs/acme/").status_code == 404  # membership still decides first
    response = client_for(owner).get("/orgs/acme/")
    assert response.status_code == 503
    assert b"in maintenance" in response.content


def test_a_script_prefix_does_not_skip_the_checks(client_for, owner, settings):
    # Behind a server that takes SCRIPT_NAME from the request (gunicorn does, from a peer in forwarded_allow_ips),
    # "/x/orgs/acme/" with SCRIPT_NAME "/x" routes to acme's dashboard; the checks must run there too.
    settings.ORG_PIPELINE_CHECKS = [*settings.ORG_PIPELINE_CHECKS, "tests.core.test_pipeline.refuse_everything"]
    client = client_for(owner)
    for path in ("/orgs/acme/", "/orgs/acme/settings/security/keys/"):
        response = client.get(path, SCRIPT_NAME="/x")
        assert response.status_code == 503
        assert b"in maintenance" in response.content
    response = client.get("/orgs/acme/", SCRIPT_NAME="/x", HTTP_ACCEPT="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (503, "maintenance")


@override_settings(ORG_PIPELINE_CHECKS=["orgsecurity.pipeline.check_authenticated"])
def test_views_still_refuse_outsiders_without_the_membership_check(client_for, outsider):
    assert client_for(outsider).get("/orgs/acme/").status_code == 404


def test_dashboard_persona_access(client_for, owner, member, outsider):
    assert client_for(owner).get("/orgs/acme/").status_code == 200
    assert client_for(member).get("/orgs/acme/").status_code == 200
    assert client_for(outsider).get("/orgs/acme/").status_code == 404


def test_security_page_persona_access(client_for, owner, member, outsider):
    assert client_for(owner).get("/orgs/acme/settings/security/").status_code == 200
    assert client_for(member).get("/orgs/acme/settings/security/").status_code == 403
    assert client_for(outsider).get("/orgs/acme/settings/security/").status_code == 404


def test_home_routes_people(client_for, owner, db):
    assert client_for(None).get("/")["Location"] == "/accounts/login/"
    assert client_for(owner).get("/")["Location"] == "/orgs/acme/"
    from tests.helpers.core import make_user

    assert b"not in any organization" in client_for(make_user("lonely@x.test")).get("/").content
