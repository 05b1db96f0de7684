"""The WebAuthn relying party (W3C WebAuthn Level 2, with ``py_webauthn``): options for the browser's
``navigator.credentials.create()`` / ``get()`` and verification of what it answers.

- **RP ID and origin** come from ``settings.PUBLIC_BASE_URL`` (its host, and the whole origin), never the Host
  header. Browsers refuse an IP address as RP ID (WebAuthn §5.1.4.1 requires a valid domain), so passkeys are
  unavailable then (``unavailable_reason``).
- **Challenges** are 32 random bytes kept in the session (bound to it), for one ``purpose`` (and one account),
  single-use (taken before verification, whatever the outcome) and expiring after ``CHALLENGE_SECONDS``.
- A credential is only ever accepted for the account that registered it: a sign-in with a passkey finds the
  account by the credential, every other check compares it with the account expected.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from orgsecurity.actions import ActionRefused
from orgsecurity.jsonbody import NotJSON, parse_json
from twofactor.models import WebAuthnCredential

CHALLENGE_SESSION_KEY = "twofactor.webauthn_challenge"
CHALLENGE_SECONDS = 5 * 60
TIMEOUT_MS = 120_000
RP_NAME = "orgsecurity"

REGISTER, SIGN_IN, SECOND_FACTOR, REAUTH = "register", "sign_in", "second_factor", "reauth"


def rp_id() -> str:
    """The relying party ID: the host of ``PUBLIC_BASE_URL`` (WebAuthn §5.1.4.1)."""
    return urlsplit(settings.PUBLIC_BASE_URL).hostname or ""


def expected_origin() -> str:
    """The only origin accepted in ``clientDataJSON`` (WebAuthn §7.1 step 9): ``PUBLIC_BASE_URL``."""
    return settings.PUBLIC_BASE_URL.rstrip("/")


def unavailable_reason() -> str | None:
    """Why passkeys cannot work on this deployment (a sentence), or None when they can."""
    host = rp_id()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None if host else "PUBLIC_BASE_URL has no host name."
    return (
        f"Passkeys and security keys are unavailable: this site is served at the IP address {host} "
        "(PUBLIC_BASE_URL), and browsers accept passkeys only for a domain name such as localhost."
    )


class WebAuthnRefused(ActionRefused):
    """The browser's answer was not accepted (400, JSON to the page's script)."""

    def __init__(self, message: str, code: str = "webauthn_refused") -> None:
        super().__init__(message, code=code, status=400)


def _new_challenge(request: HttpRequest, purpose: str, user_id: int | None) -> bytes:
    challenge = secrets.token_bytes(32)
    request.session[CHALLENGE_SESSION_KEY] = {
        "challenge": bytes_to_base64url(challenge),
        "purpose": purpose,
        "user": user_id,
        "at": int(time.time()),
    }
    return challenge


def _take_challenge(request: HttpRequest, purpose: str, user_id: int | None, *, now: float | None = None) -> bytes:
    """The session's challenge for ``purpose`` (and account), removed now: single use. Refuses a missing, expired
    or other-purpose challenge."""
    stored = request.session.pop(CHALLENGE_SESSION_KEY, None)
    if not isinstance(stored, dict) or stored.get("purpose") != purpose or stored.get("user") != user_id:
        raise WebAuthnRefused("This request was not started in this session. Try again.", code="no_challenge")
    if not 0 <= (now if now is not None else time.time()) - int(stored.get("at") or 0) < CHALLENGE_SECONDS:
        raise WebAuthnRefused("This request expired. Try again.", code="challenge_expired")
    return base64url_to_bytes(stored["challenge"])


def _descriptors(credentials: Any) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for credential in credentials:
        transports = []
        for name in credential.transports or []:
            try:
                transports.append(AuthenticatorTransport(name))
            except ValueError:
                continue
        descriptors.append(
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(credential.credential_id), transports=transports)
        )
    return descriptors


def _user_handle(user: Any) -> bytes:
    """The WebAuthn user handle (§14.6.1: no personal data): the user pk as 8 bytes."""
    return int(user.pk).to_bytes(8, "big")


def registration_options(request: HttpRequest, user: Any) -> str:
    """JSON ``PublicKeyCredentialCreationOptions`` for a new passkey of ``user`` (resident key preferred, user
    verification preferred, the account's existing credentials excluded)."""
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=RP_NAME,
        user_id=_user_handle(user),
        user_name=user.email,
        user_display_name=getattr(user, "name", "") or user.email,
        challenge=_new_challenge(request, REGISTER, user.pk),
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED
        ),
        exclude_credentials=_descriptors(WebAuthnCredential.objects.filter(user=user)),
    )
    return options_to_json(options)


