"""API key test helpers: issuing a key (``issue``) and calling the key API with it (``api_get``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.test import Client

from audit.recorder import Actor
from keys import actions
from keys.models import APIKey, Workload
from orgsecurity.models import Organization, Project, Team, User


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


def issue(org: Organization, actor: User, **fields) -> tuple[APIKey, str]:
    """Issue a key through the action (name defaults to "test key")."""
    fields.setdefault("name", "test key")
    return actions.create_api_key(org, actor=actor, **fields)


def api_get(token: str | None, path: str, client: Client | None = None, **headers) -> object:
    """GET an API path with ``Authorization: Bearer <token>`` (no header for None)."""
    if token is not None:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    return (client or Client()).get(path, **headers)


SYSTEM = Actor.system("tests")
