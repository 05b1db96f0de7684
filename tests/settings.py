"""Test settings: the production settings module, fed a production-like environment.

Only what tests cannot have is changed here (plain HTTP test client, fast password hashing, in-memory
email); security settings stay as in production so the tests exercise them.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1,app.test")
os.environ.setdefault("PUBLIC_BASE_URL", "https://testserver")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "0tWm2pvPUa3T9u0y6Wd6RyvRwVAKw0Y2Mb4bx3AQLCs=")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from orgsecurity.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
