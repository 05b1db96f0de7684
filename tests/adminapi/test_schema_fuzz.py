"""A property-based run of schemathesis against the live admin API schema (/api/v1/openapi.json): every operation,
a bounded number of examples each, each example on a fresh organization with its own all-scopes key (so destructive
calls cannot starve the run). It must find no 500, no answer that breaks the schema, no undocumented status, and no
2xx for a request the schema says is invalid."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from keys import actions as key_actions
from tests.helpers.adminapi import ALL_SCOPES, scoped_key
from tests.helpers.core import make_org, make_user

_numbers = itertools.count()
EXAMPLES = 8  # per operation


def fresh_org_key() -> tuple[str, str]:
    """A new organization (its own slug) and an all-scopes key of its owner, with API security changes allowed."""
    number = next(_numbers)
    owner = make_user(f"fuzz{number}@example.test")
    org = make_org(f"fuzz-{number}", owner)
    key_actions.set_api_security_changes(org, actor=owner, allowed=True)
    return org.slug, scoped_key(org, owner, ALL_SCOPES)[1]


@pytest.fixture
def _connections_stay_open():
    """Keep the test's database connection across the WSGI calls, as Django's test client does: the WSGI handler
    would otherwise close it at the end of every request (request_finished), ending the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_the_admin_api_keeps_its_schema(db, _connections_stay_open):
    # Hypothesis driven directly per operation (schemathesis's pytest plugin does not run under this pytest).
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def run(case):
            # A generated query parameter with a null value is never sent: the request that arrives is not the
            # invalid one schemathesis meant (a false "schema-violating request accepted").
            assume(not any(value is None for value in (case.query or {}).values()))
            cache.clear()  # rate-limit and idempotency counters start afresh for every example
            slug, token = fresh_org_key()
            if "org_slug" in (case.path_parameters or {}):
                case.path_parameters["org_slug"] = slug
            headers = {"Authorization": f"Bearer {token}", "If-Match": "*"}
            response = case.call(headers=headers)
            if response.status_code == 413:
                # A body over DATA_UPLOAD_MAX_MEMORY_SIZE (generated past a maxLength): refused, as documented.
                return
            # Not positive_data_acceptance: a schema-valid string can still be no CIDR block (a 400 with its code).
            case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])

        run()
