"""What every completion purpose shares: the ``Outcome`` of completing an IdP answer, the linked identity an
answer names (``find_identity``), the organizations completing it may write to (the ``@audited`` scope), and
``refuse`` for the refusals they raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    """The link of ``identity`` (issuer, subject format, subject) at ``connection``, with its user; None if unlinked."""
    return (
        SSOIdentity.objects.select_related("user")
        .filter(
            connection=connection,
            issuer=identity.issuer,
            subject_format=identity.subject_format,
            subject=identity.subject,
        )
        .first()
    )


def organizations_signed_in(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, *args: Any
) -> list[int]:
    """The organizations an SSO answer may write to (the ``@audited`` scope of completing it): the connection's, and
    every organization of the person it signs in, whose logs each get ``auth.signed_in``. Completing it changes
    the browser's session too, so it is never run twice (``attempts=1``)."""
    person = pending.user_id if pending.purpose == SSOPendingLogin.Purpose.TEST else None
    if person is None:
        linked = find_identity(pending.connection, identity)
        person = linked.user_id if linked is not None else None
    organizations = [pending.connection.organization_id]
    if person is not None:
        organizations += Membership.objects.filter(user_id=person).values_list("organization_id", flat=True)
    return organizations
