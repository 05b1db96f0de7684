"""The test settings pin what the tests assume, whatever the shell exports (`DEBUG=1` from a development shell used to
give `make test` development cookie names); only the run's database and cache come from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orgsecurity import env

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"DATABASE_URL", "CACHE_URL"}
DUMP = (
    "import json, tests.settings as s; "
    "print(json.dumps({name: repr(getattr(s, name)) for name in dir(s) if name.isupper()}, sort_keys=True))"
)


def settings_under(environment: dict[str, str]) -> dict[str, str]:
    """Every setting of tests.settings, as repr, imported in a fresh process with ``environment`` on top of ours
    less every variable the settings read (but the run's database and cache)."""
    base = {
        name: value
        for name, value in os.environ.items()
        if name not in env.READ or name.removesuffix("_FILE") in SERVICES
    }
    result = subprocess.run(
        [sys.executable, "-c", DUMP],
        cwd=ROOT,
        env={**base, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def clean() -> dict[str, str]:
    return settings_under({})


def test_debug_exported_in_the_shell_changes_nothing(clean):
    under_debug = settings_under({"DEBUG": "1"})
    assert under_debug == clean
    assert under_debug["DEBUG"] == "False"
    # What the cookie tests assume: production cookies.
    assert under_debug["SESSION_COOKIE_NAME"] == "'__Host-orgsecurity-session'"
    assert under_debug["CSRF_COOKIE_NAME"] == "'__Host-orgsecurity-csrf'"
    assert under_debug["SESSION_COOKIE_SECURE"] == under_debug["CSRF_COOKIE_SECURE"] == "True"


def test_no_variable_the_settings_read_comes_from_the_shell(clean):
    # Each reader also looks at NAME_FILE, and fails loudly when that file cannot be read: were any variable still
    # read from the shell, importing the settings would stop.
    every_file_form = {
        f"{name}_FILE": "/nonexistent/exported-by-the-shell"
        for name in env.READ
        if not name.endswith("_FILE") and name not in SERVICES
    }
    assert "DEBUG_FILE" in every_file_form and "SECRET_KEY_FILE" in every_file_form
    assert settings_under(every_file_form) == clean


def test_changed_limits_in_the_shell_do_not_reach_the_tests(clean):
    exported = {
        "LOGIN_FAILURE_LIMIT": "1",
        "SESSION_COOKIE_AGE": "300",
        "TRUSTED_PROXY_COUNT": "2",
        "SECURE_SSL_REDIRECT": "1",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "SSO_METADATA_ALLOW_PRIVATE_HOSTS": "1",
    }
    assert settings_under(exported) == clean


def test_the_database_and_cache_of_the_run_still_come_from_the_environment(clean):
    chosen = settings_under({"CACHE_URL": "redis://127.0.0.1:6379/9", "DATABASE_URL": "sqlite:////srv/elsewhere.db"})
    assert "redis://127.0.0.1:6379/9" in chosen["CACHES"]
    assert "/srv/elsewhere.db" in chosen["DATABASES"]
