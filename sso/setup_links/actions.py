"""Action functions of IdP set-up links: create, revoke, bind to a browser, and what the IdP admin may do through
one (enter the IdP's details of its connection, start a test sign-in). Each is audited in its transaction; the
IdP admin's actions name the link as actor (``audit.models.ActorType.SETUP_LINK``).

What a link can never do is not checked here one action at a time: the link's views call only the functions of
this module, and none of them changes a status, enforces, links an identity or reads members.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

import audit
from audit.locking import audited
from audit.recorder import Actor, record_throttled
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership, Organization, User
from orgsecurity.roles import Role
from sso.connections import actions as sso_actions
from sso.models import SSOConnection, SSOSetupLink, SSOTestRun

TOKEN_PREFIX = "ossl_"  # noqa: S105 (the prefix people recognise a set-up link by, not a secret)
DEFAULT_DAYS = 7
MAX_DAYS = 7
# The statuses in which a link may be made and may change the IdP's details: before SSO is on for everyone. Once
# members sign in through the connection, its IdP is changed by an owner or admin, who can see what it affects.
SETUP_STATUSES = frozenset({SSOConnection.Status.OFF, SSOConnection.Status.TESTING})
# One refusal event per link (or token prefix) and reason per window.
REFUSAL_AUDIT_WINDOW_SECONDS = 300


def hash_token(token: str) -> str:
    """HMAC-SHA-256 (RFC 2104) of ``token`` under ``settings.KEY_HASH_SECRET`` with this purpose's label, as 64
    hex characters: what is stored, so a copy of the database opens no set-up."""
    return hmac.new(settings.KEY_HASH_SECRET, b"sso-setup-link:" + token.encode(), hashlib.sha256).hexdigest()


def binding_hash(value: str) -> str:
    """SHA-256 hex of a browser's binding value (the random value its signed cookie carries)."""
    return hashlib.sha256(value.encode()).hexdigest()


def link_actor(link: SSOSetupLink) -> Actor:
    """The audit actor of everything done through ``link``: not a person, the link itself."""
    return sso_actions.setup_link_actor(link)


def link_url(organization_slug: str, token: str) -> str:
    """The absolute URL to hand out (built from PUBLIC_BASE_URL)."""
    return settings.PUBLIC_BASE_URL + reverse("sso_public:setup_open", args=[organization_slug, token])


def _refuse_unless_setup_status(connection: SSOConnection) -> None:
    if connection.status not in SETUP_STATUSES:
        raise ActionRefused(
            f"SSO is {connection.get_status_display().lower()} on this connection, so its IdP settings are changed "
            "by an owner or admin here, not through a set-up link. Move it back to testing first.",
            code="setup_not_allowed",
            status=409,
        )


def _refuse_maker_gone(connection: SSOConnection, maker: Any) -> None:
    """A link acts for whoever made it: refuse (403 ``maker_gone``) when ``maker`` is gone or is no longer an
    active owner or admin of the connection's organization. A link whose maker is gone acts for nobody."""
    if (
        maker is None
        or not Membership.objects.active()
        .filter(organization_id=connection.organization_id, user=maker, role__in=[Role.OWNER, Role.ADMIN])
        .exists()
    ):
        raise ActionRefused(
            "The person who made this set-up link no longer manages this organization's security, so the link "
            "can change nothing. Ask an owner for a new link.",
            code="maker_gone",
            status=403,
        )


def _refuse_over_owners(connection: SSOConnection, maker: Any) -> None:
    """An admin's link may not change the IdP an owner signs in through
    (``sso.connections.actions.refuse_idp_change_over_owners``)."""
    sso_actions.refuse_idp_change_over_owners(connection, actor=maker, changed=set(sso_actions.IDP_TRUST_FIELDS))


