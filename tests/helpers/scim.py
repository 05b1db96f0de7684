"""SCIM test helpers: a SCIM client speaking ``application/scim+json`` with a bearer token, and the IdPs' request
shapes used by the dialect tests."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from audit.recorder import Actor
from scim.actions import create_token

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_TYPE = "application/scim+json"


def new_token(org, connection, **fields) -> str:
    """A fresh SCIM token of ``connection`` (created as the system), as the IdP stores it."""
    _, text = create_token(
        org, actor=Actor.system("tests"), connection=connection, name=fields.pop("name", "IdP"), **fields
    )
    return text


class ScimClient:
    """Requests to ``/scim/v2/<slug>/`` with ``Authorization: Bearer <token>``; answers' JSON in ``.json()``."""

    def __init__(self, token: str | None, slug: str = "acme", client: Client | None = None) -> None:
        self.token = token
        self.base = f"/scim/v2/{slug}/"
        self.client = client or Client()

    def _split(self, extra: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        # Header names (If-Match) go in headers; WSGI environ keys (REMOTE_ADDR) as they are.
        environ = {name: value for name, value in extra.items() if name.isupper()}
        headers = {name: value for name, value in extra.items() if not name.isupper()}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers, environ

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: str):
        headers, environ = self._split(extra)
        return self.client.get(self.base + path, params or {}, headers=headers, **environ)

    def send(self, method: str, path: str, body: Any = None, **extra: str):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body) if body is not None else ""
        headers, environ = self._split(extra)
        return self.client.generic(method, self.base + path, data, content_type=SCIM_TYPE, headers=headers, **environ)

    def post(self, path: str, body: Any, **headers: str):
        return self.send("POST", path, body, **headers)

    def put(self, path: str, body: Any, **headers: str):
        return self.send("PUT", path, body, **headers)

    def patch(self, path: str, operations: list[dict], **headers: str):
        return self.send("PATCH", path, {"schemas": [PATCH_SCHEMA], "Operations": operations}, **headers)

    def delete(self, path: str, **headers: str):
        return self.send("DELETE", path, None, **headers)


def user_body(
    user_name: str, *, external_id: str = "", email: str | None = None, active: bool = True, **extra: Any
) -> dict:
    """A POST /Users body as Entra ID and Okta send it (name, work email, active)."""
    body = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "active": active,
        "name": {"givenName": "Bea", "familyName": "Jensen"},
        "emails": [{"value": email or user_name, "type": "work", "primary": True}],
        **extra,
    }
    if external_id:
        body["externalId"] = external_id
    return body
