"""Settings come from the environment, fail loudly on bad values, and pass `check --deploy` in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "p" * 60 + "QWERTYUIOPasdfghjkl0987654321",
    "ALLOWED_HOSTS": "security.example.com",
    "PUBLIC_BASE_URL": "https://security.example.com",
    "FIELD_ENCRYPTION_KEYS": "0tWm2pvPUa3T9u0y6Wd6RyvRwVAKw0Y2Mb4bx3AQLCs=",
    "DATABASE_URL": "sqlite:////tmp/orgsecurity-settings-test.sqlite3",
}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    from orgsecurity.env import READ

    clean = {key: value for key, value in os.environ.items() if key not in READ}
    clean.update(DJANGO_SETTINGS_MODULE="orgsecurity.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"SECRET_KEY": "x"}, "SECRET_KEY is too short"),
        ({"SECRET_KEY": "a" * 60}, "too uniform"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is required"),
        ({"PUBLIC_BASE_URL": "http://security.example.com"}, "must use https"),
        ({"PUBLIC_BASE_URL": "https://x.example.com/sub/"}, "must not have a path"),
        ({"DEBUG": "maybe"}, "is not a boolean"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-key"}, "is not a Fernet key"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL must be postgres"),
        ({"TRUSTED_PROXIES": "10.0.0.0/8,banana"}, "'banana' is not an IP address or CIDR"),
        ({"LOGIN_FAILURE_LIMIT": "five"}, "is not an integer"),
        ({"LOGIN_ACCOUNT_FAILURE_CEILING": "1000"}, "above the maximum 100"),
        ({"SSO_METADATA_ALLOW_PRIVATE_HOSTS": "127.0.0.1/32,localhost"}, "'localhost' is not an IP address or CIDR"),
        ({"HUEY_URL": "amqp://rabbit/"}, "HUEY_URL='amqp://rabbit/' is not a queue URL"),
        ({"HUEY_URL": "redis://"}, "names no Redis host"),
        ({"HUEY_URL": "sqlite:///:memory:"}, "is not shared with the consumer"),
        ({"HUEY_QUEUE": "my queue"}, "HUEY_QUEUE='my queue' must be"),
        ({"HUEY_WORKERS": "0"}, "HUEY_WORKERS=0 is below the minimum 1"),
        ({"HUEY_IMMEDIATE": "sometimes"}, "HUEY_IMMEDIATE='sometimes' is not a boolean"),
    ],
)
def test_bad_values_stop_start_up_with_a_clear_message(override, message):
    result = run_manage("check", **{**PRODUCTION, **override})
    assert result.returncode != 0
    assert message in result.stderr


def test_secret_can_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("f0e1d2c3b4a5" * 5 + "z9y8\n")
    env = {**PRODUCTION, "SECRET_KEY_FILE": str(secret_file)}
    del env["SECRET_KEY"]
    result = run_manage("shell", "-c", "from django.conf import settings; print(len(settings.SECRET_KEY))", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("64")


def test_a_configuration_error_is_one_clear_line_not_a_traceback():
    result = run_manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Configuration error: SECRET_KEY is required when DEBUG is off (50+ random characters). "
        "For a local development run, set DEBUG=1 (as `make run` does)."
    ]


def test_production_cookies_are_secure_and_host_prefixed():
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
        "s.CSRF_COOKIE_NAME, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    result = run_manage("shell", "-c", code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-7:] == [
        "__Host-orgsecurity-session", "True", "True", "Lax", "__Host-orgsecurity-csrf", "True", "31536000"
    ]  # fmt: skip


def test_redis_cache_url_selects_the_redis_backend():
    code = "from django.conf import settings as s; print(s.CACHES['default']['BACKEND'])"
    result = run_manage("shell", "-c", code, CACHE_URL="redis://127.0.0.1:6379/3", **PRODUCTION)
    assert result.stdout.strip().endswith("django.core.cache.backends.redis.RedisCache")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", "['0.0.0.0/0', '::/0']"), ("127.0.0.1/32,::1", "['127.0.0.1/32', '::1']"), ("0", "[]"), ("", "[]")],
)
def test_private_metadata_hosts_are_a_cidr_list_or_1_for_all(value, expected):
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS)",
        **PRODUCTION,
        SSO_METADATA_ALLOW_PRIVATE_HOSTS=value,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_every_variable_the_settings_read_is_documented_in_the_readme():
    from orgsecurity import env

    readme = (ROOT / "README.md").read_text()
    undocumented = sorted(name for name in env.READ if not name.endswith("_FILE") and f"`{name}`" not in readme)
    assert not undocumented, f"README.md does not document: {undocumented}"


HUEY_OF = "from django.conf import settings; h = settings.HUEY; print(h['huey_class'], h.get('connection'), h['name'])"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "huey.SqliteHuey {'filename': '/tmp/orgsecurity-settings-test-huey.sqlite3'} orgsecurity"),
        ({"CACHE_URL": "redis://cache:6379/0"}, "huey.RedisHuey {'url': 'redis://cache:6379/0'} orgsecurity"),
        (
            {"CACHE_URL": "redis://cache:6379/0", "HUEY_URL": "redis://queue:6379/2", "HUEY_QUEUE": "prod"},
            "huey.RedisHuey {'url': 'redis://queue:6379/2'} prod",
        ),
        (
            {"HUEY_URL": "sqlite:////var/lib/q.sqlite3"},
            "huey.SqliteHuey {'filename': '/var/lib/q.sqlite3'} orgsecurity",
        ),
    ],
)
def test_the_worker_queue_follows_the_environment(env, expected):
    result = run_manage("shell", "-c", HUEY_OF, **{**PRODUCTION, **env})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