def verify_registration(request: HttpRequest, user: Any, credential: str | dict) -> dict[str, Any]:
    """Check the browser's answer to ``registration_options`` (WebAuthn §7.1): the session's challenge, origin,
    RP ID, user presence. Returns the fields ``actions.add_credential`` stores; raises ``WebAuthnRefused``."""
    challenge = _take_challenge(request, REGISTER, user.pk)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
        )
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebAuthnRefused(f"The passkey was not accepted: {exc}") from exc
    parsed = credential if isinstance(credential, dict) else parse_json(credential)
    transports = [str(name) for name in (parsed.get("response", {}).get("transports") or [])][:10]
    resident = (parsed.get("clientExtensionResults") or {}).get("credProps", {}).get("rk")
    return {
        "credential_id": bytes_to_base64url(verified.credential_id),
        "public_key": verified.credential_public_key,
        "sign_count": verified.sign_count,
        "transports": transports,
        "discoverable": bool(resident) if resident is not None else True,
        "backed_up": verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
    }


def authentication_options(request: HttpRequest, purpose: str, user: Any = None) -> str:
    """JSON ``PublicKeyCredentialRequestOptions``: for ``user``'s credentials, or (``user`` None: sign in with a
    passkey) any discoverable credential. User verification is required except for a second factor after the
    password (where the key is the second factor and presence is enough)."""
    allow = _descriptors(WebAuthnCredential.objects.filter(user=user)) if user is not None else []
    verification = (
        UserVerificationRequirement.PREFERRED if purpose == SECOND_FACTOR else UserVerificationRequirement.REQUIRED
    )
    options = generate_authentication_options(
        rp_id=rp_id(),
        challenge=_new_challenge(request, purpose, user.pk if user is not None else None),
        timeout=TIMEOUT_MS,
        allow_credentials=allow,
        user_verification=verification,
    )
    return options_to_json(options)


def credential_owner(credential: str | dict) -> Any:
    """The account whose registered credential the answer names (by its ``rawId``), or None."""
    try:
        parsed = credential if isinstance(credential, dict) else _json(credential)
    except WebAuthnRefused:
        return None
    raw_id = str(parsed.get("rawId") or parsed.get("id") or "")
    stored = WebAuthnCredential.objects.select_related("user").filter(credential_id=raw_id).first() if raw_id else None
    return stored.user if stored is not None else None


def verify_authentication(
    request: HttpRequest, credential: str | dict, purpose: str, user: Any = None
) -> tuple[WebAuthnCredential, int]:
    """Check an assertion (WebAuthn §7.2) against the session's challenge for ``purpose``: the credential must be
    registered (to ``user`` when given: one account's passkey never opens another), origin and RP ID must match,
    the signature must verify with the stored public key, and user verification must be present unless it is a
    second factor. For ``SIGN_IN`` the challenge names no account (``user``, when given, is the one the credential
    must belong to). Returns the credential and the new signature counter; raises ``WebAuthnRefused``."""
    challenge = _take_challenge(request, purpose, user.pk if user is not None and purpose != SIGN_IN else None)
    parsed = credential if isinstance(credential, dict) else _json(credential)
    raw_id = str(parsed.get("rawId") or parsed.get("id") or "")
    stored = WebAuthnCredential.objects.select_related("user").filter(credential_id=raw_id).first()
    if stored is None or (user is not None and stored.user_id != user.pk):
        raise WebAuthnRefused("This passkey is not registered to your account.", code="unknown_credential")
    handle = (parsed.get("response") or {}).get("userHandle")
    if handle and handle != bytes_to_base64url(_user_handle(stored.user)):
        raise WebAuthnRefused("This passkey belongs to another account.", code="unknown_credential")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
            credential_public_key=bytes(stored.public_key),
            credential_current_sign_count=0,  # a regression is recorded (actions.record_credential_use), not fatal
            require_user_verification=purpose != SECOND_FACTOR,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebAuthnRefused(f"The passkey was not accepted: {exc}") from exc
    return stored, verified.new_sign_count


def _json(text: str) -> dict[str, Any]:
    try:
        parsed = parse_json(text)
    except (TypeError, NotJSON) as exc:
        raise WebAuthnRefused("The browser's answer is not JSON.") from exc
    if not isinstance(parsed, dict):
        raise WebAuthnRefused("The browser's answer is not a credential.")
    return parsed
