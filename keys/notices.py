"""Emails the worker sends about API keys (``keys.tasks``): expiry notices and the weekly stale-credentials digest.

- ``send_expiry_notices(now)``: each live key expiring within ``EXPIRY_NOTICE`` (7 days) is announced once per expiry
  date to its owner: a personal key's owner, or for a service account's key the member who created it (the
  organization's owners when that person is no longer a member). ``APIKey.expiry_notice_for`` records the expiry
  date told, claimed with a conditional UPDATE, so concurrent runs send it once.
- ``set_stale_digest(organization, actor=, subscribed=)``: an owner opts in to (or out of) the weekly digest.
- ``send_stale_digests(now)``: each subscribed owner gets the stale-credentials report (``keys.stale``) of their
  organization once a week (at most once per ``DIGEST_INTERVAL``), when it lists any key.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string

import audit
from audit.locking import audited
from keys.models import APIKey, StaleDigestSubscription
from keys.stale import REASONS, stale_report
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership, Organization, User
from orgsecurity.roles import Role

EXPIRY_NOTICE = timedelta(days=7)
DIGEST_INTERVAL = timedelta(days=6)  # a weekly run always finds last week's digest older than this


def expiry_recipients(key: APIKey) -> list[str]:
    """Who is told that ``key`` expires: its personal owner, else its creator while a member, else the owners."""
    members = Membership.objects.active().filter(organization_id=key.organization_id, user__is_active=True)
    if key.owner_user_id:
        return list(members.filter(user_id=key.owner_user_id).values_list("user__email", flat=True))
    if key.created_by_id and members.filter(user_id=key.created_by_id).exists():
        return [key.created_by.email]
    return sorted(members.filter(role=Role.OWNER).values_list("user__email", flat=True))


def keys_expiring(now: datetime) -> list[APIKey]:
    """Live keys expiring within ``EXPIRY_NOTICE`` of ``now`` (UTC) whose owner was not told about that date."""
    return list(
        APIKey.objects.filter(revoked_at=None, expires_at__gt=now, expires_at__lte=now + EXPIRY_NOTICE)
        .filter(Q(expiry_notice_for=None) | ~Q(expiry_notice_for=F("expires_at")))
        .select_related("organization", "created_by", "owner_service_account")
        .order_by("expires_at", "pk")
    )


def send_expiry_notices(now: datetime) -> int:
    """Tell each owner of a key expiring within 7 days, once per expiry date; returns how many keys were told."""
    told = 0
    for key in keys_expiring(now):
        with transaction.atomic():
            claimed = (
                APIKey.objects.filter(pk=key.pk, expires_at=key.expires_at)
                .exclude(expiry_notice_for=key.expires_at)
                .update(expiry_notice_for=key.expires_at)
            )
            if not claimed:
                continue  # another run told them, or the key changed since
            to = expiry_recipients(key)
            organization = key.organization
            days = max(1, round((key.expires_at - now) / timedelta(days=1)))
            context = {
                "key": key,
                "organization": organization,
                "days": days,
                "keys_url": f"{settings.PUBLIC_BASE_URL}/orgs/{organization.slug}/settings/security/keys/",
            }
            plural = "s" if days != 1 else ""
            subject = f"{organization.name}: API key {key.prefix} ({key.name}) expires in {days} day{plural}"
            body = render_to_string("keys/email/key_expiring.txt", context)
            if to:
                transaction.on_commit(lambda s=subject, b=body, t=to: send_mail(s, b, None, t, fail_silently=False))
            told += 1
    return told


@audited("organization")
def set_stale_digest(organization: Organization, *, actor: User, subscribed: bool) -> bool:
    """Opt ``actor`` (an owner of ``organization``) in to the weekly stale-credentials digest by email, or out of
    it; returns whether anything changed. Raises ActionRefused (403) for anyone but an owner."""
    membership = Membership.objects.active().filter(organization=organization, user=actor, role=Role.OWNER).first()
    if membership is None:
        raise ActionRefused("Only owners can receive the stale-credentials digest.", code="owner_required", status=403)
    with transaction.atomic():
        existing = StaleDigestSubscription.objects.filter(membership=membership)
        if subscribed == existing.exists():
            return False
        if subscribed:
            StaleDigestSubscription.objects.create(membership=membership)
        else:
            existing.delete()
        audit.record(
            "key.stale_digest_subscribed" if subscribed else "key.stale_digest_unsubscribed",
            organization=organization,
            actor=actor,
            target=actor,
        )
    return True


def send_stale_digests(now: datetime) -> int:
    """Email each subscribed owner their organization's stale-credentials report (when it lists any key), at most
    once per ``DIGEST_INTERVAL``; returns how many digests were sent. Owners who are no longer owners get none."""
    sent = 0
    due = (
        StaleDigestSubscription.objects.filter(
            membership__role=Role.OWNER, membership__user__is_active=True, membership__suspended_at__isnull=True
        )
        .filter(Q(last_sent_at=None) | Q(last_sent_at__lte=now - DIGEST_INTERVAL))
        .select_related("membership__organization", "membership__user")
        .order_by("pk")
    )
    for subscription in due:
        organization, user = subscription.membership.organization, subscription.membership.user
        report = stale_report(organization, now=now)
        with transaction.atomic():
            claimed = StaleDigestSubscription.objects.filter(
                pk=subscription.pk, last_sent_at=subscription.last_sent_at
            ).update(last_sent_at=now)
            if not claimed or not report.rows:
                continue
            context = {
                "organization": organization,
                "report": report,
                "counts": [(label, report.count(code)) for code, label in REASONS.items() if report.count(code)],
                "stale_url": f"{settings.PUBLIC_BASE_URL}/orgs/{organization.slug}/settings/security/keys/stale/",
            }
            subject = f"{organization.name}: {len(report.rows)} API keys to review (weekly stale-credentials digest)"
            body = render_to_string("keys/email/stale_digest.txt", context)
            transaction.on_commit(lambda s=subject, b=body, t=user.email: send_mail(s, b, None, [t]))
            sent += 1
    return sent
