"""API key material: the token format, its checksum, and how its secret is stored (HMAC-SHA-256).

A token looks like ``osk_`` + key ID (10 base62 characters) + secret (32 base62 characters, about 190 bits
from ``secrets``) + checksum (6 base62 characters of the CRC32 of everything before it), 52 characters in all,
in the manner of GitHub's token format: the fixed prefix and length let secret scanners find a leaked key
(regex ``osk_[0-9A-Za-z]{48}``) and the checksum lets them, and us, reject a mistyped or made-up key without a
database lookup.

The key ID is public (it is shown in lists and audit events as ``osk_<key ID>``) and is how a request finds its
key: one indexed lookup. Only HMAC-SHA-256(``settings.KEY_HASH_SECRET``, token) is stored. The secret is
high-entropy, so a keyed fast hash is enough (no slow password hash); the server-side key means a stolen
database alone cannot be used to test guesses. Hashes are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

from django.conf import settings

PREFIX = "osk_"
KEY_ID_LENGTH = 10
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + KEY_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TOKEN_PATTERN = re.compile(rf"{PREFIX}[0-9A-Za-z]{{{TOKEN_LENGTH - len(PREFIX)}}}")
# What a secret scanner should look for (documented in the README).
SCANNER_REGEX = rf"\b{PREFIX}[0-9A-Za-z]{{{TOKEN_LENGTH - len(PREFIX)}}}\b"


class MalformedKey(ValueError):
    """The text is not an API key of ours: wrong prefix, length, characters or checksum."""


@dataclass(frozen=True)
class ParsedKey:
    """A well-formed token split into its public key ID and the full token (which holds the secret)."""

    key_id: str
    token: str

    @property
    def display_prefix(self) -> str:
        return display_prefix(self.key_id)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def checksum(body: str) -> str:
    """The 6-character base62 CRC32 (ISO-HDLC, as zlib computes it) of ``body``."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def new_key_id() -> str:
    """A fresh random key ID (about 59 bits; uniqueness is also enforced by the database)."""
    return _random_base62(KEY_ID_LENGTH)


def new_token(key_id: str) -> str:
    """A new token for ``key_id`` with a fresh 32-character secret and its checksum."""
    body = PREFIX + key_id + _random_base62(SECRET_LENGTH)
    return body + checksum(body)


def display_prefix(key_id: str) -> str:
    """What people and audit events see of a key: ``osk_<key ID>``, never the secret."""
    return PREFIX + key_id


def parse(text: str) -> ParsedKey:
    """Check the format and checksum of ``text``; raises MalformedKey. No database access."""
    if len(text) != TOKEN_LENGTH or not TOKEN_PATTERN.fullmatch(text):
        raise MalformedKey("This is not an API key: keys are 52 characters starting with osk_.")
    body, check = text[:-CHECKSUM_LENGTH], text[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(checksum(body), check):
        raise MalformedKey("This API key's checksum does not match: it was mistyped or cut short.")
    return ParsedKey(key_id=text[len(PREFIX) : len(PREFIX) + KEY_ID_LENGTH], token=text)


def hash_secret(token: str) -> str:
    """HMAC-SHA-256 (RFC 2104) of the whole token under ``settings.KEY_HASH_SECRET``, as 64 hex characters."""
    return hmac.new(settings.KEY_HASH_SECRET, token.encode("ascii"), hashlib.sha256).hexdigest()


def matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of ``token``'s HMAC with a stored hash (False for an empty stored hash)."""
    return bool(stored_hash) and hmac.compare_digest(hash_secret(token), stored_hash)
