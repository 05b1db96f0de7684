"""Benchmark: a full SSO sign-in (ACS POST, then the finishing GET) against what it rests on.

Run: .venv/bin/python bench/saml_acs.py [--iterations N]

- "ACS POST": the Django test client posts a freshly signed SAMLResponse (replays are refused) to
  /sso/acme/saml/acs/ on PostgreSQL, with every database write (replay record, purge, pending login claimed and
  answered); the pending login is started by a GET of /sso/acme/saml/login/ outside the timing.
- "bare": OneLogin_Saml2_Response(settings, response).is_valid(request_data, request_id) with settings built once.
- "finishing GET": the browser's GET of /sso/acme/finish/?token=… that the ACS redirects to, which signs the person
  in (session, audit events).
- "plain login": a POST of email and password to django.contrib.auth's ``LoginView`` mounted on the same URLconf,
  settings, middleware and database, for a user of the same organization; the test settings' MD5 hasher keeps the
  password check out of the comparison.
Both SAML sides sign with the same test IdP key, one assertion signed with RSA-SHA256, same attributes. The four
alternate in each iteration, so all see the same load. Prints the medians side by side and the queries of each step
(from one iteration), and exits 1 when the ACS median is more than 3 times the bare one or the finishing GET more
than 1.5 times the plain login.

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
TARGET_RATIO = 3.0  # ACS POST / bare python3-saml validation
FINISH_TARGET_RATIO = 1.5  # finishing GET / plain LoginView POST


def fresh_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def bench_urlconf() -> str:
    """A URLconf of the project's URLs plus a plain ``LoginView`` at /bench/login/; returns its module name."""
    import types

    from django.contrib.auth.views import LoginView
    from django.urls import include, path

    module = types.ModuleType("bench_saml_acs_urls")
    module.urlpatterns = [
        path("bench/login/", LoginView.as_view(template_name="sso/saml/post_binding.html")),
        path("", include("orgsecurity.urls")),
    ]
    sys.modules[module.__name__] = module
    return module.__name__


class Queries:
    """Records the SQL and the time of each query run inside ``with connection.execute_wrapper(queries):``.
    (Not CaptureQueriesContext: the test client's request_started signal empties the connection's query log.)"""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.seconds: list[float] = []

    def __call__(self, execute, sql, *rest):
        started = time.perf_counter()
        try:
            return execute(sql, *rest)
        finally:
            self.seconds.append(time.perf_counter() - started)
            self.sql.append(sql)

    def __len__(self) -> int:
        return len(self.sql)


def print_queries(title: str, queries: Queries) -> None:
    print(f"\n{title}: {len(queries)} queries")
    for number, sql in enumerate(queries.sql, 1):
        sql = " ".join(sql.split())
        print(f"  {number:2}. {sql[:150]}{'…' if len(sql) > 150 else ''}")


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
    from django.conf import settings as django_settings

    django_settings.ROOT_URLCONF = bench_urlconf()
    django_settings.SSO_START_LIMIT = 10**9  # one client starts every sign-in here: not what the limit is about

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
    member = User.objects.create_user("member@acme.test", "bench-password-123")
    org_actions.add_member(org, actor=Actor.system("bench"), user=member, role="member", via="bench")
    credentials = {"username": "member@acme.test", "password": "bench-password-123"}
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
    acs_times, finish_times, login_times, bare_times, queries, db_times = [], [], [], [], [], []
    # One client each, as one server process: a new test Client would load the middleware again every time.
    browser, idp_post, password_browser = Client(), Client(), Client()
    shown: dict[str, Queries] = {}
    for iteration in range(args.iterations + 10):
        browser.cookies.clear()  # a new visitor each time
        location = browser.get("/sso/acme/saml/login/")["Location"]
        request_id = redirect_message(location)[1]["RelayState"][0]
        payload = {"SAMLResponse": signed(request_id)}
        idp_post.cookies.clear()  # the IdP's cross-site POST carries no session cookie
        show = iteration == 10  # the first measured iteration: keep the queries of each step to print
        acs_queries, finish_queries, login_queries = Queries(), Queries(), Queries()
        with db_connection.execute_wrapper(acs_queries):
            started = time.perf_counter()
            response = idp_post.post("/sso/acme/saml/acs/", payload)
            elapsed = time.perf_counter() - started
        if response.status_code != 302:
            print(f"ACS refused the response: {response.status_code} {response.content[:300]!r}")
            return 1
        with db_connection.execute_wrapper(finish_queries):
            started = time.perf_counter()
            finished = browser.get(response["Location"])
            finish_elapsed = time.perf_counter() - started
        if finished.status_code != 302 or finished["Location"] != "/orgs/acme/":
            print(f"finishing failed: {finished.status_code}")
            return 1

        password_browser.cookies.clear()
        password_browser.get("/bench/login/")  # the form's session and CSRF cookie, outside the timing
        with db_connection.execute_wrapper(login_queries):
            started = time.perf_counter()
            logged_in = password_browser.post("/bench/login/", credentials)
            login_elapsed = time.perf_counter() - started
        if logged_in.status_code != 302:
            print(f"plain login failed: {logged_in.status_code}")
            return 1
        if show:
            shown = {"ACS POST": acs_queries, "finishing GET": finish_queries, "plain LoginView POST": login_queries}

        bare_request_id = f"_bench{iteration:06d}"
        bare_response = signed(bare_request_id)
        started = time.perf_counter()
        valid = OneLogin_Saml2_Response(settings, bare_response).is_valid(data, bare_request_id, raise_exceptions=True)
        bare_elapsed = time.perf_counter() - started
        assert valid
        if iteration >= 10:
            acs_times.append(elapsed)
            finish_times.append(finish_elapsed)
            login_times.append(login_elapsed)
            bare_times.append(bare_elapsed)
            queries.append(len(acs_queries))
            db_times.append(sum(acs_queries.seconds))

    acs, bare, finish, login = (
        statistics.median(values) * 1000 for values in (acs_times, bare_times, finish_times, login_times)
    )
    ratio = acs / bare
    finish_ratio = finish / login
    print(f"iterations: {args.iterations} each (after 10 warm-up), database: PostgreSQL ({urlsplit(url).path[1:]})")
    print(f"load average before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'measure':<46}{'median ms':>10}")
    print(f"{'bare python3-saml Response.is_valid':<46}{bare:>10.2f}")
    print(
        f"{'full ACS POST (Django client, all DB writes)':<46}{acs:>10.2f}   ({statistics.median(queries):.0f} queries)"
    )
    print(f"{'  of which in database queries':<46}{statistics.median(db_times) * 1000:>10.2f}")
    print(f"{'then the finishing GET (sign-in, session)':<46}{finish:>10.2f}   ({len(shown['finishing GET'])} queries)")
    print(f"{'plain LoginView POST (MD5 hasher)':<46}{login:>10.2f}   ({len(shown['plain LoginView POST'])} queries)")
    for title, captured in shown.items():
        print_queries(title, captured)
    acs_ok, finish_ok = ratio <= TARGET_RATIO, finish_ratio <= FINISH_TARGET_RATIO
    print()
    print(f"ratio ACS / bare: {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x): {'OK' if acs_ok else 'MISSED'}")
    print(
        f"ratio finishing GET / plain login: {finish_ratio:.2f}x (target <= {FINISH_TARGET_RATIO}x): "
        f"{'OK' if finish_ok else 'MISSED'}"
    )
    return 0 if acs_ok and finish_ok else 1


if __name__ == "__main__":
    sys.exit(main())
