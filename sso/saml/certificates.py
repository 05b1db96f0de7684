"""X.509 certificates of IdPs and of our SP: parsing, fingerprints, expiry, and SP key pair generation."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

EXPIRY_WARNING = timedelta(days=30)
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


class CertificateError(ValueError):
    """Text that is not an X.509 certificate; the message says which one and why."""


@dataclass(frozen=True)
class CertificateInfo:
    """What an admin needs to recognise a certificate: subject, SHA-256 fingerprint (colon hex), validity (UTC)."""

    pem: str
    subject: str
    fingerprint: str
    not_before: datetime
    not_after: datetime

    def expired(self, now: datetime | None = None) -> bool:
        return self.not_after <= (now or datetime.now(UTC))

    def expires_soon(self, now: datetime | None = None) -> bool:
        """True when the certificate expires within 30 days (or already has)."""
        return self.not_after <= (now or datetime.now(UTC)) + EXPIRY_WARNING

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:23] + "…"


def _der_from_base64(text: str) -> bytes:
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CertificateError("This is not base64 text of a certificate.") from exc


def load_certificate(text: str) -> CertificateInfo:
    """Parse one certificate given as PEM or bare base64 DER (whitespace anywhere, as metadata often has).

    Raises CertificateError when it is not a parseable X.509 certificate.
    """
    block = _PEM_BLOCK.search(text)
    der = _der_from_base64(block.group(1) if block else text)
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateError("This is not an X.509 certificate (it does not parse as DER).") from exc
    return _info(cert)


def _info(cert: x509.Certificate) -> CertificateInfo:
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return CertificateInfo(
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        subject=cert.subject.rfc4514_string() or "(empty subject)",
        fingerprint=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def split_pem_bundle(text: str) -> list[str]:
    """The PEM blocks in pasted text, or the text itself when it is one bare base64 certificate."""
    blocks = [match.group(0) for match in _PEM_BLOCK.finditer(text)]
    if blocks:
        return blocks
    return [text] if text.strip() else []


def load_certificates(texts: list[str]) -> list[CertificateInfo]:
    """Parse several certificates, dropping duplicates (same fingerprint), keeping their order.

    Raises CertificateError naming the position of the first one that does not parse.
    """
    seen: set[str] = set()
    result = []
    for position, text in enumerate(texts, start=1):
        try:
            info = load_certificate(text)
        except CertificateError as exc:
            raise CertificateError(f"Certificate {position}: {exc}") from None
        if info.fingerprint not in seen:
            seen.add(info.fingerprint)
            result.append(info)
    return result


def generate_sp_key_pair(common_name: str, *, years: int = 10) -> tuple[str, str]:
    """A new RSA-2048 private key and a self-signed certificate for our SP (PEM key, PEM certificate).

    SAML trusts the certificate by pinning (it is published in our SP metadata), so self-signed is the norm.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()
