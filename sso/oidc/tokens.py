"""ID token validation (OpenID Connect Core 1.0 §3.1.3.7), stricter than mozilla-django-oidc's defaults.

In order: the JOSE header (no ``alg: none``, no HMAC, only this connection's algorithms), the signature with the
provider's published key (``sso.oidc.keys``), then the claims: ``iss`` equal to the stored issuer, ``aud``
containing our client ID (and ``azp`` equal to it when present or when there are several audiences), ``exp``,
``iat`` (and ``nbf``, ``auth_time``) sane within ``CLOCK_SKEW``, ``nonce`` equal to the one we sent, ``sub``
present, and single-valued claims (``iss``, ``sub``, ``email``, ``email_verified``, ...) of their one JSON type.
Each refusal is an ``IDTokenRefused`` whose message says what was received and what was expected.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.utils import timezone

from sso.errors import SSOSignInRefused
from sso.models import OIDCSettings
from sso.oidc import keys

CLOCK_SKEW = timedelta(seconds=60)
# An ID token is handed to us right after it is issued; an older one is a replay or a badly wrong clock.
MAX_ID_TOKEN_AGE = timedelta(minutes=10)
MAX_SUBJECT_LENGTH = 255  # OIDC Core §2: sub is at most 255 ASCII characters


class IDTokenRefused(SSOSignInRefused):
    """An ID token (or userinfo answer) failed a check. ``claims`` holds what it carried once the signature
    verified (shown on a test run's page), else {}."""

    def __init__(self, message: str, *, code: str, claims: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code, status=403)
        self.claims = claims or {}


def _moment(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IDTokenRefused(
            f"The ID token's {name} claim is not a number of seconds.", code="bad_claim", claims=claims
        )
    return float(value)


# Claims that hold exactly one JSON string (OIDC Core §2 and §5.1, RFC 7519 §4.1, OIDC Front-Channel Logout §3):
# they say who signed in, for whom and where. A list is not "the first value wins": it is refused.
SINGLE_STRING_CLAIMS = ("iss", "sub", "azp", "sid", "email")
# Spellings of email_verified (a JSON boolean, OIDC Core §5.1) read as that boolean: AWS Cognito's userinfo
# answers the strings "true"/"false". Any other type or string is refused.
_BOOLEAN_STRINGS = {"true": True, "false": False}


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} value{'' if len(value) == 1 else 's'}"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a JSON object"
    return "a string"


def boolean_claim(value: Any) -> bool | None:
    """A boolean claim such as ``email_verified`` (OIDC Core §5.1): True/False for a JSON boolean or the strings
    "true"/"false" (any case), None when absent; raises ValueError for any other value."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEAN_STRINGS:
        return _BOOLEAN_STRINGS[value.strip().lower()]
    raise ValueError(value)


def check_claim_types(
    claims: dict[str, Any],
    *,
    source: str = "ID token",
    also: tuple[str, ...] = (),
    context: dict[str, Any] | None = None,
) -> None:
    """Refuse single-valued claims of the wrong JSON type (OIDC Core §5.1): ``SINGLE_STRING_CLAIMS`` and the
    claim names in ``also`` (e.g. the claim this connection maps to email) must be strings, ``email_verified``
    a boolean (see ``boolean_claim``). Absent or null claims are left to the other checks.

    ``source`` names where the claims came from in the message ("ID token", "userinfo answer"); ``context`` is
    what the test page shows (default: ``claims``). Raises IDTokenRefused (code ``bad_claim_type``).
    """
    for name in dict.fromkeys((*SINGLE_STRING_CLAIMS, *also)):
        value = claims.get(name)
        if value is None or isinstance(value, str):
            continue
        raise IDTokenRefused(
            f"The {source}'s {name} claim is {_kind(value)}, but it must be a single string (OIDC Core §5.1), so "
            f"the sign-in was refused. Ask your provider's administrator to send one {name} value.",
            code="bad_claim_type",
            claims=claims if context is None else context,
        )
    try:
        boolean_claim(claims.get("email_verified"))
    except ValueError:
        value = claims["email_verified"]
        shown = f" ({value[:20]!r})" if isinstance(value, str) else ""
        raise IDTokenRefused(
            f"The {source}'s email_verified claim is {_kind(value)}{shown}, but it must be a boolean, true or false "
            "(OIDC Core §5.1), so the sign-in was refused.",
            code="bad_claim_type",
            claims=claims if context is None else context,
        ) from None


def check_header(token: str, oidc: OIDCSettings) -> dict[str, Any]:
    """Return the JOSE header of ``token`` after checking its algorithm is one this connection accepts."""
    if not isinstance(token, str) or not token:
        raise IDTokenRefused(
            "The provider's token response has no ID token. Check that the openid scope is enabled for this client.",
            code="no_id_token",
        )
    if token.count(".") == 4:
        raise IDTokenRefused(
            "The ID token is encrypted (JWE). This connection expects signed ID tokens: turn off ID token "
            "encryption for this client at the provider.",
            code="encrypted_id_token",
        )
    try:
        header = jwt.get_unverified_header(token)
    except jwt.exceptions.InvalidTokenError:
        raise IDTokenRefused("The ID token is not a well-formed signed JWT.", code="bad_token") from None
    alg = header.get("alg")
    allowed = ", ".join(oidc.allowed_algorithms) or "(none)"
    if not isinstance(alg, str) or not alg or alg.lower() == "none":
        raise IDTokenRefused(
            'The ID token is not signed (alg "none"), so anyone could have written it. It was refused.',
            code="unsigned_token",
        )
    if alg.upper().startswith("HS"):
        raise IDTokenRefused(
            f"The ID token is signed with {alg}, a shared-secret (HMAC) algorithm. This connection accepts only "
            f"the provider's public-key signatures ({allowed}).",
            code="hmac_token",
        )
    if alg not in oidc.allowed_algorithms or alg not in keys.KEY_TYPES:
        raise IDTokenRefused(
            f"The ID token is signed with {alg}, but this connection accepts only {allowed}. If your provider "
            f"really signs with {alg}, add it to the allowed algorithms.",
            code="algorithm_not_allowed",
        )
    return header


def verify_signature(token: str, oidc: OIDCSettings, *, now: datetime | None = None) -> dict[str, Any]:
    """Check the header and the signature with the provider's key; return the (not yet checked) claims."""
    header = check_header(token, oidc)
    decoded, tried = None, "(no kid)"
    for key in keys.signing_keys(oidc, header, now=now):
        tried = repr(key.key_id) if key.key_id is not None else f"(the provider's {header['alg']} key without a kid)"
        try:
            decoded = jwt.PyJWS().decode_complete(token, key=key, algorithms=[header["alg"]])
            break
        except jwt.exceptions.InvalidSignatureError:
            continue
        except jwt.exceptions.InvalidTokenError as exc:
            raise IDTokenRefused(f"The ID token could not be verified ({exc}).", code="bad_token") from None
    if decoded is None:
        raise IDTokenRefused(
            f"The ID token's signature does not verify with the provider's key {tried}. "
            "It was altered or not signed by this provider.",
            code="bad_signature",
        )
    try:
        claims = json.loads(decoded["payload"])
    except (ValueError, RecursionError):
        claims = None
    if not isinstance(claims, dict):
        raise IDTokenRefused("The ID token's payload is not a JSON object.", code="bad_token")
    return claims


def mapped_email_claim(oidc: OIDCSettings) -> tuple[str, ...]:
    """The claim this connection maps to the email field (e.g. Entra's ``upn``), as a 1-tuple; () when unmapped."""
    claim = (oidc.connection.attribute_map or {}).get("email")
    return (claim,) if isinstance(claim, str) and claim else ()


def check_claims(
    claims: dict[str, Any],
    oidc: OIDCSettings,
    *,
    nonce: str,
    now: datetime | None = None,
    require_auth_time: bool = False,
) -> dict[str, Any]:
    """Check the claims of a signature-verified ID token (OIDC Core §3.1.3.7 steps 2-5, 9-11); return them.

    ``nonce`` is the one sent in the authentication request. ``require_auth_time``: the request asked for
    ``max_age`` (re-authentication), so ``auth_time`` must be present (OIDC Core §3.1.2.1).
    """
    moment = (now or timezone.now()).timestamp()
    skew = CLOCK_SKEW.total_seconds()

    def refuse(message: str, code: str) -> IDTokenRefused:
        return IDTokenRefused(message, code=code, claims=claims)

    check_claim_types(claims, also=mapped_email_claim(oidc))
    issuer = claims.get("iss")
    if issuer != oidc.issuer:
        raise refuse(
            f"The ID token's issuer was {issuer!r} but this connection expects {oidc.issuer!r}.", "wrong_issuer"
        )
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or not all(isinstance(item, str) for item in audiences):
        raise refuse("The ID token has no audience (aud).", "wrong_audience")
    if oidc.client_id not in audiences:
        raise refuse(
            f"The ID token is meant for {', '.join(audiences) or '(nobody)'} but this connection's client ID is "
            f"{oidc.client_id!r}.",
            "wrong_audience",
        )
    authorized_party = claims.get("azp")
    if len(audiences) > 1 and authorized_party is None:
        raise refuse(
            f"The ID token names several audiences ({', '.join(audiences)}) but no authorized party (azp), so it "
            "cannot be shown to have been issued to this client.",
            "wrong_audience",
        )
    if authorized_party is not None and authorized_party != oidc.client_id:
        raise refuse(
            f"The ID token was issued to the client {authorized_party!r} (azp), not to {oidc.client_id!r}.",
            "wrong_audience",
        )

    expires = _number(claims, "exp")
    issued = _number(claims, "iat")
    if expires is None or issued is None:
        missing = "exp" if expires is None else "iat"
        raise refuse(f"The ID token has no {missing} claim; it must say when it was issued and expires.", "bad_claim")
    if expires <= moment - skew:
        raise refuse(
            f"The ID token expired at {_moment(expires)} (now {_moment(moment)}). Sign in again; if this repeats, "
            "check the clocks of this server and the provider.",
            "expired_token",
        )
    if issued > moment + skew:
        raise refuse(
            f"The ID token was issued in the future ({_moment(issued)}, now {_moment(moment)}). Check the clocks "
            "of this server and the provider.",
            "token_from_future",
        )
    if issued < moment - skew - MAX_ID_TOKEN_AGE.total_seconds():
        raise refuse(
            f"The ID token was issued at {_moment(issued)}, more than {MAX_ID_TOKEN_AGE.seconds // 60} minutes "
            "ago. A fresh sign-in is needed.",
            "stale_token",
        )
    if expires < issued:
        raise refuse("The ID token expires before it was issued (exp is earlier than iat).", "bad_claim")
    not_before = _number(claims, "nbf")
    if not_before is not None and not_before > moment + skew:
        raise refuse(f"The ID token is not valid before {_moment(not_before)}.", "token_from_future")

    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not token_nonce:
        raise refuse("The ID token has no nonce, so it cannot be tied to the sign-in started here.", "wrong_nonce")
    if not nonce or not secrets.compare_digest(token_nonce.encode(), nonce.encode()):
        raise refuse(
            "The ID token's nonce does not match the sign-in started here (a replayed or injected token).",
            "wrong_nonce",
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise refuse("The ID token has no subject (sub), so it does not say who signed in.", "no_subject")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise refuse(f"The ID token's subject is longer than {MAX_SUBJECT_LENGTH} characters.", "no_subject")

    auth_time = _number(claims, "auth_time")
    if auth_time is not None and auth_time > moment + skew:
        raise refuse(f"The ID token says you signed in in the future ({_moment(auth_time)}).", "token_from_future")
    if require_auth_time and auth_time is None:
        raise refuse(
            "The provider did not say when you signed in (no auth_time claim), although a fresh sign-in was "
            "requested (max_age=0). This cannot count as re-authentication.",
            "no_auth_time",
        )
    return claims


def validate_id_token(
    token: str,
    oidc: OIDCSettings,
    *,
    nonce: str,
    now: datetime | None = None,
    require_auth_time: bool = False,
) -> dict[str, Any]:
    """Verify ``token`` completely (header, signature, claims; see the module docstring) and return its claims.

    Raises IDTokenRefused, KeyRefused, or SSOSignInRefused (502) when the provider's key set cannot be fetched.
    """
    claims = verify_signature(token, oidc, now=now)
    return check_claims(claims, oidc, nonce=nonce, now=now, require_auth_time=require_auth_time)
