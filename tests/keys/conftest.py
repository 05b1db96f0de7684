"""Fixtures for the keys tests: teams, projects and workloads in acme, key issuing, API and fresh-session clients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.test import Client

from keys import actions
from orgsecurity.models import Membership, Project, Team, User
from tests.helpers.core import sign_in_client
from tests.helpers.keys import Acme


@pytest.fixture(autouse=True)
def _fresh_throttle_windows():
    """Refusal audit throttling lives in the shared cache (Redis in CI): start each test with none."""
    cache.clear()


@pytest.fixture
def acme(org, owner, admin, member) -> Acme:
    platform = Team.objects.create(organization=org, slug="platform", name="Platform")
    data = Team.objects.create(organization=org, slug="data", name="Data")
    platform.members.add(Membership.objects.get(user=admin), Membership.objects.get(user=member))
    data.members.add(Membership.objects.get(user=admin))
    return Acme(
        platform=platform,
        data=data,
        web=Project.objects.create(organization=org, team=platform, slug="web", name="Web app"),
        mobile=Project.objects.create(organization=org, team=platform, slug="mobile", name="Mobile app"),
        warehouse=Project.objects.create(organization=org, team=data, slug="warehouse", name="Data warehouse"),
        ci=actions.create_workload(org, actor=owner, name="ci"),
        export=actions.create_workload(org, actor=owner, name="batch-export"),
    )


@pytest.fixture
def globex_project(other_org) -> Project:
    team = Team.objects.create(organization=other_org, slug="ops", name="Ops")
    return Project.objects.create(organization=other_org, team=team, slug="secret-plans", name="Secret plans")


@pytest.fixture
def fresh_client() -> Callable[[User], Client]:
    """``fresh_client(user)``: signed in and re-authenticated just now (passes require_recent_auth)."""

    def build(user: User) -> Client:
        return sign_in_client(Client(), user)  # a tracked session, authenticated just now

    return build
