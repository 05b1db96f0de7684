"""What every completion purpose shares: the ``Outcome`` of completing an IdP answer, the linked identity an
answer names (``find_identity``), the organizations completing it may write to (the ``@audited`` scope), and
``refuse`` for the refusals they raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest

from orgsecurity.models import Membership, User
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
    query."""
    role = (
        Membership.objects.active()
        .filter(organization=connection.organization_id, user=OuterRef("user_id"))
        .values("role")
    )
    return _links(connection, identity).select_related("user").annotate(member_role=Subquery(role[:1])).first()


def _links(connection: SSOConnection, identity: AssertedIdentity):
    """The links of ``identity`` at ``connection`` (at most one: they are unique), a queryset."""
    return SSOIdentity.objects.filter(
        connection=connection, issuer=identity.issuer, subject_format=identity.subject_format, subject=identity.subject
    )


def organizations_signed_in(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, *args: Any
) -> list[int]:
    """The organizations an SSO answer may write to (the ``@audited`` scope of completing it): the connection's, and
    every organization of the person it signs in, whose logs each get ``auth.signed_in``. Completing it changes
    the browser's session too, so it is never run twice (``attempts=1``)."""
    organizations = [pending.connection.organization_id]
    if pending.purpose == SSOPendingLogin.Purpose.TEST and pending.user_id is not None:
        person = pending.user_id
    else:  # the person the identity is linked to, in the same query as their memberships
        person = _links(pending.connection, identity).values("user_id")[:1]
    return organizations + list(
        Membership.objects.active().filter(user_id=person).values_list("organization_id", flat=True)
    )
