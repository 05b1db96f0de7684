"""Test settings: the production settings module, fed a production-like environment that the shell cannot change.

The settings read only the variables below, whatever the shell exports (``DEBUG=1`` from a development shell would
otherwise give the tests development cookie names and plain-HTTP cookies), except the services of this run:
``DATABASE_URL`` and ``CACHE_URL`` (CI and developers point the tests at their PostgreSQL and Redis). Every other
setting has its production default. Only what tests cannot have is changed here (plain HTTP test client, fast
password hashing, in-memory email); security settings stay as in production so the tests exercise them.
"""

import os

from orgsecurity import env

PINNED_ENVIRONMENT = {
    "DEBUG": "0",
    "SECRET_KEY": "test-secret-key-" + "x" * 40,
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1,app.test",
    "PUBLIC_BASE_URL": "https://testserver",
    "FIELD_ENCRYPTION_KEYS": "0tWm2pvPUa3T9u0y6Wd6RyvRwVAKw0Y2Mb4bx3AQLCs=",
    "SECURE_SSL_REDIRECT": "0",
}
FROM_THE_ENVIRONMENT = ("DATABASE_URL", "CACHE_URL")

_services = {
    name: os.environ[name]
    for variable in FROM_THE_ENVIRONMENT
    for name in (variable, f"{variable}_FILE")
    if name in os.environ
}
with env.reading_from({**_services, **PINNED_ENVIRONMENT}):
    from orgsecurity.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Huey runs tasks inline, in memory, in tests (the worker's settings replace this at merge: see issue 17).
HUEY = {"name": "orgsecurity-tests", "immediate": True}
