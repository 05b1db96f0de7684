"""Hostile input from an attack run gets a SCIM 400, never a 500: JSON nested thousands deep (Python's parser
recurses per level), startIndex and count beyond any database offset or of the wrong JSON type."""

from __future__ import annotations

import pytest

from tests.helpers.scim import SCIM_TYPE

DEEP_BODIES = ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000]


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["list", "object"])
def test_deeply_nested_json_is_a_scim_400(scim, body):
    response = scim.client.post(
        "/scim/v2/acme/Users", body, content_type=SCIM_TYPE, headers={"Authorization": f"Bearer {scim.token}"}
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"
    assert "nested more than" in response.json()["detail"]


@pytest.mark.parametrize("value", ["99999999999999999999999", "-99999999999999999999999"])
def test_huge_start_index_and_count_read_as_the_largest_number(scim, value):
    response = scim.get("Users", {"startIndex": value, "count": value})
    assert response.status_code == 200
    assert response.json().get("Resources", []) == []


@pytest.mark.parametrize("value", [True, {"n": 1}, "1e3"])
def test_search_paging_of_the_wrong_type_is_a_400(scim, value):
    # (a list is read by the SearchRequest model as no startIndex at all: a 200, which is no 500 either)
    response = scim.post(
        "Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": value}
    )
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidValue"
