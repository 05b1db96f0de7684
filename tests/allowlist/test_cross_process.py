"""A change made in one process is enforced by every other process on its next request.

Each request reads the allowlist's version from the database, and compiled matchers are cached under
(allowlist id, version), so a change needs no message to other processes: the first test shows the old
compiled matcher is still cached after a change and yet never used again; the second runs a real second
process against the same PostgreSQL database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from allowlist import actions
from allowlist.models import IPAllowlist, IPAllowlistEntry
from allowlist.policy import cached_versions
from tests.helpers.allowlist import HOME_IP, OFFICE, OFFICE_IP, enable

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_keyed_cache_never_serves_a_stale_allow(client_at, org, owner, member):
    enable(org, owner, OFFICE, f"{HOME_IP}/32")
    allowlist = IPAllowlist.objects.get()
    member_at_home = client_at(member, ip=HOME_IP)
    assert member_at_home.get("/orgs/acme/").status_code == 200
    old_key = (allowlist.pk, allowlist.version)
    assert old_key in cached_versions()

    # Another process removes the entry: simulated here by changing the rows underneath this process,
    # without calling anything that could touch this process's memory.
    IPAllowlistEntry.objects.filter(cidr=f"{HOME_IP}/32").delete()
    IPAllowlist.objects.filter(pk=allowlist.pk).update(version=allowlist.version + 1)

    assert member_at_home.get("/orgs/acme/").status_code == 403
    # The stale matcher is still in memory, under a key no request will ask for again.
    assert old_key in cached_versions()
    assert (allowlist.pk, allowlist.version + 1) in cached_versions()


def test_every_change_through_an_action_bumps_the_version(org, owner):
    versions = []

    def version() -> int:
        versions.append(IPAllowlist.objects.get().version)
        return versions[-1]

    actions.add_entry(org, OFFICE, actor=owner)
    version()
    actions.add_entries(org, "2001:db8::/32\n192.0.2.1", actor=owner)
    version()
    actions.update_settings(org, actor=owner, actor_ip=OFFICE_IP, enabled=True, scope="dashboard")
    version()
    actions.update_settings(org, actor=owner, actor_ip=OFFICE_IP, enabled=True, scope="both")
    version()
    actions.remove_entries(org, [IPAllowlistEntry.objects.get(cidr="192.0.2.1/32").pk], actor=owner, actor_ip=OFFICE_IP)
    version()
    from tests.helpers.core import make_user

    actions.disable_for_support(org, staff=make_user("staff@platform.test", is_staff=True), reason="ticket")
    version()
    assert versions == sorted(set(versions))
    assert len(versions) == 6


class SecondProcess:
    """Drives ``second_process.py`` in another Python interpreter, on the test database."""

    def __init__(self, database_url: str) -> None:
        env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.allowlist.second_process"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def get(self, user: str, ip: str, path: str = "/orgs/acme/") -> dict:
        self.process.stdin.write(json.dumps({"user": user, "ip": ip, "path": path}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the second process exited"
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_in_one_process_is_enforced_in_another(org, owner, member):
    enable(org, owner, OFFICE, "2001:db8::/32")
    other = SecondProcess(_test_database_url())
    try:
        first = other.get(member.email, OFFICE_IP)
        assert first["status"] == 200
        assert other.get(member.email, HOME_IP)["status"] == 403

        # This process changes the list; the other one sees it on its very next request.
        actions.add_entry(org, f"{HOME_IP}/32", actor=owner)
        assert other.get(member.email, HOME_IP)["status"] == 200
        office = IPAllowlistEntry.objects.get(cidr=OFFICE)
        actions.remove_entries(org, [office.pk], actor=owner, actor_ip=HOME_IP)
        answer = other.get(member.email, OFFICE_IP)
        assert answer["status"] == 403
        assert len(answer["cached"]) > len(first["cached"])

        actions.update_settings(org, actor=owner, actor_ip=HOME_IP, enabled=False, scope="dashboard")
        assert other.get(member.email, OFFICE_IP)["status"] == 200
    finally:
        other.close()
