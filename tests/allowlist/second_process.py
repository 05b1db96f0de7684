"""A second application process for the cross-process tests: it serves the requests it reads on stdin.

Each stdin line is JSON ``{"user": email, "ip": client IP, "path": path}``; each answer on stdout is JSON
``{"status": HTTP status, "cached": [[allowlist id, version], ...]}``. It runs the whole middleware stack with
its own memory (and its own compiled-matcher cache), against the database named by DATABASE_URL.
"""

from __future__ import annotations

import json
import os
import sys
import warnings

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
warnings.filterwarnings("ignore", message="No directory at")  # whitenoise, as in pyproject's pytest settings
django.setup()

from django.test import Client  # noqa: E402

from allowlist.policy import cached_versions  # noqa: E402
from orgsecurity.models import User  # noqa: E402
from tests.helpers.core import sign_in_client  # noqa: E402


def main() -> None:
    clients: dict[tuple[str, str], Client] = {}
    for line in sys.stdin:
        command = json.loads(line)
        key = (command["user"], command["ip"])
        if key not in clients:
            clients[key] = Client(REMOTE_ADDR=command["ip"])
            sign_in_client(clients[key], User.objects.get(email=command["user"]))
        response = clients[key].get(command["path"])
        print(json.dumps({"status": response.status_code, "cached": cached_versions()}), flush=True)


if __name__ == "__main__":
    main()
