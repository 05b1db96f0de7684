"""Two-factor test helpers: a software WebAuthn authenticator that really signs (ECDSA P-256, "none" attestation,
WebAuthn §6.1 authenticator data), TOTP codes computed from the stored secret, and factor set-up shortcuts."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from datetime import datetime

import cbor2
import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from orgsecurity.crypto import decrypt_secret
from twofactor import totp
from twofactor.models import TOTPDevice

ORIGIN = "https://testserver"
RP_ID = "testserver"

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def totp_code(user, at: datetime | None = None, *, offset_steps: int = 0) -> str:
    """The code the user's authenticator app shows at ``at`` (now), ``offset_steps`` steps away."""
    secret = decrypt_secret(TOTPDevice.objects.get(user=user).secret)
    return code_for_secret(secret, at, offset_steps=offset_steps)


def code_for_secret(secret: str, at: datetime | None = None, *, offset_steps: int = 0) -> str:
    from sessions_policy import clock

    at = at or clock.now()
    return pyotp.TOTP(secret).generate_otp(totp.time_step(at) + offset_steps)


@dataclass
class SoftAuthenticator:
    """One authenticator holding one credential; ``user_handle`` is set on registration (a passkey)."""

    origin: str = ORIGIN
    rp_id: str = RP_ID
    user_verified: bool = True
    sign_count: int = 0
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    user_handle: bytes | None = None

    def _flags(self, extra: int = 0) -> int:
        return UP | (UV if self.user_verified else 0) | extra

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    def create(self, options: dict, *, origin: str | None = None) -> dict:
        """Answer ``navigator.credentials.create()`` with ``options`` (the server's JSON)."""
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        rp_hash = hashlib.sha256(options["rp"]["id"].encode()).digest()
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        auth_data = rp_hash + bytes([self._flags(AT)]) + struct.pack(">I", self.sign_count) + attested
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {"credProps": {"rk": True}},
        }

    def get(self, options: dict, *, origin: str | None = None, count_step: int = 1) -> dict:
        """Answer ``navigator.credentials.get()`` with ``options``; the signature counter moves by ``count_step``."""
        self.sign_count += count_step
        rp_hash = hashlib.sha256(options.get("rpId", self.rp_id).encode()).digest()
        auth_data = rp_hash + bytes([self._flags()]) + struct.pack(">I", self.sign_count)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(self.user_handle) if self.user_handle else None,
            },
            "clientExtensionResults": {},
        }


def post_json(client, url: str, body: dict | None = None):
    return client.post(
        url, data=json.dumps(body or {}), content_type="application/json", HTTP_ACCEPT="application/json"
    )


def register_passkey(client, authenticator: SoftAuthenticator, name: str = "Laptop"):
    """Run the passkey registration round trip on a signed-in, freshly re-authenticated ``client``."""
    options = post_json(client, "/accounts/2fa/passkeys/options/").json()
    return post_json(client, "/accounts/2fa/passkeys/", {"credential": authenticator.create(options), "name": name})


def give_totp(user) -> str:
    """Set up an authenticator app for ``user`` (through the action, as the set-up page does); returns its secret.
    The code of the current step is then used up: the next sign-in needs the next step's code."""
    from twofactor import actions

    secret = totp.new_secret()
    actions.enable_totp(user, actor=user, secret=secret, code=code_for_secret(secret))
    return secret
