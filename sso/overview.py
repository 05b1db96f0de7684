"""SSO's part of the security overview (``orgsecurity.overview``): the certificate expiry of every connection, and
enforcement that is scheduled or postponed as a pending risky state. Importing this module registers both
(``SsoConfig.ready()`` imports it)."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from orgsecurity.accessors import OrgContext
from orgsecurity.overview import OverviewPanel, OverviewRow, register_overview_panel, register_pending_states
from sso.models import SAMLSettings, SSOConnection
from sso.saml.certificates import CertificateError, load_certificate


def certificate_rows(org: OrgContext, now: dt.datetime) -> list[OverviewRow]:
    """One row per IdP signing certificate and for our SP certificate of each SAML connection of ``org`` (its expiry
    date in UTC, a warning when it expired or expires within 30 days), and one per OIDC connection (its IdP
    publishes rotating signing keys, so there is no certificate of ours to watch). Two queries whatever the number
    of connections."""
    slug = org.organization.slug
    connections = list(SSOConnection.objects.filter(organization=org.organization).order_by("name", "pk"))
    pems = {
        pk: (idp, sp)
        for pk, idp, sp in SAMLSettings.objects.filter(connection__in=connections).values_list(
            "connection_id", "idp_certificates", "sp_certificate"
        )
    }
    rows = []
    for connection in connections:
        url = reverse("sso:connection", args=[slug, connection.pk])
        if connection.protocol != SSOConnection.Protocol.SAML:
            rows.append(OverviewRow(str(connection.name), "OpenID Connect: signing keys rotate at the IdP", url=url))
            continue
        certificates, sp_pem = pems.get(connection.pk) or ([], "")
        if not certificates:
            rows.append(OverviewRow(str(connection.name), "No IdP certificate yet", warning=True, url=url))
        for label, pem in [*(("IdP", pem) for pem in certificates), *([("SP (ours)", sp_pem)] if sp_pem else [])]:
            try:
                cert = load_certificate(pem)
            except CertificateError:
                rows.append(OverviewRow(str(connection.name), f"An {label} certificate cannot be read", True, url))
                continue
            days = (cert.not_after - now).days
            if cert.expired(now):
                value = f"{label} {cert.short_fingerprint} expired on {cert.not_after:%Y-%m-%d}"
            else:
                value = f"{label} {cert.short_fingerprint} expires on {cert.not_after:%Y-%m-%d} (in {days} days)"
            rows.append(OverviewRow(str(connection.name), value, warning=cert.expires_soon(now), url=url))
    return rows


def enforcement_states(org: OrgContext, now: dt.datetime) -> list[OverviewRow]:
    """Scheduled (or postponed) SSO enforcement of ``org``'s connections that are not enforced yet."""
    rows = []
    scheduled = SSOConnection.objects.filter(organization=org.organization, enforce_at__isnull=False).exclude(
        status=SSOConnection.Status.ENFORCED
    )
    for connection in scheduled.order_by("enforce_at"):
        url = reverse("sso:connection", args=[org.organization.slug, connection.pk])
        when = f"{connection.enforce_at:%Y-%m-%d %H:%M} UTC"
        if connection.enforcement_postponed_at:
            value = f"enforcement planned for {when} is postponed until the guards hold again"
        else:
            value = f"enforcement (SSO only, passwords refused) scheduled for {when}"
        rows.append(OverviewRow(f"SSO: {connection.name}", value, warning=True, url=url))
    return rows


register_overview_panel(
    OverviewPanel(
        "SSO certificate expiry", "sso-certificates", certificate_rows, position=10, empty="No SSO connection."
    )
)
register_pending_states(enforcement_states)
