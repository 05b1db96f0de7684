"""What an SSO change would take away, before it is made (``orgsecurity.impact.Impact``; read-only).

- ``preview_status_change``: moving a connection down (to off, or from on/enforced to testing): the people who can
  sign in through it now and could not afterwards (``sso.rollout.readiness.sign_in_allowed``, what the sign-in
  decision judges with), and those of them with no password, who cannot sign in at all until they set one
  (``sso.connections.actions.set_status`` / ``rollback``).
- ``preview_rollback``: the rollout page's "Roll back to testing" (or off) from on or enforced
  (``sso.connections.actions.rollback``): ``preview_status_change`` plus the members not linked yet who could be
  linked at their first SSO sign-in and no longer can, and what else stops (JIT, a scheduled enforcement).
- ``preview_unlink``: unlinking one identity (``sso.connections.actions.unlink_identity``).
- ``preview_remove_domain``: removing a claimed or verified domain (``sso.domains.verification.remove``): the members
  whose email is in it lose home-realm discovery (email-first sign-in routing them to the IdP) and being linked by
  email; JIT stops creating accounts for it.
"""

from __future__ import annotations

from orgsecurity.impact import Impact, ImpactGroup, ImpactItem
from orgsecurity.models import Membership, User
from sso.domains.verification import email_domain
from sso.models import SSOConnection, SSOIdentity, VerifiedDomain
from sso.rollout import readiness
from sso.signin.decision import EMAIL_LINKABLE_ROLES

NO_PASSWORD = "has no password: cannot sign in until they set one with “Forgot password”"  # noqa: S105 (a sentence)


def _label(connection: SSOConnection) -> str:
    return connection.name or connection.get_protocol_display()


def _could_sign_in(connection: SSOConnection, status: str, user: User) -> bool:
    """Whether ``user`` may sign in through ``connection`` were its status ``status`` (readiness.sign_in_allowed)."""
    if status in {SSOConnection.Status.ON, SSOConnection.Status.ENFORCED}:
        return True
    if status == SSOConnection.Status.TESTING:
        return readiness.in_test_group(connection, user)
    return False


def preview_status_change(connection: SSOConnection, status: str) -> Impact:
    """Moving ``connection`` from its current status to ``status`` (an ``SSOConnection.Status`` value), now.

    Groups: ``people`` (ref: user id): members with an identity linked to the connection who may sign in through it
    now and may not after the move, ordered by email; ``no_password``: those of them without a usable password.
    ``Impact.change`` is "sso.status". A move up (off → testing, testing → on) affects nobody: both groups are empty.
    """
    organization = connection.organization
    members = set(Membership.objects.active().filter(organization=organization).values_list("user_id", flat=True))
    linked = (
        SSOIdentity.objects.filter(connection=connection, user_id__in=members)
        .select_related("user")
        .order_by("user__email")
    )
    losing: list[SSOIdentity] = [
        identity
        for identity in linked
        if _could_sign_in(connection, connection.status, identity.user)
        and not _could_sign_in(connection, status, identity.user)
    ]
    people = tuple(
        ImpactItem(
            ref=str(identity.user_id),
            name=identity.user.email,
            detail=f"linked as {identity.subject}: "
            + ("signs in with their password from now on" if identity.user.has_usable_password() else NO_PASSWORD),
        )
        for identity in losing
    )
    without = tuple(
        ImpactItem(ref=str(identity.user_id), name=identity.user.email, detail=NO_PASSWORD)
        for identity in losing
        if not identity.user.has_usable_password()
    )
    target = SSOConnection.Status(status).label
    notes = [f"{_label(connection)} goes from {connection.get_status_display()} to {target}."]
    if status == SSOConnection.Status.OFF:
        notes.append("Nobody can start a sign-in through it; sessions already open stay open until they time out.")
    return Impact(
        change="sso.status",
        groups=(
            ImpactGroup(
                "people",
                "People who lose SSO sign-in",
                f"They can no longer sign in to {organization.name} through {_label(connection)}.",
                people,
            ),
            ImpactGroup(
                "no_password",
                "People with no password",
                "They signed up through SSO (or had their password removed): they must reset their password "
                "before they can sign in again.",
                without,
            ),
        ),
        notes=tuple(notes),
    )


