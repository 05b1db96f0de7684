"""Encryption of secrets at rest (SP private keys, OIDC client secrets) with rotating Fernet keys.

``FIELD_ENCRYPTION_KEYS`` lists Fernet keys: the first encrypts, all decrypt (cryptography's MultiFernet),
so a new key can be added in front, data re-encrypted with ``rotate_secret``, and the old key dropped.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any key in FIELD_ENCRYPTION_KEYS."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


def encrypt_secret(plaintext: str) -> str:
    """Return a Fernet token (text) for ``plaintext`` under the first key."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    """Return the plaintext of a token made by ``encrypt_secret``; raises SecretDecryptionError."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretDecryptionError(
            "A stored secret could not be decrypted: FIELD_ENCRYPTION_KEYS no longer holds the key it was "
            "encrypted with. Put that key back (after the new one) and re-save the secret."
        ) from exc


def rotate_secret(token: str) -> str:
    """Re-encrypt a token under the current first key (for key rotation)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretDecryptionError("A stored secret could not be decrypted for rotation.") from exc
