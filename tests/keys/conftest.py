"""Fixtures for the keys tests: teams, projects and workloads in acme, key issuing, API and fresh-session clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client

from audit.recorder import Actor
from keys import actions
from keys.models import APIKey, Workload
from orgsecurity.models import Membership, Organization, Project, Team, User
from tests.conftest import sign_in_client


@dataclass
class Acme:
    """acme's teams (platform: admin and member; data: admin only), projects and workloads."""

    platform: Team
    data: Team
    web: Project
    mobile: Project
    warehouse: Project
    ci: Workload
    export: Workload


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


def issue(org: Organization, actor: User, **fields) -> tuple[APIKey, str]:
    """Issue a key through the action (name defaults to "test key")."""
    fields.setdefault("name", "test key")
    return actions.create_api_key(org, actor=actor, **fields)


def api_get(token: str | None, path: str, client: Client | None = None, **headers) -> object:
    """GET an API path with ``Authorization: Bearer <token>`` (no header for None)."""
    if token is not None:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    return (client or Client()).get(path, **headers)


@pytest.fixture
def fresh_client() -> Callable[[User], Client]:
    """``fresh_client(user)``: signed in and re-authenticated just now (passes require_recent_auth)."""

    def build(user: User) -> Client:
        return sign_in_client(Client(), user)  # a tracked session, authenticated just now

    return build


SYSTEM = Actor.system("tests")
