"""The ACS's one read: a pending login with its connection, organization and SAML settings, by the request ID.

Every SAML sign-in runs it, and bench/saml_acs.py holds the ACS to 3x python3-saml's own validation; composing
this four-table select_related query through the ORM cost more than the database spent running it. So the SQL is
built once from the models' metadata and the rows become model instances with the ORM's own converters and
``Model.from_db``, exactly as a queryset would make them. No value is ever formatted into the SQL.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection as db
from django.db.models import Model

from orgsecurity.models import Organization
from sso.models import SAMLSettings, SSOConnection, SSOPendingLogin

_MODELS: tuple[tuple[type[Model], str], ...] = (
    (SSOPendingLogin, "p"),
    (SSOConnection, "c"),
    (Organization, "o"),
    (SAMLSettings, "s"),
)


@cache
def _query() -> tuple[str, tuple[tuple[type[Model], list[str], list[tuple[Any, list]]], ...]]:
    quote = db.ops.quote_name
    columns, layout = [], []
    for model, alias in _MODELS:
        fields = list(model._meta.concrete_fields)
        columns += [f"{alias}.{quote(field.column)}" for field in fields]
        converters = []
        for field in fields:
            expression = field.get_col(alias)
            converters.append((expression, db.ops.get_db_converters(expression) + expression.get_db_converters(db)))
        layout.append((model, [field.attname for field in fields], converters))
    table = {model: quote(model._meta.db_table) for model, _ in _MODELS}
    sql = (
        f"SELECT {', '.join(columns)} FROM {table[SSOPendingLogin]} p "  # noqa: S608 (names from model metadata)
        f"JOIN {table[SSOConnection]} c ON c.{quote('id')} = p.{quote('connection_id')} "
        f"JOIN {table[Organization]} o ON o.{quote('id')} = c.{quote('organization_id')} "
        f"JOIN {table[SAMLSettings]} s ON s.{quote('connection_id')} = c.{quote('id')} "
        f"WHERE p.{quote('key')} = %s"
    )
    return sql, tuple(layout)


def pending_with_saml_connection(key: str) -> SSOPendingLogin | None:
    """The pending login whose key is ``key`` (a SAML AuthnRequest ID), with ``.connection`` (its
    ``.organization`` and ``.saml`` loaded) — or None when there is none, or its connection has no SAML settings."""
    sql, layout = _query()
    with db.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    instances, offset = [], 0
    for model, names, converters in layout:
        values = list(row[offset : offset + len(names)])
        offset += len(names)
        for index, (expression, functions) in enumerate(converters):
            for convert in functions:
                values[index] = convert(values[index], expression, db)
        instances.append(model.from_db(db.alias, names, values))
    pending, connection, organization, saml = instances
    connection.organization = organization
    connection.saml = saml
    pending.connection = connection
    return pending
