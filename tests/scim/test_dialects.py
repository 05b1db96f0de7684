"""The request shapes Microsoft Entra ID and Okta send (from their SCIM provisioning documentation), end to end.

Entra ID: "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID" (request/response
examples); Okta: "SCIM 2.0 protocol reference" (Okta Developer)."""

from __future__ import annotations

from orgsecurity.models import Membership
from scim.models import ScimGroup, ScimUser
from tests.helpers.scim import ENTERPRISE, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA


def entra_create(
    scim,
    user_name="Test_User_ab6490ee@acme.test",
    external_id="0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    email="Test_User_fd0ea19b@acme.test",
):
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    }
    response = scim.post("Users", body)
    assert response.status_code == 201, response.content
    return response.json()


# --- Entra ID ------------------------------------------------------------------------------------------------


def test_entra_unknown_user_name_filter_is_200_with_no_results(scim):
    response = scim.get("Users", {"filter": 'userName eq "non-existent user"'})
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0 and response.json()["Resources"] == []


def test_entra_matching_filter_on_user_name_and_external_id(scim):
    created = entra_create(scim)
    found = scim.get("Users", {"filter": 'userName eq "Test_User_ab6490ee@acme.test"'}).json()
    assert [r["id"] for r in found["Resources"]] == [created["id"]]
    found = scim.get("Users", {"filter": 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"'}).json()
    assert found["totalResults"] == 1


def test_entra_patch_capitalized_ops_string_booleans_and_filtered_paths(scim):
    created = entra_create(scim)
    response = scim.patch(
        f"Users/{created['id']}",
        [
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@acme.test"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Finance"},
        ],
    )
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["emails"][0]["value"] == "updatedEmail@acme.test"
    assert answer["name"]["familyName"] == "updatedFamilyName"
    assert answer[ENTERPRISE]["department"] == "Finance"
    # The account email follows the primary email: the same member, renamed.
    assert ScimUser.objects.get(scim_id=created["id"]).user.email == "updatedemail@acme.test"


def test_entra_add_to_a_type_filter_with_no_match_creates_the_entry(scim):
    # Entra sends a new work email (or address) as an Add on a filtered path, also when the user has none yet.
    created = entra_create(scim)
    response = scim.put(
        f"Users/{created['id']}",
        {
            "schemas": [USER_SCHEMA],
            "userName": created["userName"],
            "emails": [{"type": "home", "value": "home@acme.test"}],
        },
    )
    assert response.status_code == 200, response.content
    response = scim.patch(
        f"Users/{created['id']}",
        [
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "new.work@acme.test"},
            {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
        ],
    )
    assert response.status_code == 200, response.content
    answer = response.json()
    assert {(e.get("type"), e["value"]) for e in answer["emails"]} == {
        ("home", "home@acme.test"),
        ("work", "new.work@acme.test"),
    }
    assert answer["addresses"] == [{"type": "work", "locality": "Redmond"}]
    again = scim.get(f"Users/{created['id']}").json()
    assert {e["value"] for e in again["emails"]} == {"home@acme.test", "new.work@acme.test"}
    # A second Add on the same filter now matches the entry it created: changed in place, not added twice.
    response = scim.patch(
        f"Users/{created['id']}", [{"op": "Add", "path": 'emails[type eq "work"].value', "value": "w2@acme.test"}]
    )
    assert [e["value"] for e in response.json()["emails"] if e.get("type") == "work"] == ["w2@acme.test"]


def test_replace_and_other_filters_with_no_match_stay_no_target(scim):
    # RFC 7644 §3.5.2.3: a replace whose filter matches nothing is 400 noTarget; only an Add by type creates.
    created = entra_create(scim)
    for operation in (
        {"op": "Replace", "path": 'emails[type eq "home"].value', "value": "home@acme.test"},
        {"op": "Add", "path": 'emails[value eq "other@acme.test"].type', "value": "work"},
        {"op": "Add", "path": 'emails[type co "hom"].value', "value": "home@acme.test"},
    ):
        response = scim.patch(f"Users/{created['id']}", [operation])
        assert response.status_code == 400, (operation, response.content)
        assert response.json()["scimType"] == "noTarget"
    assert [e["value"] for e in scim.get(f"Users/{created['id']}").json()["emails"]] == [created["emails"][0]["value"]]


def test_entra_patch_without_path_with_dotted_keys_and_extension_urns(scim):
    created = entra_create(scim)
    response = scim.patch(
        f"Users/{created['id']}",
        [
            {
                "op": "add",
                "value": {
                    "name.givenName": "Zed",
                    "displayName": "Zed Jensen",
                    f"{ENTERPRISE}:employeeNumber": "701984",
                },
            }
        ],
    )
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["name"]["givenName"] == "Zed"
    assert answer["displayName"] == "Zed Jensen"
    assert answer[ENTERPRISE]["employeeNumber"] == "701984"


def test_entra_disables_with_the_string_false(scim, org):
    created = entra_create(scim)
    response = scim.patch(f"Users/{created['id']}", [{"op": "Replace", "path": "active", "value": "False"}])
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    link = ScimUser.objects.get(scim_id=created["id"])
    assert Membership.objects.get(organization=org, user=link.user).suspended_at is not None


def test_entra_group_members_add_and_remove_with_value_lists(scim):
    one, two = entra_create(scim), entra_create(scim, "second@acme.test", "ext-2", "second@acme.test")
    group = scim.post("Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineers", "externalId": "g-1"}).json()
    response = scim.patch(
        f"Groups/{group['id']}",
        [{"op": "Add", "path": "members", "value": [{"value": one["id"]}, {"value": two["id"]}]}],
    )
    assert response.status_code == 200, response.content
    assert {m["value"] for m in response.json()["members"]} == {one["id"], two["id"]}
    response = scim.patch(
        f"Groups/{group['id']}", [{"op": "Remove", "path": "members", "value": [{"value": one["id"]}]}]
    )
    assert response.status_code == 200, response.content
    assert [m["value"] for m in response.json()["members"]] == [two["id"]]
    response = scim.patch(f"Groups/{group['id']}", [{"op": "Remove", "path": f'members[value eq "{two["id"]}"]'}])
    assert "members" not in response.json()


