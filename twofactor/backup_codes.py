"""Backup codes: ten single-use codes of 80 random bits each (NIST SP 800-63B §5.1.2 look-up secrets), stored as
SHA-256 hashes (the randomness makes a slow hash unnecessary). Named "backup codes" to stay apart from the
organizations' break-glass "recovery codes" (``sso.recovery``)."""

from __future__ import annotations

import base64
import hashlib
import secrets

COUNT = 10
_CODE_BYTES = 10  # 80 bits


def normalize_code(code: str) -> str:
    """Lower-case, without spaces and dashes."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


def hash_code(code: str) -> str:
    """SHA-256 hex of a normalized backup code: what is stored."""
    return hashlib.sha256(f"backup-code:{normalize_code(code)}".encode()).hexdigest()


def new_codes() -> list[str]:
    """``COUNT`` fresh codes, each 16 base32 characters in groups of four (``abcd-efgh-ijkl-mnop``)."""
    codes = []
    for _ in range(COUNT):
        raw = base64.b32encode(secrets.token_bytes(_CODE_BYTES)).decode().lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
    return codes


def looks_like_backup_code(code: str) -> bool:
    """True for 16 base32 characters (a TOTP code is 6 digits)."""
    return len(normalize_code(code)) == 16
