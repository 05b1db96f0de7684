"""What every completion purpose shares: the ``Outcome`` of completing an IdP answer, the linked identity an
answer names (``find_identity``), the organizations completing it may write to (the ``@audited`` scope), and
``refuse`` for the refusals they raise."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection as db
from django.http import HttpRequest

from orgsecurity.models import Membership, User
from orgsecurity.rows import ModelColumns, column, table
from sso.assertion import AssertedIdentity
from sso.errors import SSOSignInRefused
from sso.models import SSOConnection, SSOIdentity, SSOPendingLogin, SSOTestRun


@dataclass(frozen=True)
class Outcome:
    """What completing an SSO answer did: ``kind`` is signed_in, linked, link_held (waiting for the person to
    confirm an IdP email that is not theirs), tested or reauthenticated; ``redirect_to`` is where the browser goes
    next."""

    kind: str
    redirect_to: str
    user: User | None = None
    test_run: SSOTestRun | None = None


def refuse(message: str, code: str, status: int = 403) -> SSOSignInRefused:
    """The refusal to raise when an answer cannot be used: ``message`` for the person, a stable ``code``."""
    return SSOSignInRefused(message, code=code, status=status)


def find_identity(connection: SSOConnection, identity: AssertedIdentity) -> SSOIdentity | None:
    """The link of ``identity`` (issuer, subject format, subject) at ``connection``, with its user and, as
    ``member_role``, the user's role in the connection's organization (None: not a member); None if unlinked. One
    query, written as SQL built from the models (``_identity_query``) because every SSO sign-in runs it."""
    sql, columns = _identity_query()
    with db.cursor() as cursor:
        cursor.execute(
            sql,
            [connection.organization_id, connection.pk, identity.issuer, identity.subject_format, identity.subject],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    link, user = columns.instances(row)
    link.user = user
    link.member_role = row[columns.width]
    return link


@cache
def _identity_query() -> tuple[str, ModelColumns]:
    columns = ModelColumns((SSOIdentity, "i"), (User, "u"))
    user_id = column(SSOIdentity, "user")
    sql = (
        f"SELECT {columns.sql}, "  # noqa: S608 (names from model metadata, values are parameters)
        f"(SELECT m.{column(Membership, 'role')} FROM {table(Membership)} m "
        f"WHERE m.{column(Membership, 'organization')} = %s AND m.{column(Membership, 'user')} = i.{user_id} "
        f"AND m.{column(Membership, 'suspended_at')} IS NULL LIMIT 1) "
        f"FROM {table(SSOIdentity)} i JOIN {table(User)} u ON u.{column(User, 'id')} = i.{user_id} "
        f"WHERE i.{column(SSOIdentity, 'connection')} = %s AND i.{column(SSOIdentity, 'issuer')} = %s "
        f"AND i.{column(SSOIdentity, 'subject_format')} = %s AND i.{column(SSOIdentity, 'subject')} = %s "
        f"ORDER BY i.{column(SSOIdentity, 'id')} LIMIT 1"
    )
    return sql, columns


def organizations_signed_in(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, *args: Any
) -> list[int]:
    """The organizations an SSO answer may write to (the ``@audited`` scope of completing it): the connection's, and
    every organization of the person it signs in, whose logs each get ``auth.signed_in``. Completing it changes
    the browser's session too, so it is never run twice (``attempts=1``)."""
    if pending.purpose == SSOPendingLogin.Purpose.TEST and pending.user_id is not None:
        memberships, parameters = _memberships_sql(linked=False), [pending.user_id]
    else:  # the person the identity is linked to, in the same query as their memberships
        memberships = _memberships_sql(linked=True)
        parameters = [pending.connection_id, identity.issuer, identity.subject_format, identity.subject]
    with db.cursor() as cursor:
        cursor.execute(memberships, parameters)
        return [pending.connection.organization_id, *(organization_id for (organization_id,) in cursor.fetchall())]


@cache
def _memberships_sql(linked: bool) -> str:
    """The organization ids of a person's memberships. Parameter: the user id; with ``linked``, instead the
    connection id, issuer, subject format and subject of the identity linked to the person."""
    person = "%s"
    if linked:
        person = (
            f"(SELECT i.{column(SSOIdentity, 'user')} FROM {table(SSOIdentity)} i "  # noqa: S608 (model names)
            f"WHERE i.{column(SSOIdentity, 'connection')} = %s AND i.{column(SSOIdentity, 'issuer')} = %s "
            f"AND i.{column(SSOIdentity, 'subject_format')} = %s AND i.{column(SSOIdentity, 'subject')} = %s "
            f"LIMIT 1)"
        )
    return (
        f"SELECT m.{column(Membership, 'organization')} FROM {table(Membership)} m "  # noqa: S608 (model names)
        f"WHERE m.{column(Membership, 'user')} = {person} AND m.{column(Membership, 'suspended_at')} IS NULL"
    )
