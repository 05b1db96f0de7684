"""SCIM bearer token material, in the API key format of ``keys.tokens`` with its own prefix.

A token is ``scim_`` + key ID (10 base62 characters) + secret (32 base62 characters, about 190 bits) + checksum (6
base62 characters of the CRC32 of what comes before), 53 characters; secret scanners can look for
``scim_[0-9A-Za-z]{48}``. Only HMAC-SHA-256(``settings.KEY_HASH_SECRET``, token) is stored
(``keys.tokens.hash_secret``), compared in constant time; the key ID is public and finds the token with one
indexed lookup.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

from keys import tokens as key_tokens

PREFIX = "scim_"
TOKEN_LENGTH = len(PREFIX) + key_tokens.KEY_ID_LENGTH + key_tokens.SECRET_LENGTH + key_tokens.CHECKSUM_LENGTH
TOKEN_PATTERN = re.compile(rf"{PREFIX}[0-9A-Za-z]{{{TOKEN_LENGTH - len(PREFIX)}}}")


class MalformedToken(ValueError):
    """The text is not a SCIM token of ours: wrong prefix, length, characters or checksum."""


@dataclass(frozen=True)
class ParsedToken:
    """A well-formed token: its public key ID and the whole token (which holds the secret)."""

    key_id: str
    token: str


def new_token() -> tuple[str, str]:
    """``(key_id, token)``: a fresh random key ID and a token for it."""
    key_id = key_tokens.new_key_id()
    body = PREFIX + key_id + "".join(secrets.choice(key_tokens.BASE62) for _ in range(key_tokens.SECRET_LENGTH))
    return key_id, body + key_tokens.checksum(body)


def display_prefix(key_id: str) -> str:
    """What people and audit events see of a token: ``scim_<key ID>``."""
    return PREFIX + key_id


def parse(text: str) -> ParsedToken:
    """Check format and checksum without touching the database; raises ``MalformedToken``."""
    if len(text) != TOKEN_LENGTH or not TOKEN_PATTERN.fullmatch(text):
        raise MalformedToken("This is not a SCIM token: tokens are 53 characters starting with scim_.")
    body, check = text[: -key_tokens.CHECKSUM_LENGTH], text[-key_tokens.CHECKSUM_LENGTH :]
    if not hmac.compare_digest(key_tokens.checksum(body), check):
        raise MalformedToken("This SCIM token's checksum does not match: it was mistyped or cut short.")
    return ParsedToken(key_id=text[len(PREFIX) : len(PREFIX) + key_tokens.KEY_ID_LENGTH], token=text)


hash_secret = key_tokens.hash_secret
matches = key_tokens.matches