@audited("connection")
def create_link(
    connection: SSOConnection, *, actor: User, days: int = DEFAULT_DAYS, recipient: str = ""
) -> tuple[SSOSetupLink, str]:
    """Make a set-up link for ``connection`` valid ``days`` (1 to 7) days; returns the link and its secret URL,
    to show once. Raises ActionRefused for another duration, a connection already on or enforced, or when
    ``actor`` could not change the connection's IdP themselves (an admin, on a connection an owner signs in
    through)."""
    if not 1 <= days <= MAX_DAYS:
        raise ActionRefused(f"A set-up link lasts 1 to {MAX_DAYS} days.", code="bad_days")
    with transaction.atomic():
        connection = (
            SSOConnection.objects.select_for_update(of=("self",)).select_related("organization").get(pk=connection.pk)
        )
        _refuse_unless_setup_status(connection)
        _refuse_maker_gone(connection, actor)
        _refuse_over_owners(connection, actor)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        link = SSOSetupLink.objects.create(
            connection=connection,
            token_hash=hash_token(token),
            recipient=recipient.strip()[:100],
            created_by=actor,
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit.record(
            "sso.setup_link_created",
            organization=connection.organization,
            actor=actor,
            target=connection,
            details={
                "link": link.pk,
                "recipient": link.recipient,
                "expires_at": link.expires_at.isoformat(),
                "days": days,
            },
        )
    return link, link_url(connection.organization.slug, token)


@audited("link.connection")
def revoke_link(link: SSOSetupLink, *, actor: User) -> SSOSetupLink:
    """Revoke ``link`` at once: its browser is refused from the next request. Raises ActionRefused when it was
    already revoked."""
    with transaction.atomic():
        link = (
            SSOSetupLink.objects.select_for_update(of=("self",))
            .select_related("connection__organization")
            .get(pk=link.pk)
        )
        if link.revoked_at is not None:
            raise ActionRefused("This set-up link was already revoked.", code="already_revoked", status=409)
        link.revoked_at, link.revoked_by = timezone.now(), actor
        link.save(update_fields=["revoked_at", "revoked_by"])
        audit.record(
            "sso.setup_link_revoked",
            organization=link.connection.organization,
            actor=actor,
            target=link.connection,
            details={"link": link.pk, "recipient": link.recipient, "opened": link.opened_at is not None},
        )
    return link


@audited("organization")
def create_connection_with_link(
    organization: Organization,
    *,
    actor: User,
    protocol: str,
    name: str = "",
    days: int = DEFAULT_DAYS,
    recipient: str = "",
) -> tuple[SSOSetupLink, str]:
    """Make a connection of ``protocol`` (status off, no IdP yet) and a set-up link for it, in one transaction:
    the IdP admin enters the IdP's details through the link. Returns what ``create_link`` returns; raises
    ActionRefused as ``create_connection`` and ``create_link`` do (then nothing is made)."""
    with transaction.atomic():
        connection = sso_actions.create_connection(organization, actor=actor, protocol=protocol, name=name)
        return create_link(connection, actor=actor, days=days, recipient=recipient)


def find_link(org_slug: str, token: str) -> SSOSetupLink | None:
    """The link of organization ``org_slug`` whose secret is ``token`` (any state), or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    return (
        SSOSetupLink.objects.select_related("connection__organization", "created_by")
        .filter(token_hash=hash_token(token), connection__organization__slug=org_slug)
        .first()
    )


@audited("link.connection")
def bind_link(link: SSOSetupLink, *, binding: str, ip: str | None) -> bool:
    """Bind an unused, usable ``link`` to the browser holding ``binding`` (its random cookie value); True when this
    browser got it, False when another browser bound it first (one conditional UPDATE decides). Audited as the
    link opening."""
    with transaction.atomic():
        now = timezone.now()
        bound = SSOSetupLink.objects.filter(pk=link.pk, browser_binding="", revoked_at=None, expires_at__gt=now).update(
            browser_binding=binding_hash(binding), opened_at=now
        )
        if bound:
            audit.record(
                "sso.setup_link_opened",
                organization=link.connection.organization,
                actor=link_actor(link),
                target=link.connection,
                details={"link": link.pk, "ip": ip or "unknown"},
            )
    return bool(bound)


def note_refusal(link: SSOSetupLink, reason: str, *, ip: str | None) -> None:
    """Audit (throttled per link, reason and IP) that a browser was refused through ``link``: ``other_browser``,
    ``expired``, ``revoked`` or ``ip_not_allowed``."""
    record_throttled(
        "sso.setup_link_refused",
        throttle_key=f"{link.pk}:{reason}:{ip}",
        window_seconds=REFUSAL_AUDIT_WINDOW_SECONDS,
        organization=link.connection.organization,
        actor=link_actor(link),
        target=link.connection,
        details={"link": link.pk, "reason": reason, "ip": ip or "unknown"},
    )


def usable_link(link: SSOSetupLink) -> SSOSetupLink:
    """``link`` reloaded with its connection, for any action taken through it (changing the IdP details, choosing
    a preset, starting or completing a test sign-in): the one place every such action passes. Raises
    ActionRefused when it was revoked or expired meanwhile (410 ``link_revoked``/``link_expired``), or when its
    maker is no longer an active owner or admin of the organization (403 ``maker_gone``)."""
    fresh = SSOSetupLink.objects.select_related("connection__organization", "created_by").get(pk=link.pk)
    if not fresh.is_usable():
        raise ActionRefused("This set-up link is no longer valid.", code=f"link_{fresh.state()}", status=410)
    _refuse_maker_gone(fresh.connection, fresh.created_by)
    return fresh


def update_saml_idp(link: SSOSetupLink, *, idp: Any, source: str, metadata_url: str | None) -> dict[str, list[Any]]:
    """Through ``link``: replace the IdP side of its SAML connection (``sso.saml.actions.update_idp``, audited with
    the link as actor). Raises ActionRefused (nothing saved) when the link is no longer valid, the connection is on
    or enforced, or the link's maker could not change this IdP themselves."""
    from sso.saml import actions as saml_actions

    link = usable_link(link)
    connection = link.connection
    _refuse_unless_setup_status(connection)
    _refuse_over_owners(connection, link.created_by)
    return saml_actions.configure_idp(
        connection, actor=link_actor(link), idp=idp, source=f"{source} (set-up link)", metadata_url=metadata_url
    )


def update_oidc(link: SSOSetupLink, **values: Any) -> dict[str, list[Any]]:
    """Through ``link``: change the issuer and client of its OIDC connection (``sso.oidc.actions.
    update_oidc_settings`` with ``values``, audited with the link as actor). Raises ActionRefused as
    ``update_saml_idp`` does."""
    from sso.oidc import actions as oidc_actions

    link = usable_link(link)
    connection = link.connection
    _refuse_unless_setup_status(connection)
    _refuse_over_owners(connection, link.created_by)
    return oidc_actions.update_oidc_settings(connection, actor=link_actor(link), **values)


def choose_saml_preset(link: SSOSetupLink, preset: str) -> dict[str, list[Any]]:
    """Through ``link``: "which IdP do you use?": map the attributes of its SAML connection as that IdP names them
    (``sso.saml.presets``), with ``sso.connections.actions.update_connection`` audited as the link. Raises
    ActionRefused for an unknown preset, and as ``usable_link`` does or when the connection is on or enforced."""
    from sso.saml.presets import PRESETS, preset_map

    if preset not in PRESETS:
        raise ActionRefused("Choose one of the listed identity providers.", code="bad_preset")
    link = usable_link(link)
    connection = link.connection
    _refuse_unless_setup_status(connection)
    return sso_actions.update_connection(connection, actor=link_actor(link), attribute_map=preset_map(preset))


def start_test_run(link: SSOSetupLink) -> SSOTestRun:
    """Through ``link``: a pending test run of its connection (``sso.connections.actions.start_test_run``) that
    only checks the IdP's answer: no session, no link to any account, never counted toward enforcement. Raises
    ActionRefused as ``usable_link`` does."""
    link = usable_link(link)
    return sso_actions.start_test_run(link.connection, actor=None, setup_link=link)


def test_passed(run: SSOTestRun) -> None:
    """Note a passing test run of a set-up link (call inside the transaction that finished it): the link shows
    it, and the organization's owners are emailed once it commits."""
    link = run.setup_link
    if link is None:
        return
    SSOSetupLink.objects.filter(pk=link.pk).update(test_passed_at=timezone.now())
    transaction.on_commit(lambda: email_owners_test_passed(run))


def email_owners_test_passed(run: SSOTestRun) -> None:
    """Email every owner that the IdP admin's test sign-in through a set-up link passed (from ``on_commit``)."""
    connection = run.connection
    organization = connection.organization
    owners = list(
        Membership.objects.active()
        .filter(organization=organization, role=Role.OWNER)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    if not owners:
        return
    slug = organization.slug
    context = {
        "organization": organization,
        "connection": connection,
        "link": run.setup_link,
        "run": run,
        "run_url": settings.PUBLIC_BASE_URL + sso_actions.test_run_url(run),
        "connection_url": settings.PUBLIC_BASE_URL + reverse("sso:connection", args=[slug, connection.pk]),
    }
    send_mail(
        subject=f"{organization.name}: your IdP admin's SSO test sign-in passed",
        message=render_to_string("sso/email/setup_link_test_passed.txt", context),
        from_email=None,
        recipient_list=owners,
    )
