"""The admin API under ``/api/v1/``: ``NinjaAPI`` with key authentication (``adminapi.access.KeyAuth``), JSON
errors (``adminapi.errors``), the generated OpenAPI 3.1 schema at ``/api/v1/openapi.json`` and its reference page
at ``/api/v1/docs`` (Swagger UI from django-ninja's own static files, nothing from a CDN).

The ``api`` object lives in ``adminapi.core``; each resource's operations live in their own module under
``adminapi.routes`` and register on it when imported here. Every write calls the same action function as the
dashboard page, so the same refusals apply with the same codes, audited with the key as actor. See the README's
"Admin API" section.
"""

from adminapi.core import api
from adminapi.routes import (  # noqa: F401  (each module registers its operations on ``api``)
    allowlist,
    audit,
    audit_exports,
    audit_streams,
    domains,
    invitations,
    key_policy,
    keys,
    members,
    recovery,
    scim,
    security,
    service_accounts,
    session_policy,
    sso,
)

__all__ = ["api"]
