"""Many app processes: a revocation or policy change made through one is enforced by another on its next request.

Two gunicorn servers share one database made for this test (a temporary SQLite file on the SQLite pass, a
temporary PostgreSQL database on the PostgreSQL pass). Nothing is shared between them but that database.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import requests
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(8310, 8400)  # this worktree's port range is 8300-8399
OWNER = "owner@acme.test"
PASSWORD = "cross-process password 123"


def free_ports(count: int) -> list[int]:
    found = []
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError("No free port in 8310-8399 for the test servers.")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cross-process")


@pytest.fixture(scope="module")
def shared_database(workdir) -> Iterator[str]:
    """A DATABASE_URL for a fresh database of the same kind as the suite's, dropped afterwards."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        yield f"sqlite:///{workdir / 'shared.sqlite3'}"
        return
    import psycopg

    name = f"test_{database['NAME'].removeprefix('test_')}_xproc"
    params = {key: database[key.upper()] for key in ("host", "port", "user", "password") if database[key.upper()]}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    try:
        yield f"postgres://{credentials}@{database['HOST']}:{database['PORT'] or 5432}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "OWNER_PASSWORD": PASSWORD,
    }


@pytest.fixture(scope="module")
def servers(shared_database, workdir) -> Iterator[list[str]]:
    """Two gunicorn servers (two processes) on the shared database; yields their base URLs."""
    env = environment(shared_database)
    for command in (
        ["migrate", "--noinput"],
        ["createorg", "acme", "--name", "Acme Inc.", "--owner", OWNER, "--password-from-env", "OWNER_PASSWORD"],
    ):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    started: list[subprocess.Popen] = []
    urls = []
    try:
        for port in free_ports(2):
            log = (workdir / f"gunicorn-{port}.log").open("w")
            command = [
                "-m",
                "gunicorn",
                "orgsecurity.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ]
            started.append(
                subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_until_up(url)
        yield urls
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=20)


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/accounts/login/", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"The test server at {url} did not start.")


class Browser:
    """One browser talking to one server. Keeps cookies itself: the production-like settings mark them Secure,
    and a standard cookie jar would not send Secure cookies over this plain-HTTP loopback."""

    def __init__(self, base_url: str, user_agent: str) -> None:
        self.base_url, self.user_agent = base_url, user_agent
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict[str, str] | None = None) -> requests.Response:
        headers = {"User-Agent": self.user_agent, "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        response = requests.request(
            method, self.base_url + path, data=data, headers=headers, allow_redirects=False, timeout=10
        )
        for header in response.raw.headers.getlist("Set-Cookie"):
            parsed = SimpleCookie()
            parsed.load(header)
            for name, morsel in parsed.items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return response

    def get(self, path: str) -> requests.Response:
        return self.request("GET", path)

    def submit(self, page_path: str, action: str, data: dict[str, str]) -> requests.Response:
        """Post a form of ``page_path`` to ``action``, with that page's CSRF token."""
        page = self.get(page_path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return self.request("POST", action, {**data, "csrfmiddlewaretoken": token})

    def sign_in(self) -> None:
        response = self.submit("/accounts/login/", "/accounts/login/", {"username": OWNER, "password": PASSWORD})
        assert response.status_code == 302, response.text[:500]


def test_a_revocation_through_one_process_holds_in_the_other(servers):
    first, second = servers
    laptop = Browser(first, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
    laptop.sign_in()
    assert laptop.get("/orgs/acme/").status_code == 200

    phone = Browser(second, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Version/17.5 Mobile Safari/604.1")
    phone.sign_in()
    sessions_page = phone.get("/accounts/sessions/").text
    assert "Firefox on Linux" in sessions_page  # the laptop's session, made by the other process
    end_laptop = re.search(r'action="(/accounts/sessions/\d+/end/)"', sessions_page).group(1)
    assert phone.submit("/accounts/sessions/", end_laptop, {}).status_code == 302

    response = laptop.get("/orgs/acme/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/")


def test_a_policy_change_through_one_process_holds_in_the_other(servers):
    first, second = servers
    laptop = Browser(first, "Firefox on the laptop")
    laptop.sign_in()
    time.sleep(0.01)  # the phone's sign-in must be strictly newer (real clocks in real processes)
    phone = Browser(second, "Safari on the phone")
    phone.sign_in()
    assert laptop.get("/orgs/acme/").status_code == 200

    policy = {
        "idle_timeout_s_0": "30",
        "idle_timeout_s_1": "minutes",
        "absolute_timeout_s_0": "12",
        "absolute_timeout_s_1": "hours",
        "reauth_max_age_s_0": "15",
        "reauth_max_age_s_1": "minutes",
        "single_session": "on",
    }
    page = "/orgs/acme/settings/security/sessions/"
    assert phone.submit(page, page, policy).status_code == 302

    response = laptop.get("/orgs/acme/")  # the older session, in the other process
    assert response.status_code == 401
    assert "allows one session at a time" in response.text
    assert phone.get("/orgs/acme/").status_code == 200
