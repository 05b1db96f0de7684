"""The SSO enforcement check costs an ordinary organization page one query (bench/request_overhead.py's budget)."""

from __future__ import annotations

from django.test import RequestFactory

from orgsecurity.accessors import load_org_context
from sso.rollout.enforcement import check_sso_enforcement
from tests.helpers.core import sign_in_client


def test_one_query_for_the_enforcement_check(client_for, connection, member, django_assert_num_queries):
    session = sign_in_client(client_for(None), member).session
    request = RequestFactory().get("/orgs/acme/")
    request.user, request.session = member, session
    load_org_context(request, "acme")  # the membership check before this one loads it
    assert session["auth_method"] == "password"  # the session checks before this one load the session
    with django_assert_num_queries(1):
        assert check_sso_enforcement(request, "acme") is None
