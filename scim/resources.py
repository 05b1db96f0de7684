"""SCIM resources ↔ this app's rows, with scim2-models (pydantic models of RFC 7643 §4 User, Group, the enterprise
User extension, RFC 7644 §3.4.2 ListResponse) doing validation and serialization.

- ``parse_user`` / ``parse_group`` validate a request body in its RFC 7644 context (creation, replacement) and raise
  ``ScimError`` (400 ``invalidSyntax`` / ``invalidValue`` / ``mutability``) with scim2-models' own reading.
- ``user_resource`` / ``group_resource`` rebuild a resource from the stored row: the kept attributes in
  ``ScimUser.data``, the columns (``userName``, ``externalId``, ``active``), ``id`` and ``meta`` (``version`` is the
  weak ETag ``W/"<n>"``, RFC 7644 §3.14).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from pydantic import ValidationError
from scim2_models import Context, EnterpriseUser, Error, Group, Meta, ResponseParameters, SCIMException, User

from scim.errors import ScimError
from scim.models import ScimGroup, ScimUser

UserResource = User[EnterpriseUser]
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Columns of ScimUser, never kept twice in ``data``; and ``password`` (writeOnly, RFC 7643 §4.1.1), never kept at all:
# accounts provisioned here sign in through SSO.
_USER_COLUMNS = ("id", "meta", "userName", "externalId", "active", "schemas", "groups", "password")


def base_url(org_slug: str) -> str:
    """The SCIM base URL of an organization (``PUBLIC_BASE_URL`` + ``/scim/v2/<slug>``), without trailing slash."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/scim/v2/{org_slug}"


def etag(version: int) -> str:
    """The weak entity tag of a resource version (RFC 9110 §8.8.3, RFC 7644 §3.14)."""
    return f'W/"{version}"'


def validation_error(exc: ValidationError) -> ScimError:
    """The ``ScimError`` for a pydantic ``ValidationError`` of scim2-models (its first error, in SCIM terms)."""
    errors = Error.from_validation_errors(exc)
    first = errors[0] if errors else Error(status=400, detail="The resource is not valid.")
    return ScimError(int(first.status or 400), first.detail or "The resource is not valid.", first.scim_type)


def _validate(model: Any, payload: Any, context: Context) -> Any:
    if not isinstance(payload, dict):
        raise ScimError(400, "The request body must be a JSON object.", "invalidSyntax")
    try:
        return model.model_validate(payload, scim_ctx=context)
    except ValidationError as exc:
        raise validation_error(exc) from None
    except SCIMException as exc:
        raise ScimError(exc.status, exc.detail, exc.scim_type or None) from None
    except (ValueError, TypeError) as exc:
        raise ScimError(400, f"The resource is not valid: {exc}", "invalidValue") from None


def parse_user(payload: Any, *, replacing: bool = False) -> UserResource:
    """A ``User`` (with the enterprise extension) from a POST (``replacing=False``) or PUT body."""
    context = Context.RESOURCE_REPLACEMENT_REQUEST if replacing else Context.RESOURCE_CREATION_REQUEST
    if isinstance(payload, dict) and replacing:
        # RFC 7644 §3.5.1: readOnly attributes in a PUT are ignored (id, meta), not refused.
        payload = {k: v for k, v in payload.items() if k not in {"id", "meta", "groups"}}
    return _validate(UserResource, payload, context)


def parse_group(payload: Any, *, replacing: bool = False) -> Group:
    """A ``Group`` from a POST or PUT body."""
    context = Context.RESOURCE_REPLACEMENT_REQUEST if replacing else Context.RESOURCE_CREATION_REQUEST
    if isinstance(payload, dict) and replacing:
        payload = {k: v for k, v in payload.items() if k not in {"id", "meta"}}
    return _validate(Group, payload, context)


def user_fields(resource: UserResource) -> dict[str, Any]:
    """What a ``ScimUser`` row stores of ``resource``: its columns and ``data`` (the other attributes)."""
    dumped = resource.model_dump(scim_ctx=Context.DEFAULT, exclude_none=True)
    data = {key: value for key, value in dumped.items() if key not in _USER_COLUMNS}
    email = primary_email(resource)
    return {
        "user_name": resource.user_name or "",
        "external_id": resource.external_id or "",
        "display_name": (resource.display_name or "")[:255],
        "active": True if resource.active is None else bool(resource.active),
        "email": email,
        "data": data,
    }


def primary_email(resource: UserResource) -> str:
    """The account email of a SCIM user: the primary ``emails`` value, else the first, else ``userName``."""
    emails = [email for email in (resource.emails or []) if email.value]
    primary = next((email for email in emails if email.primary), emails[0] if emails else None)
    return str(primary.value if primary is not None else resource.user_name or "").strip().lower()


def user_model(scim_user: ScimUser, org_slug: str) -> UserResource:
    """The stored user as a scim2-models ``User`` (with ``id`` and ``meta``)."""
    payload = {
        **scim_user.data,
        "schemas": [User.__schema__] + ([ENTERPRISE_SCHEMA] if ENTERPRISE_SCHEMA in scim_user.data else []),
        "id": str(scim_user.scim_id),
        "userName": scim_user.user_name,
        "active": scim_user.active,
    }
    if scim_user.external_id:
        payload["externalId"] = scim_user.external_id
    groups = getattr(scim_user, "group_list", None)
    if groups:
        payload["groups"] = [
            {"value": str(g.scim_id), "display": g.display_name, "$ref": f"{base_url(org_slug)}/Groups/{g.scim_id}"}
            for g in groups
        ]
    model = UserResource.model_validate(payload, scim_ctx=Context.DEFAULT)
    model.meta = Meta(
        resource_type="User",
        created=scim_user.created_at,
        last_modified=scim_user.updated_at,
        location=f"{base_url(org_slug)}/Users/{scim_user.scim_id}",
        version=etag(scim_user.version),
    )
    return model


def group_model(group: ScimGroup, org_slug: str, members: list[ScimUser] | None = None) -> Group:
    """The stored group as a scim2-models ``Group`` (members as ``value``/``display``/``$ref``)."""
    members = list(group.members.all()) if members is None else members
    payload: dict[str, Any] = {
        "schemas": [Group.__schema__],
        "id": str(group.scim_id),
        "displayName": group.display_name,
    }
    if group.external_id:
        payload["externalId"] = group.external_id
    if members:
        payload["members"] = [
            {
                "value": str(m.scim_id),
                "display": m.user_name,
                "type": "User",
                "$ref": f"{base_url(org_slug)}/Users/{m.scim_id}",
            }
            for m in members
        ]
    model = Group.model_validate(payload, scim_ctx=Context.DEFAULT)
    model.meta = Meta(
        resource_type="Group",
        created=group.created_at,
        last_modified=group.updated_at,
        location=f"{base_url(org_slug)}/Groups/{group.scim_id}",
        version=etag(group.version),
    )
    return model


def dump(model: Any, parameters: ResponseParameters | None = None) -> dict[str, Any]:
    """``model`` as a query response (RFC 7644 §3.4.2.5 attributes/excludedAttributes applied)."""
    return model.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters)
