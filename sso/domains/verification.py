"""Verified email domains: an organization claims a domain and proves it with a DNS TXT record (or platform support
marks it verified). Verified domains route email-first sign-in to the organization's IdP and allow JIT provisioning
and linking by email. A domain can be verified by one organization only.

The proof is a TXT record (RFC 1035 §3.3.14) at ``_orgsecurity-challenge.<domain>`` whose value is
``orgsecurity-verification=<challenge>``. Lookups use dnspython against ``settings.SSO_DNS_NAMESERVERS``
(``ip`` or ``ip:port`` entries; empty: the system's resolvers).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from typing import Any

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
import idna
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

import audit
from audit.locking import audited
from audit.recorder import Actor
from orgsecurity.actions import ActionRefused
from orgsecurity.actors import ProgramActor
from orgsecurity.models import Organization, User, normalize_email
from sso.models import VerifiedDomain

CHALLENGE_LABEL = "_orgsecurity-challenge"
TXT_PREFIX = "orgsecurity-verification="
MAX_CLAIMS_PER_ORG = 50
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(raw: str) -> str:
    """The canonical form of a domain typed by a person (lower case, IDNA 2008 punycode, no trailing dot).

    Raises ActionRefused when it is not a host name with at least two labels (RFC 1123 §2.1), e.g. an IP address,
    a URL or an email address.
    """
    text = (raw or "").strip().lower().rstrip(".")
    if "@" in text or "/" in text or ":" in text:
        raise ActionRefused("Enter just the domain, e.g. example.com (not an email address or URL).", code="bad_domain")
    try:
        # IDNA 2008 with UTS #46 mapping (RFC 5891, as registries and browsers use it), not Python's IDNA 2003
        # codec, which folds distinct domains together (straße.de into strasse.de).
        ascii_name = idna.encode(text, uts46=True).decode("ascii") if text else ""
    except (idna.IDNAError, UnicodeError):
        raise ActionRefused(f"{raw!r} is not a valid domain name.", code="bad_domain") from None
    labels = ascii_name.split(".")
    if (
        len(ascii_name) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ActionRefused(f"{raw!r} is not a valid domain name, e.g. example.com.", code="bad_domain")
    return ascii_name


def email_domain(email: str) -> str:
    """The domain part of an email address, normalized; '' when there is none, or when the address spells its
    domain in a form other than the canonical one or its Unicode form (a trailing dot, odd mappings): such an
    address is a different account name for the same mailbox, so it must not count as in a verified domain."""
    _, _, domain = normalize_email(email).rpartition("@")
    try:
        canonical = normalize_domain(domain) if domain else ""
    except ActionRefused:
        return ""
    if canonical and domain not in {canonical, idna.decode(canonical)}:
        return ""
    return canonical


def canonical_email(email: str) -> str:
    """The form in which two spellings of one email address compare equal: ``normalize_email`` (trimmed, lower
    case) with the domain in its ``normalize_domain`` form (IDNA 2008 punycode, no trailing dot), e.g.
    ``Mia@Straße.DE.`` → ``mia@xn--strae-oqa.de``. A domain that is not a valid host name is kept as written (lower
    case); '' for ''."""
    text = normalize_email(email)
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    with contextlib.suppress(ActionRefused):
        domain = normalize_domain(domain)
    return f"{local}@{domain}"


def verified_domain_for(email: str) -> VerifiedDomain | None:
    """The verified domain of ``email``'s domain (owned by one organization), or None."""
    domain = email_domain(email)
    if not domain:
        return None
    verified = VerifiedDomain.objects.select_related("organization").filter(verified_at__isnull=False)
    return verified.filter(domain=domain).first()


def org_verified_email(organization: Organization, email: str) -> bool:
    """True when ``email``'s domain is verified by ``organization``."""
    found = verified_domain_for(email)
    return found is not None and found.organization_id == organization.pk


def txt_record_name(domain: VerifiedDomain) -> str:
    return f"{CHALLENGE_LABEL}.{domain.domain}"


def txt_record_value(domain: VerifiedDomain) -> str:
    return f"{TXT_PREFIX}{domain.challenge}"


@audited("organization")
def claim(organization: Organization, *, actor: User | ProgramActor, domain: str) -> VerifiedDomain:
    """Claim ``domain`` for ``organization``; it counts once verified. Raises ActionRefused for a bad name, a
    domain this organization claimed already, or one another organization has verified. ``actor``: a person, or an
    admin API key (``ProgramActor``; ``created_by`` is then the person behind it, None for a service account's)."""
    name = normalize_domain(domain)
    with transaction.atomic():
        if VerifiedDomain.objects.filter(organization=organization, domain=name).exists():
            raise ActionRefused(f"{name} is already claimed here.", code="duplicate", status=409)
        if VerifiedDomain.objects.filter(domain=name, verified_at__isnull=False).exists():
            raise ActionRefused(
                f"{name} is verified by another organization. Contact support if it is yours.",
                code="verified_elsewhere",
                status=409,
            )
        if VerifiedDomain.objects.filter(organization=organization).count() >= MAX_CLAIMS_PER_ORG:
            raise ActionRefused(f"An organization can claim at most {MAX_CLAIMS_PER_ORG} domains.", code="too_many")
        try:
            with transaction.atomic():
                claimed = VerifiedDomain.objects.create(
                    organization=organization, domain=name, challenge=secrets.token_urlsafe(24), created_by_id=actor.pk
                )
        except IntegrityError:  # the same claim submitted twice at once
            raise ActionRefused(f"{name} is already claimed here.", code="duplicate", status=409) from None
        audit.record(
            "sso.domain_claimed",
            organization=organization,
            actor=actor,
            target=claimed,
            changes={"domain": [None, name]},
        )
    return claimed


