"""KEY_HASH_SECRET: the server-side HMAC key for API keys, set explicitly or derived from SECRET_KEY."""

from __future__ import annotations

from tests.core.test_settings import PRODUCTION, run_manage

SHOW = "from django.conf import settings; print(settings.KEY_HASH_SECRET.hex())"


def test_a_short_key_hash_secret_stops_start_up():
    result = run_manage("check", **{**PRODUCTION, "KEY_HASH_SECRET": "too-short"})
    assert result.returncode != 0
    assert "KEY_HASH_SECRET must be at least 32 random characters." in result.stderr


def shown(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_key_hash_secret_is_set_or_derived_and_never_the_secret_key_itself():
    assert shown(run_manage("shell", "-c", SHOW, **{**PRODUCTION, "KEY_HASH_SECRET": "h" * 40})) == "68" * 40
    derived = shown(run_manage("shell", "-c", SHOW, **PRODUCTION))
    other = shown(run_manage("shell", "-c", SHOW, **{**PRODUCTION, "SECRET_KEY": "q1w2e3r4t5" * 7}))
    assert len(derived) == 64 and derived != PRODUCTION["SECRET_KEY"].encode().hex()
    assert derived != other  # replacing SECRET_KEY changes it, hence the advice to set it explicitly
