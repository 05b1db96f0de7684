"""TOTP (RFC 6238) with ``pyotp``: new secrets, the otpauth:// URI and its QR code (SVG, rendered server-side with
``segno``), and code checks that accept each time step once, with ±1 step of clock skew (RFC 6238 §5.2)."""

from __future__ import annotations

import io
from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30  # RFC 6238 §4.1 X, the default every authenticator app uses
DIGITS = 6
ISSUER = "orgsecurity"
SKEW_STEPS = 1


def new_secret() -> str:
    """A random base32 secret of 160 bits (RFC 4226 §4 recommends 160)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads (Google Authenticator's Key Uri Format)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline SVG document (no XML declaration), for the set-up page."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True, border=2)
    return buffer.getvalue().decode()


def normalize_code(code: str) -> str:
    """The digits of a typed code (spaces and dashes removed)."""
    return "".join(ch for ch in code if not ch.isspace() and ch != "-")


def time_step(at: datetime) -> int:
    """The RFC 6238 time step counter T of ``at`` (an aware datetime)."""
    return int(at.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, *, at: datetime, last_used_step: int | None) -> int | None:
    """The time step (T - 1, T or T + 1 of ``at``) whose code is ``code``, newer than ``last_used_step``; None
    when none matches, so a code already accepted (or an older one) is refused the second time."""
    code = normalize_code(code)
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(at)
    for step in range(current - SKEW_STEPS, current + SKEW_STEPS + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None
