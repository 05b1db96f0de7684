"""Admin API test helpers: calling ``/api/v1/orgs/…`` with a key, and reading its error answers."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from keys import actions
from keys.models import APIKey
from orgsecurity.models import Organization, User

ALL_SCOPES = ["security:read", "security:write", "members:read", "members:write", "audit:read"]


def call(method: str, path: str, token: str | None, body: Any = None, **headers: str) -> Any:
    """``method`` ``path`` with ``Authorization: Bearer <token>`` (none for None) and a JSON ``body``."""
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = json.dumps(body) if body is not None else None
    return Client().generic(method, path, data=data or "", content_type="application/json", **extra)


def error_code(response: Any) -> str:
    """The ``error.code`` of a JSON error answer (asserting the shape and that it is JSON, never HTML)."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]["code"]


def allow_api_changes(org: Organization, owner: User) -> None:
    actions.set_api_security_changes(org, actor=owner, allowed=True)


def scoped_key(org: Organization, actor: User, scopes: list[str], **fields: Any) -> tuple[APIKey, str]:
    """A key issued through the action with ``scopes`` (read-write, unrestricted unless ``fields`` say otherwise)."""
    fields.setdefault("name", "automation")
    fields.setdefault("permission", APIKey.Permission.READ_WRITE)
    return actions.create_api_key(org, actor=actor, scopes=scopes, **fields)
