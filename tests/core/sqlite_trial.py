"""Concurrent requests against the embedded default, SQLite in a file, as a local trial runs it.

Run as ``python -m tests.core.sqlite_trial`` with ``DATABASE_URL=sqlite:///<a new file>``: it migrates that database,
then prints as JSON what two scenarios answered:

- ``replays``: the HTTP statuses of REPLAYS threads posting one signed SAML answer to the ACS at once (a browser
  retrying, an attacker replaying);
- ``read_then_write``: what two transactions that each read and then write, at the same moment, ended with ("ok" or
  the error), as the sign-in claim and the audit recorder do.

A separate process, because a SQLite test run keeps its test database in memory, where SQLite locks tables rather
than the file and never waits: only a file database behaves as the embedded default does.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from typing import Any

REPLAYS = 32
READ_PAUSE_SECONDS = 1.0


def _in_threads(count: int, target: Any) -> None:
    from django.db import connections

    def run(number: int) -> None:
        try:
            target(number)
        finally:
            connections.close_all()  # each thread had its own connection

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def replays() -> list[int]:
    from django.db import connections
    from django.test import Client

    from sso.assertion import AssertedIdentity
    from sso.connections import actions as sso_actions
    from sso.saml.config import sp_endpoints
    from tests.helpers.core import add_member, make_org, make_user
    from tests.helpers.saml import connect, start
    from tests.sso.saml.idp import PERSISTENT, TestIdP

    owner = make_user("owner@acme.test")
    org = make_org("acme", owner, "Acme Inc.")
    member = make_user("member@acme.test")
    add_member(org, member, "member")
    idp = TestIdP()
    connection = connect(org, owner, idp)
    identity = AssertedIdentity(
        issuer=connection.saml.idp_entity_id,
        subject="mia-123",
        subject_format=PERSISTENT,
        attributes={"mail": [member.email]},
    )
    sso_actions.link_identity(connection, member, identity, actor=member, via="tests")
    sp = sp_endpoints("acme")
    request_id = start(Client())
    answer = idp.response(sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="mia-123", in_response_to=request_id)
    connections.close_all()

    go = threading.Barrier(REPLAYS)
    statuses: list[int] = []

    def replay(number: int) -> None:
        client = Client(raise_request_exception=False)  # a 500 is an answer to report
        go.wait(timeout=60)
        statuses.append(client.post("/sso/acme/saml/acs/", {"SAMLResponse": answer}).status_code)

    _in_threads(REPLAYS, replay)
    return sorted(statuses)


def read_then_write() -> list[str]:
    from django.db import DatabaseError, transaction

    from orgsecurity.models import Organization

    both_read = threading.Barrier(2)
    outcomes: list[str] = []

    def write(number: int) -> None:
        try:
            with transaction.atomic():
                organization = Organization.objects.get(slug="acme")
                # Both have read before either writes. (Where a transaction takes the write lock when it begins, the
                # second waits for the first to commit, and the barrier gives up waiting for it.)
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_read.wait(timeout=READ_PAUSE_SECONDS)
                Organization.objects.filter(pk=organization.pk).update(name=f"Acme {number}")
            outcomes.append("ok")
        except DatabaseError as exc:
            outcomes.append(str(exc))

    _in_threads(2, write)
    return outcomes


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    json.dump({"replays": replays(), "read_then_write": read_then_write()}, sys.stdout)


if __name__ == "__main__":
    main()
