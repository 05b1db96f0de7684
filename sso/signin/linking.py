"""Which email a link joins, links held for the person's confirmation, and links whose emails differ (for review).

An IdP identity is linked on (issuer, subject format, subject), never on email
(``sso.signin.answer.find_identity``). The email guards against linking the wrong person: an admin who runs Test SSO
and signs in at the IdP as a colleague must not make the colleague's IdP identity a way into the admin's account. So
a link whose asserted email is not the account's waits for that person's confirmation on a page that shows both
(``SSOPendingLink``), and one asserting the email of another member of the organization is refused. Emails compare
in their canonical form (``sso.domains.verification.canonical_email``: case-insensitive, IDNA 2008 domains).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import F
from django.utils import timezone

from orgsecurity.models import Membership, Organization, User
from sso.domains.verification import canonical_email
from sso.models import SSOConnection, SSOIdentity, SSOPendingLink, SSOPendingLogin

# How long the person has to confirm a held link after the IdP answered.
CONFIRM_TTL = timedelta(minutes=10)
# Held links stay this long after they expire (the test run page reads their outcome), then are purged.
KEEP_RESOLVED = timedelta(days=1)

SAME, DIFFERENT, OTHER_MEMBER = "same", "different", "other_member"


@dataclass(frozen=True)
class LinkEmails:
    """The two emails a link joins: ``asserted`` by the IdP ('' when it sent none) and the ``account``'s.

    ``verdict`` is ``SAME`` (canonically equal), ``OTHER_MEMBER`` (the asserted email is that of another member
    of the organization: never linked) or ``DIFFERENT`` (linked only after the person confirms).
    """

    asserted: str
    account: str
    verdict: str

    @property
    def asserted_label(self) -> str:
        return self.asserted or "(no email sent)"


def other_member_email(organization: Organization, email: str, *, excluding: User) -> str:
    """The email of a member of ``organization`` other than ``excluding`` that canonically equals ``email``
    (e.g. ``Mia@ACME.test.`` for mia@acme.test), or ''."""
    wanted = canonical_email(email)
    if not wanted:
        return ""
    local = wanted.rpartition("@")[0]
    # Stored emails are lower case, so candidates share the local part; their domains are compared canonically.
    candidates = (
        Membership.objects.active()
        .filter(organization=organization, user__email__startswith=f"{local}@")
        .exclude(user=excluding)
        .values_list("user__email", flat=True)
    )
    return next((candidate for candidate in candidates if canonical_email(candidate) == wanted), "")


def compare_emails(connection: SSOConnection, user: User, asserted_email: str) -> LinkEmails:
    """Compare the email the IdP asserted (already mapped with the connection's attribute map) with ``user``'s,
    and with the emails of the other members of the connection's organization."""
    if asserted_email and canonical_email(asserted_email) == canonical_email(user.email):
        return LinkEmails(asserted_email, user.email, SAME)
    if asserted_email and other_member_email(connection.organization, asserted_email, excluding=user):
        return LinkEmails(asserted_email, user.email, OTHER_MEMBER)
    return LinkEmails(asserted_email, user.email, DIFFERENT)


def hold_link(pending: SSOPendingLogin, identity_data: dict[str, Any], emails: LinkEmails) -> SSOPendingLink:
    """Keep the validated answer of ``pending`` (a link or test round trip, its identity as
    ``AssertedIdentity.to_dict`` gives it) until ``pending.user`` confirms or declines linking it, in the same
    browser, within ``CONFIRM_TTL``. Purges held links past ``KEEP_RESOLVED``."""
    now = timezone.now()
    SSOPendingLink.objects.filter(expires_at__lt=now - KEEP_RESOLVED).delete()
    return SSOPendingLink.objects.create(
        connection=pending.connection,
        user=pending.user,
        test_run=pending.test_run,
        identity=identity_data,
        asserted_email=emails.asserted,
        browser_binding=pending.browser_binding,
        next_url=pending.next_url,
        created_at=now,
        expires_at=now + CONFIRM_TTL,
    )


def is_open(held: SSOPendingLink) -> bool:
    """Whether ``held`` can still be confirmed or declined: not used yet and not expired."""
    return held.resolved_at is None and held.expires_at > timezone.now()


def held_for_test_run(test_run_id: int) -> SSOPendingLink | None:
    """The link a test run held for confirmation, if any (the test run page says what became of it)."""
    return SSOPendingLink.objects.filter(test_run_id=test_run_id).order_by("-created_at").first()


def identities_for_review(organization: Organization) -> list[SSOIdentity]:
    """Linked identities of ``organization`` whose asserted email is not their account's email (canonically),
    or is unknown (linked before the asserted email was kept), ordered by account email."""
    linked = (
        SSOIdentity.objects.filter(connection__organization=organization)
        .exclude(asserted_email=F("user__email"), asserted_email_at__isnull=False)  # the usual case, in SQL
        .select_related("user", "connection")
        .order_by("user__email", "pk")
    )
    return [
        identity
        for identity in linked
        if identity.asserted_email_at is None
        or canonical_email(identity.asserted_email) != canonical_email(identity.user.email)
    ]
