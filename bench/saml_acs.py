"""Benchmark: a full ACS POST against python3-saml's bare validation, on responses of the same shape.

Run: .venv/bin/python bench/saml_acs.py [--iterations N]

- "ACS POST": the Django test client posts a freshly signed SAMLResponse (replays are refused) to
  /sso/acme/saml/acs/ on PostgreSQL, with every database write (replay record, purge, pending login claimed and
  answered); the pending login is started by a GET of /sso/acme/saml/login/ outside the timing.
- "bare": OneLogin_Saml2_Response(settings, response).is_valid(request_data, request_id) with settings built once.
Both sign with the same test IdP key, one assertion signed with RSA-SHA256, same attributes. Prints the medians
side by side and exits 1 when the ACS median is more than 3 times the bare one.

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/orgsec_saml_bench), dropped
and created afresh each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_RATIO = 3.0


def fresh_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=150)
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/orgsec_saml_bench")
    fresh_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from django.db import connection as db_connection
    from django.test import Client
    from onelogin.saml2.response import OneLogin_Saml2_Response

    from audit.recorder import Actor
    from orgsecurity import actions as org_actions
    from orgsecurity.models import User
    from sso.assertion import AssertedIdentity
    from sso.connections import actions as sso_actions
    from sso.saml import actions as saml_actions
    from sso.saml.config import onelogin_settings, request_data, sp_endpoints
    from sso.saml.metadata import parse_idp_metadata
    from tests.sso.saml.idp import TestIdP, redirect_message

    idp = TestIdP()
    owner = User.objects.create_user("owner@acme.test", "bench-password-123")
    org = org_actions.create_organization(slug="acme", name="Acme", owner=owner, actor=Actor.system("bench"))
    connection = saml_actions.create_saml_connection(
        org, actor=owner, idp=parse_idp_metadata(idp.metadata_xml()), source="xml", attribute_map={"email": "mail"}
    )
    sso_actions.set_status(connection, actor=owner, status="testing")  # off → on goes through testing
    connection = sso_actions.set_status(connection, actor=owner, status="on")
    identity = AssertedIdentity(
        issuer=idp.entity_id,
        subject="owner-1",
        subject_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        attributes={"mail": ["owner@acme.test"]},
    )
    sso_actions.link_identity(connection, owner, identity, actor=owner, via="bench")
    sp = sp_endpoints("acme")
    attributes = {"mail": ["owner@acme.test"], "displayName": ["Olivia Owner"], "groups": ["admins", "staff"]}

    def signed(request_id: str) -> str:
        return idp.response(
            sp_entity_id=sp.entity_id,
            acs_url=sp.acs_url,
            name_id="owner-1",
            in_response_to=request_id,
            attributes=attributes,
        )

    settings = onelogin_settings(connection)
    data = request_data(sp.acs_url)
    load_before = os.getloadavg()[0]
    # ACS and bare runs alternate, so both see the same load on a shared machine.
    acs_times, finish_times, bare_times, queries, db_times = [], [], [], [], []
    # One client each, as one server process: a new test Client would load the middleware again every time.
    browser, idp_post = Client(), Client()
    for iteration in range(args.iterations + 10):
        browser.cookies.clear()  # a new visitor each time
        location = browser.get("/sso/acme/saml/login/")["Location"]
        request_id = redirect_message(location)[1]["RelayState"][0]
        payload = {"SAMLResponse": signed(request_id)}
        idp_post.cookies.clear()  # the IdP's cross-site POST carries no session cookie
        executed: list[float] = []

        def count(execute, sql, *rest, _executed=executed):
            started = time.perf_counter()
            try:
                return execute(sql, *rest)
            finally:
                _executed.append(time.perf_counter() - started)

        with db_connection.execute_wrapper(count):
            started = time.perf_counter()
            response = idp_post.post("/sso/acme/saml/acs/", payload)
            elapsed = time.perf_counter() - started
        if response.status_code != 302:
            print(f"ACS refused the response: {response.status_code} {response.content[:300]!r}")
            return 1
        started = time.perf_counter()
        finished = browser.get(response["Location"])
        finish_elapsed = time.perf_counter() - started
        if finished.status_code != 302 or finished["Location"] != "/orgs/acme/":
            print(f"finishing failed: {finished.status_code}")
            return 1

        bare_request_id = f"_bench{iteration:06d}"
        bare_response = signed(bare_request_id)
        started = time.perf_counter()
        valid = OneLogin_Saml2_Response(settings, bare_response).is_valid(data, bare_request_id, raise_exceptions=True)
        bare_elapsed = time.perf_counter() - started
        assert valid
        if iteration >= 10:
            acs_times.append(elapsed)
            finish_times.append(finish_elapsed)
            bare_times.append(bare_elapsed)
            queries.append(len(executed))
            db_times.append(sum(executed))

    acs, bare, finish = (statistics.median(values) * 1000 for values in (acs_times, bare_times, finish_times))
    ratio = acs / bare
    print(f"iterations: {args.iterations} each (after 10 warm-up), database: PostgreSQL ({urlsplit(url).path[1:]})")
    print(f"load average before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'measure':<46}{'median ms':>10}")
    print(f"{'bare python3-saml Response.is_valid':<46}{bare:>10.2f}")
    print(
        f"{'full ACS POST (Django client, all DB writes)':<46}{acs:>10.2f}   ({statistics.median(queries):.0f} queries)"
    )
    print(f"{'  of which in database queries':<46}{statistics.median(db_times) * 1000:>10.2f}")
    print(f"{'then the finishing GET (sign-in, session)':<46}{finish:>10.2f}")
    print(
        f"ratio ACS / bare: {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x): {'OK' if ratio <= TARGET_RATIO else 'MISSED'}"
    )
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
