"""The admin API's one ``NinjaAPI`` under ``/api/v1/`` and what its route modules share: key authentication
(``adminapi.access.KeyAuth``), JSON errors (``adminapi.errors``), the JSON-object body parser, the error responses
every operation documents (``ERRORS``) and ``delegated(access)``, the actor a key's writes run as.

Route modules (``adminapi.routes.*``) register their operations on ``api``; ``adminapi.api`` imports them all.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.parser import Parser

from adminapi import schemas
from adminapi.access import KeyAuth
from adminapi.errors import install_handlers
from orgsecurity.actors import ProgramActor
from orgsecurity.jsonbody import NotJSON, parse_json

MAX_ID = 2**63 - 1  # the largest id the database stores (bigint)
ERRORS = {code: schemas.Error for code in (400, 401, 403, 404, 409, 412, 413, 422, 428, 429)}


class ObjectBodyParser(Parser):
    """JSON bodies must be objects: a bare number, string or list is refused (400 ``bad_request``), never read as
    an empty object."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            data = parse_json(request.body or b"null")  # one reader of client JSON: nesting bounded, never a 500
        except NotJSON as exc:
            raise HttpError(400, str(exc)) from None
        if not isinstance(data, dict):
            raise HttpError(400, "Send a JSON object as the request body")
        return data


KEY_AUTH = KeyAuth()
api = NinjaAPI(
    title="orgsecurity admin API",
    version="1",
    description=(
        "Security settings, IP allowlists and the audit log of one organization, for programs. Authenticate with "
        "an API key holding the scopes each operation names: `Authorization: Bearer osk_…`."
    ),
    urls_namespace="adminapi",
    auth=KEY_AUTH,
    parser=ObjectBodyParser(),
)
KEY_AUTH.api = api
install_handlers(api)


def delegated(access: Any) -> ProgramActor:
    """The actor a key's writes run as (``orgsecurity.actors.ProgramActor``): the key's audit identity (``osk_…``
    prefix) with the role it acts with (``adminapi.access.org_access``: the owner's current role, or admin for a
    service account's key) and the person behind it (the key's owner; None for a service account's key)."""
    actor = access.actor
    return ProgramActor(actor.type, actor.id, actor.label, role=access.role, user_id=access.key.owner_user_id)


def invalid(message: str, fields: dict[str, str]) -> Any:
    """A 400 ``invalid_request`` JSON answer naming each bad field: ``{"error": {"code", "message", "fields"}}``."""
    body = {"error": {"code": "invalid_request", "message": message, "fields": fields}}
    return JsonResponse(body, status=400)