def _resolver() -> dns.resolver.Resolver:
    nameservers = settings.SSO_DNS_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in nameservers]
    resolver.lifetime = settings.SSO_DNS_TIMEOUT_SECONDS
    return resolver


def lookup_txt(name: str) -> list[str]:
    """The TXT strings at ``name`` (each record's strings joined, RFC 7208 §3.3 style). Raises ActionRefused with a
    sentence for the person when the name does not exist, has no TXT records, or DNS does not answer in time."""
    try:
        answer = _resolver().resolve(dns.name.from_text(name), "TXT", search=False)
    except dns.resolver.NXDOMAIN:
        raise ActionRefused(
            f"DNS says {name} does not exist. Add the TXT record, then try again.", code="nxdomain"
        ) from None
    except dns.resolver.NoAnswer:
        raise ActionRefused(f"{name} has no TXT record yet. Add it, then try again.", code="no_txt") from None
    except dns.exception.Timeout:
        raise ActionRefused("DNS did not answer in time. Try again in a minute.", code="dns_timeout") from None
    except dns.exception.DNSException as exc:
        raise ActionRefused(f"The DNS lookup of {name} failed ({exc}). Try again later.", code="dns_error") from None
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def _mark_verified(claimed: VerifiedDomain, *, actor: Any, via: str, details: dict[str, Any]) -> VerifiedDomain:
    if VerifiedDomain.objects.filter(domain=claimed.domain, verified_at__isnull=False).exclude(pk=claimed.pk).exists():
        raise ActionRefused(
            f"{claimed.domain} is verified by another organization.", code="verified_elsewhere", status=409
        )
    claimed.verified_at = timezone.now()
    claimed.verified_via = via
    try:
        with transaction.atomic():
            claimed.save(update_fields=["verified_at", "verified_via"])
    except IntegrityError:  # another organization verified it at the same moment (sso_domain_verified_once)
        raise ActionRefused(
            f"{claimed.domain} is verified by another organization.", code="verified_elsewhere", status=409
        ) from None
    audit.record(
        "sso.domain_verified",
        organization=claimed.organization,
        actor=actor,
        target=claimed,
        changes={"verified": [False, True]},
        details={"via": via, **details},
    )
    return claimed


def verify_by_dns(claimed: VerifiedDomain, *, actor: User | ProgramActor) -> VerifiedDomain:
    """Verify a claimed domain by finding its TXT record. Raises ActionRefused saying what was (not) found."""
    expected = txt_record_value(claimed)
    found = lookup_txt(txt_record_name(claimed))  # outside the transaction: DNS may take seconds
    if not any(secrets.compare_digest(value.strip(), expected) for value in found):
        shown = ", ".join(f"“{value[:80]}”" for value in found[:5])
        raise ActionRefused(
            f"The TXT record at {txt_record_name(claimed)} does not hold {expected} (found {shown}). "
            "DNS changes can take a while to show; try again later.",
            code="txt_mismatch",
        )
    return _mark_verified_by_dns(claimed, actor=actor)


@audited("claimed")
def _mark_verified_by_dns(claimed: VerifiedDomain, *, actor: User | ProgramActor) -> VerifiedDomain:
    with transaction.atomic():
        claimed = (
            VerifiedDomain.objects.select_for_update(of=("self",)).select_related("organization").get(pk=claimed.pk)
        )
        if claimed.is_verified:
            return claimed
        return _mark_verified(claimed, actor=actor, via=VerifiedDomain.Via.DNS, details={})


@audited("claimed")
def verify_by_support(claimed: VerifiedDomain, *, staff: User, note: str) -> VerifiedDomain:
    """Platform support marks a claimed domain verified (e.g. the customer cannot edit DNS), with a note saying
    how ownership was checked; audited in the organization's log as platform support."""
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Say how ownership was checked (e.g. the ticket number).", code="no_note")
    with transaction.atomic():
        claimed = (
            VerifiedDomain.objects.select_for_update(of=("self",)).select_related("organization").get(pk=claimed.pk)
        )
        if claimed.is_verified:
            raise ActionRefused(f"{claimed.domain} is already verified.", code="already_verified", status=409)
        support = Actor.support(staff)
        return _mark_verified(claimed, actor=support, via=VerifiedDomain.Via.SUPPORT, details={"note": note})


@audited("claimed")
def remove(claimed: VerifiedDomain, *, actor: User | ProgramActor) -> None:
    """Drop a claimed or verified domain (email-first sign-in stops routing it; JIT stops creating accounts)."""
    with transaction.atomic():
        audit.record(
            "sso.domain_removed",
            organization=claimed.organization,
            actor=actor,
            target=claimed,
            changes={"domain": [claimed.domain, None]},
            details={"was_verified": claimed.is_verified},
        )
        claimed.delete()