def preview_rollback(connection: SSOConnection, to: str = SSOConnection.Status.TESTING) -> Impact:
    """Rolling ``connection`` back from on or enforced to ``to`` (testing or off), now
    (``sso.connections.actions.rollback``). ``Impact.change`` is "sso.rollback".

    Groups: ``people`` and ``no_password`` as in ``preview_status_change`` (linked members who lose SSO sign-in:
    with ``to`` testing, those outside the test group, judged with ``sso.rollout.readiness.in_test_group``);
    ``unlinked`` (ref: user id): members not linked yet whom their first SSO sign-in would link by verified email
    (a role in ``sso.signin.decision.EMAIL_LINKABLE_ROLES``, an email in a domain the organization verified) and who
    lose that (outside the test group). Notes say what else changes: password sign-in for everyone, JIT stops
    creating accounts, a scheduled enforcement is dropped, open sessions stay open, who keeps SSO sign-in.
    """
    moved = preview_status_change(connection, to)
    organization = connection.organization
    rolling_back = connection.status in (SSOConnection.Status.ON, SSOConnection.Status.ENFORCED)
    linked = set(SSOIdentity.objects.filter(connection=connection).values_list("user_id", flat=True))
    verified = set(
        VerifiedDomain.objects.filter(organization=organization, verified_at__isnull=False).values_list(
            "domain", flat=True
        )
    )
    candidates = (
        Membership.objects.active()
        .filter(organization=organization, role__in=EMAIL_LINKABLE_ROLES)
        .exclude(user_id__in=linked)
        .select_related("user")
        .order_by("user__email")
    )
    unlinked = tuple(
        ImpactItem(
            ref=str(membership.user_id),
            name=membership.user.email,
            detail="not linked yet: their first SSO sign-in would have linked them by email; it is refused now"
            + ("" if membership.user.has_usable_password() else f"; {NO_PASSWORD}"),
        )
        for membership in candidates
        if rolling_back
        and email_domain(membership.user.email) in verified
        and not _could_sign_in(connection, to, membership.user)
    )
    notes = list(moved.notes)
    if rolling_back:
        notes.append("Password sign-in works again for everyone who has a password.")
    if to == SSOConnection.Status.TESTING:
        keeping = [
            membership.user.email for membership in readiness.test_group_memberships(connection).select_related("user")
        ]
        notes.append(
            f"The test group keeps SSO sign-in: {', '.join(keeping)}."
            if keeping
            else "The test group is empty: nobody can sign in through SSO until you add people to it."
        )
        if connection.allow_jit:
            notes.append("Just-in-time provisioning stops: the IdP's sign-ins no longer create accounts while testing.")
        notes.append("Sessions already open stay open until they time out or are ended.")
    if connection.enforce_at:
        notes.append(f"The enforcement scheduled for {connection.enforce_at:%Y-%m-%d %H:%M} UTC is cancelled.")
    group = ImpactGroup(
        "unlinked",
        "People not linked yet who lose linking at first sign-in",
        f"Members below admin with an email in a verified domain of {organization.name} are linked when they first "
        "sign in through the IdP; after the change they are refused instead.",
        unlinked,
    )
    return Impact(change="sso.rollback", groups=(*moved.groups, group), notes=tuple(notes))


def preview_unlink(linked: SSOIdentity) -> Impact:
    """Unlinking ``linked`` (a person's IdP identity at one connection): that person (ref: user id) no longer signs
    in through it; noted when they have no password or SSO is enforced. ``Impact.change`` is "sso.unlink"."""
    user, connection = linked.user, linked.connection
    detail = f"no longer signs in as {linked.subject} through {_label(connection)}"
    if not user.has_usable_password():
        detail += f"; {NO_PASSWORD}"
    notes = ["Their API keys in this organization are flagged for review."]
    if connection.status == SSOConnection.Status.ENFORCED:
        notes.append(
            "SSO is enforced: their next SSO sign-in links them again when the IdP vouches for an email in a "
            "verified domain and they are below admin; otherwise they must link again (Link SSO)."
        )
    group = ImpactGroup(
        "people",
        "The person",
        "Signing in through the IdP with this identity no longer opens their account.",
        (ImpactItem(ref=str(user.pk), name=user.email, detail=detail),),
    )
    return Impact(change="sso.unlink", groups=(group,), notes=tuple(notes))


def preview_remove_domain(claimed: VerifiedDomain) -> Impact:
    """Removing ``claimed`` from its organization. For a verified domain, ``people`` (ref: user id, by email): the
    members whose email is in it, who lose home-realm discovery (email-first sign-in sends them to the password
    form) and, when not linked yet, being linked by email on their first SSO sign-in; a note says JIT stops
    creating accounts for it when a connection allows JIT. A claim not yet verified affects nobody.
    ``Impact.change`` is "sso.domain_remove"."""
    organization = claimed.organization
    if not claimed.is_verified:
        group = ImpactGroup("people", "People who lose home-realm discovery", "Nobody: the domain is not verified.")
        return Impact(change="sso.domain_remove", groups=(group,))
    memberships = (
        Membership.objects.active()
        .filter(organization=organization, user__email__iendswith=f"@{claimed.domain}")
        .select_related("user")
        .order_by("user__email")
    )
    linked = set(SSOIdentity.objects.filter(connection__organization=organization).values_list("user_id", flat=True))
    people = tuple(
        ImpactItem(
            ref=str(membership.user_id),
            name=membership.user.email,
            detail="email-first sign-in no longer sends them to the IdP"
            + ("" if membership.user_id in linked else "; not linked yet, so no longer linked by email at SSO sign-in"),
        )
        for membership in memberships
        if email_domain(membership.user.email) == claimed.domain
    )
    notes = []
    if SSOConnection.objects.filter(organization=organization, allow_jit=True).exists():
        notes.append(f"Just-in-time provisioning stops creating accounts for people @{claimed.domain}.")
    notes.append("Another organization can then verify the domain.")
    group = ImpactGroup(
        "people",
        "People who lose home-realm discovery",
        f"Typing their @{claimed.domain} address at sign-in shows the password form instead of your IdP.",
        people,
    )
    return Impact(change="sso.domain_remove", groups=(group,), notes=tuple(notes))
