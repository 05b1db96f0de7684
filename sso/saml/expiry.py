"""Certificate expiry notices of SAML connections: the IdP signing certificates and our SP certificate.

``notices_due(now)`` lists each certificate of a SAML connection (status other than off) that expires within one of
``THRESHOLDS_DAYS`` (30, 14, 7, 1) days and has not been noticed at that threshold; ``send_notice`` records the
notice (``CertificateExpiryNotice``, unique per connection, certificate and threshold) and emails the connection's
admin owner and the organization's owners on commit. Only the nearest threshold is noticed: a certificate first
seen 10 days before its expiry gets the 14-day notice, not the 30-day one too. The worker's job
``sso.certificate_expiry_notices`` (``sso.tasks``) runs both hourly; any run sends what is due and nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from orgsecurity.models import Membership
from orgsecurity.roles import Role
from sso.models import CertificateExpiryNotice, SAMLSettings, SSOConnection
from sso.saml.certificates import CertificateError, CertificateInfo, load_certificate

THRESHOLDS_DAYS = (30, 14, 7, 1)


@dataclass(frozen=True)
class ExpiringCertificate:
    """A certificate (``kind`` "idp" or "sp") of ``connection`` due a notice at ``threshold_days``."""

    connection: SSOConnection
    kind: str
    certificate: CertificateInfo
    threshold_days: int


def threshold_for(not_after: datetime, now: datetime) -> int | None:
    """The nearest threshold (days) ``not_after`` falls within as of ``now`` (both UTC), or None when it is further
    away than the largest threshold or already past."""
    left = not_after - now
    if left <= timedelta(0):
        return None
    within = [days for days in THRESHOLDS_DAYS if left <= timedelta(days=days)]
    return min(within) if within else None


def connection_certificates(saml: SAMLSettings) -> list[tuple[str, CertificateInfo]]:
    """Every readable certificate of ``saml`` as (kind, certificate): the IdP's signing certificates, then ours."""
    found = []
    for kind, pem in [*(("idp", pem) for pem in saml.idp_certificates), ("sp", saml.sp_certificate)]:
        try:
            found.append((kind, load_certificate(pem)))
        except CertificateError:
            continue  # the connection page and the overview say so; nothing to date here
    return found


def notices_due(now: datetime) -> list[ExpiringCertificate]:
    """The notices due as of ``now`` (UTC) and not sent yet, by connection. Read-only."""
    settings_rows = (
        SAMLSettings.objects.exclude(connection__status=SSOConnection.Status.OFF)
        .select_related("connection__organization", "connection__admin_owner")
        .order_by("connection_id")
    )
    sent = set(CertificateExpiryNotice.objects.values_list("connection_id", "kind", "fingerprint", "threshold_days"))
    due = []
    for saml in settings_rows:
        for kind, certificate in connection_certificates(saml):
            threshold = threshold_for(certificate.not_after, now)
            if threshold is None or (saml.connection_id, kind, certificate.fingerprint, threshold) in sent:
                continue
            due.append(ExpiringCertificate(saml.connection, kind, certificate, threshold))
    return due


def recipients(connection: SSOConnection) -> list[str]:
    """The connection's admin owner and the organization's owners (emails, sorted, once each)."""
    emails = set(
        Membership.objects.active()
        .filter(organization_id=connection.organization_id, role=Role.OWNER)
        .values_list("user__email", flat=True)
    )
    if connection.admin_owner_id:
        emails.add(connection.admin_owner.email)
    return sorted(emails)


def send_notice(item: ExpiringCertificate, now: datetime) -> bool:
    """Record the notice of ``item`` and email it on commit; False (nothing sent) when another run recorded it
    first. Idempotent."""
    connection, certificate = item.connection, item.certificate
    to = recipients(connection)
    try:
        with transaction.atomic():
            CertificateExpiryNotice.objects.create(
                connection=connection,
                kind=item.kind,
                fingerprint=certificate.fingerprint,
                not_after=certificate.not_after,
                threshold_days=item.threshold_days,
                sent_at=now,
                recipients=to,
            )
            organization = connection.organization
            days = max(1, (certificate.not_after - now).days)
            what = "IdP signing certificate" if item.kind == "idp" else "SP certificate (ours)"
            context = {
                "organization": organization,
                "connection": connection,
                "what": what,
                "kind": item.kind,
                "certificate": certificate,
                "days": days,
                "connection_url": f"{settings.PUBLIC_BASE_URL}/orgs/{organization.slug}/settings/security/sso/"
                f"{connection.pk}/",
            }
            subject = (
                f"{organization.name}: the {what} of SSO connection {connection.name or connection.pk} expires in "
                f"{days} day{'s' if days != 1 else ''} ({certificate.not_after:%Y-%m-%d} UTC)"
            )
            body = render_to_string("sso/email/certificate_expiring.txt", context)
            transaction.on_commit(
                lambda: send_mass_mail([(subject, body, None, [email]) for email in to], fail_silently=False)
            )
    except IntegrityError:
        return False
    return True


def send_due_notices(now: datetime) -> int:
    """Send every notice due as of ``now`` (UTC); returns how many were sent."""
    return sum(send_notice(item, now) for item in notices_due(now))
