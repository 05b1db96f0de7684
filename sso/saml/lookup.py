"""The ACS's one read: a pending login with its connection, organization and SAML settings, by the request ID.

Every SAML sign-in runs it, and bench/saml_acs.py holds the ACS to 3x python3-saml's own validation; composing
this four-table select_related query through the ORM cost more than the database spent running it. So the SQL is
built once from the models' metadata and the rows become model instances with the ORM's own converters and
``Model.from_db`` (``orgsecurity.rows``), exactly as a queryset would make them. No value is ever formatted into the
SQL.
"""

from __future__ import annotations

from functools import cache

from django.db import connection as db

from orgsecurity.models import Organization
from orgsecurity.rows import ModelColumns, column, table
from sso.models import SAMLSettings, SSOConnection, SSOPendingLogin


@cache
def _query() -> tuple[str, ModelColumns]:
    columns = ModelColumns((SSOPendingLogin, "p"), (SSOConnection, "c"), (Organization, "o"), (SAMLSettings, "s"))
    sql = (
        f"SELECT {columns.sql} FROM {table(SSOPendingLogin)} p "  # noqa: S608 (names from model metadata)
        f"JOIN {table(SSOConnection)} c ON c.{column(SSOConnection, 'id')} = p.{column(SSOPendingLogin, 'connection')} "
        f"JOIN {table(Organization)} o ON o.{column(Organization, 'id')} = c.{column(SSOConnection, 'organization')} "
        f"JOIN {table(SAMLSettings)} s ON s.{column(SAMLSettings, 'connection')} = c.{column(SSOConnection, 'id')} "
        f"WHERE p.{column(SSOPendingLogin, 'key')} = %s"
    )
    return sql, columns


def pending_with_saml_connection(key: str) -> SSOPendingLogin | None:
    """The pending login whose key is ``key`` (a SAML AuthnRequest ID), with ``.connection`` (its
    ``.organization`` and ``.saml`` loaded) — or None when there is none, or its connection has no SAML settings."""
    sql, columns = _query()
    with db.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    pending, connection, organization, saml = columns.instances(row)
    connection.organization = organization
    connection.saml = saml
    pending.connection = connection
    return pending
