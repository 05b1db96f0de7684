"""SCIM /Users: create, read, list with filters and paging, replace, patch, delete; errors in the SCIM shape."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgsecurity.models import Membership, User
from orgsecurity.roles import Role
from scim.models import ScimUser
from tests.helpers.scim import ENTERPRISE, SCIM_TYPE, USER_SCHEMA, user_body


def create(scim, user_name="bea@acme.test", **fields):
    response = scim.post("Users", user_body(user_name, **fields))
    assert response.status_code == 201, response.content
    return response.json()


def test_post_provisions_a_member_without_a_password(scim, org):
    answer = create(scim, external_id="okta-00u1")
    assert answer["userName"] == "bea@acme.test"
    assert answer["externalId"] == "okta-00u1"
    assert answer["active"] is True
    assert answer["meta"]["resourceType"] == "User"
    assert answer["meta"]["version"] == 'W/"1"'
    assert answer["meta"]["location"].endswith(f"/scim/v2/acme/Users/{answer['id']}")
    user = User.objects.get(email="bea@acme.test")
    assert not user.has_usable_password()
    assert Membership.objects.get(organization=org, user=user).role == Role.MEMBER
    event = AuditEvent.objects.filter(organization=org, action="scim.user_created").get()
    assert event.actor_type == "scim_token" and event.actor_label.startswith("scim_")


def test_answers_are_scim_json_with_an_etag(scim):
    answer = create(scim)
    response = scim.get(f"Users/{answer['id']}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(SCIM_TYPE)
    assert response["ETag"] == 'W/"1"'
    assert scim.get(f"Users/{answer['id']}", **{"If-None-Match": 'W/"1"'}).status_code == 304


def test_user_name_is_unique_without_regard_to_case(scim):
    create(scim)
    response = scim.post("Users", user_body("BEA@acme.test", email="other@acme.test"))
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert response.json()["status"] == "409"
    assert response["Content-Type"].startswith(SCIM_TYPE)


def test_only_verified_domains_are_provisioned(scim):
    response = scim.post("Users", user_body("eve@elsewhere.test"))
    assert response.status_code == 400
    assert "elsewhere.test is not a verified domain" in response.json()["detail"]
    assert not User.objects.filter(email="eve@elsewhere.test").exists()


def test_an_existing_account_in_a_verified_domain_is_matched(scim, org, member):
    answer = create(scim, "member@acme.test")
    link = ScimUser.objects.get(scim_id=answer["id"])
    assert link.user == member
    assert Membership.objects.filter(organization=org, user=member).count() == 1


def test_enterprise_extension_round_trips(scim):
    answer = create(
        scim, **{"schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: {"department": "Ops", "employeeNumber": "42"}}
    )
    got = scim.get(f"Users/{answer['id']}").json()
    assert got[ENTERPRISE]["department"] == "Ops"
    assert ENTERPRISE in got["schemas"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "BEA@acme.test"', ["bea@acme.test"]),
        ('userName co "ea@"', ["bea@acme.test"]),
        ('userName sw "cy"', ["cy@acme.test"]),
        ('externalId eq "x-2"', ["cy@acme.test"]),
        ('emails.value eq "bea@acme.test"', ["bea@acme.test"]),
        ('emails[value co "cy"]', ["cy@acme.test"]),
        ("displayName pr", ["cy@acme.test"]),
        ('userName sw "bea" or externalId eq "x-2"', ["bea@acme.test", "cy@acme.test"]),
        ('userName sw "bea" and externalId eq "x-2"', []),
        ('not (userName eq "bea@acme.test")', ["cy@acme.test"]),
        ('userName eq "nobody@acme.test"', []),
    ],
)
def test_filters(scim, text, expected):
    create(scim, external_id="x-1")
    create(scim, "cy@acme.test", external_id="x-2", displayName="Cy")
    response = scim.get("Users", {"filter": text})
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert sorted(r["userName"] for r in answer["Resources"]) == expected
    assert answer["totalResults"] == len(expected)


@pytest.mark.parametrize("text", ["userName eq", 'userName zz "x"', 'title eq "x"', 'active eq "maybe"', "(" * 5])
def test_bad_filters_are_invalid_filter(scim, text):
    response = scim.get("Users", {"filter": text})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


def test_paging_and_attributes(scim):
    for n in range(5):
        create(scim, f"u{n}@acme.test")
    answer = scim.get("Users", {"startIndex": 2, "count": 2, "attributes": "userName"}).json()
    assert answer["totalResults"] == 5 and answer["startIndex"] == 2 and answer["itemsPerPage"] == 2
    assert [r["userName"] for r in answer["Resources"]] == ["u1@acme.test", "u2@acme.test"]
    assert set(answer["Resources"][0]) <= {"id", "userName", "schemas"}
    excluded = scim.get("Users", {"excludedAttributes": "emails,name"}).json()["Resources"][0]
    assert "emails" not in excluded and "name" not in excluded and "userName" in excluded


def test_put_replaces_and_renames_the_same_account(scim, org):
    answer = create(scim, external_id="x-1")
    response = scim.put(f"Users/{answer['id']}", user_body("bea.j@acme.test", external_id="x-1"))
    assert response.status_code == 200, response.content
    assert response.json()["meta"]["version"] == 'W/"2"'
    link = ScimUser.objects.get(scim_id=answer["id"])
    assert link.user.email == "bea.j@acme.test"
    assert User.objects.filter(email="bea@acme.test").count() == 0
    assert Membership.objects.filter(organization=org, user=link.user).count() == 1


def test_if_match_refuses_a_stale_write(scim):
    answer = create(scim)
    response = scim.put(f"Users/{answer['id']}", user_body("bea@acme.test"), **{"If-Match": 'W/"7"'})
    assert response.status_code == 412


def test_unknown_and_malformed_ids_are_404(scim):
    assert scim.get("Users/not-a-uuid").status_code == 404
    response = scim.get("Users/2819c223-7f76-453a-919d-413861904646")
    assert response.status_code == 404
    assert response.json()["status"] == "404"


def test_bad_bodies_never_500(scim):
    assert scim.post("Users", "{not json").json()["scimType"] == "invalidSyntax"
    assert scim.post("Users", "[]").status_code == 400
    assert scim.post("Users", {"schemas": [USER_SCHEMA]}).status_code == 400
    assert scim.post("Users", {"schemas": [USER_SCHEMA], "userName": 5}).status_code == 400
    assert scim.send("PATCH", "Users/2819c223-7f76-453a-919d-413861904646", {"x": 1}).status_code == 404


def test_body_over_one_megabyte_is_413(scim):
    big = user_body("bea@acme.test", nickName="x" * (1024 * 1024 + 10))
    response = scim.post("Users", big)
    assert response.status_code == 413
    assert response["Content-Type"].startswith(SCIM_TYPE)


def test_unknown_path_and_method_are_scim_errors(scim):
    response = scim.get("Nope")
    assert response.status_code == 404 and response["Content-Type"].startswith(SCIM_TYPE)
    response = scim.send("PUT", "Users", {})
    assert response.status_code == 405 and response.json()["status"] == "405"


def test_delete_removes_the_membership_and_the_link(scim, org):
    answer = create(scim)
    response = scim.delete(f"Users/{answer['id']}")
    assert response.status_code == 204
    assert not ScimUser.objects.exists()
    user = User.objects.get(email="bea@acme.test")
    assert not Membership.objects.filter(organization=org, user=user).exists()
    assert scim.get(f"Users/{answer['id']}").status_code == 404


def test_search_by_post(scim):
    create(scim, external_id="x-1")
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'externalId eq "x-1"',
        "attributes": ["userName"],
    }
    for path in ("Users/.search", ".search"):
        answer = scim.post(path, body).json()
        assert answer["totalResults"] == 1 and answer["Resources"][0]["userName"] == "bea@acme.test"


def test_a_user_without_any_email_gets_no_account_until_one_arrives(scim, org):
    response = scim.post("Users", {"schemas": [USER_SCHEMA], "userName": "jdoe"})
    assert response.status_code == 201
    link = ScimUser.objects.get()
    assert link.user is None and not Membership.objects.filter(organization=org, user__email="jdoe").exists()
    scim.patch(f"Users/{link.scim_id}", [{"op": "add", "path": "emails", "value": [{"value": "jdoe@acme.test"}]}])
    link.refresh_from_db()
    assert link.user.email == "jdoe@acme.test"
    assert Membership.objects.filter(organization=org, user=link.user).exists()