def test_entra_group_filter_on_members_value(scim):
    one = entra_create(scim)
    group = scim.post(
        "Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Ops", "members": [{"value": one["id"]}]}
    ).json()
    found = scim.get("Groups", {"filter": f'id eq "{group["id"]}" and members[value eq "{one["id"]}"]'}).json()
    assert found["totalResults"] == 1
    found = scim.get("Groups", {"filter": 'displayName eq "ops"', "excludedAttributes": "members"}).json()
    assert found["totalResults"] == 1 and "members" not in found["Resources"][0]


# --- Okta ----------------------------------------------------------------------------------------------------


def okta_create(scim):
    body = {
        "schemas": [USER_SCHEMA],
        "userName": "isaac.brock@acme.test",
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "emails": [{"primary": True, "value": "isaac.brock@acme.test", "type": "work"}],
        "displayName": "Isaac Brock",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    response = scim.post("Users", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_okta_create_never_echoes_the_password(scim):
    created = okta_create(scim)
    assert "password" not in created
    assert "password" not in ScimUser.objects.get(scim_id=created["id"]).data


def test_okta_put_replaces_the_whole_user(scim):
    created = okta_create(scim)
    body = {
        "schemas": [USER_SCHEMA],
        "id": created["id"],
        "userName": "isaac.brock@acme.test",
        "name": {"givenName": "Another", "familyName": "Name"},
        "emails": [{"primary": True, "value": "isaac.brock@acme.test", "type": "work"}],
        "displayName": "Another Name",
        "active": True,
        "meta": {"resourceType": "User"},
    }
    response = scim.put(f"Users/{created['id']}", body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["name"] == {"givenName": "Another", "familyName": "Name"}
    assert "locale" not in answer and "externalId" not in answer


def test_okta_patch_replace_value_object_with_active(scim, org):
    created = okta_create(scim)
    body = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": False}}]}
    response = scim.send("PATCH", f"Users/{created['id']}", body)
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    body["Operations"][0]["value"]["active"] = True
    assert scim.send("PATCH", f"Users/{created['id']}", body).json()["active"] is True
    link = ScimUser.objects.get(scim_id=created["id"])
    assert Membership.objects.get(organization=org, user=link.user).suspended_at is None


def test_okta_group_push_rename_and_member_lists(scim):
    user = okta_create(scim)
    group = scim.post("Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Test SCIMv2", "members": []}).json()
    rename = {"op": "replace", "value": {"id": group["id"], "displayName": "Test SCIMv2 renamed"}}
    response = scim.patch(f"Groups/{group['id']}", [rename])
    assert response.status_code == 200, response.content
    assert response.json()["displayName"] == "Test SCIMv2 renamed"
    add = {"op": "add", "path": "members", "value": [{"value": user["id"], "display": "isaac.brock@acme.test"}]}
    assert scim.patch(f"Groups/{group['id']}", [add]).json()["members"][0]["value"] == user["id"]
    remove = {"op": "remove", "path": f'members[value eq "{user["id"]}"]'}
    assert "members" not in scim.patch(f"Groups/{group['id']}", [remove]).json()
    put = {"schemas": [GROUP_SCHEMA], "displayName": "Final", "members": [{"value": user["id"]}]}
    answer = scim.put(f"Groups/{group['id']}", put).json()
    assert answer["displayName"] == "Final" and len(answer["members"]) == 1
    assert ScimGroup.objects.get().members.count() == 1
