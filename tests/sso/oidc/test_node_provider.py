"""The whole OIDC rollout against a real OpenID Provider (node-oidc-provider, tests/e2e/idp_oidc.py) and a live
server of the product (pytest-django's LiveServer), driven with a real HTTP client (requests) that fills in the
provider's sign-in page.

An admin adds the connection (issuer, client ID, secret) and runs Test SSO; SSO is turned on; a member links
their account and later signs in through the provider alone; re-authentication forces a fresh provider login;
sign-out ends the session. Marked e2e: it needs node and ``npm ci --prefix tests/e2e/oidc_provider``; missing,
it skips, or fails under CI=true. It lives outside tests/e2e because it checks the database in-process, which
Django refuses while the browser tests' Playwright loop runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests
from pytest_django.live_server_helper import LiveServer

from orgsecurity.models import User
from sso.models import SSOConnection, SSOIdentity, SSOTestRun
from tests.e2e import harness
from tests.e2e.harness import ToolMissing, free_port
from tests.e2e.idp_oidc import NodeOIDCProvider, require_node_provider
from tests.helpers.core import PASSWORD

pytestmark = pytest.mark.e2e


class Forms(HTMLParser):
    """Every form of a page: action, method and the values its inputs would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        fields = self.forms[-1]["fields"] if self.forms else {}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "method": values.get("method", "get"), "fields": {}})
        elif tag == "input" and values.get("type") in {"checkbox", "radio"}:
            if "checked" in values and values.get("name"):
                fields[values["name"]] = values.get("value", "on")
        elif tag in {"input", "button"} and values.get("name"):
            fields[values["name"]] = values.get("value", "")
        elif tag == "select":
            self.select = values.get("name")
        elif tag == "option" and self.select and (self.select not in fields or "selected" in values):
            fields[self.select] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None


def forms_of(response: requests.Response) -> list[dict]:
    parser = Forms()
    parser.feed(response.text)
    return parser.forms


def submit(session: requests.Session, response: requests.Response, action_part: str = "", **fields: str):
    """Submit the first form of ``response`` whose action contains ``action_part`` and that has every field
    named in ``fields`` (a form without action posts to the page itself), with ``fields`` filled in."""
    form = next(
        form
        for form in forms_of(response)
        if action_part in form["action"] and all(name in form["fields"] or name == "password" for name in fields)
    )
    url = urljoin(response.url, form["action"] or response.url)
    return session.post(url, data={**form["fields"], **fields}, timeout=30)


def through_provider(session: requests.Session, response: requests.Response, provider, login: str):
    """Answer the provider's sign-in (and any consent) page until it sends the browser back to us."""
    for _ in range(5):
        if not response.url.startswith(provider.issuer):
            return response
        assert response.status_code == 200, response.text[:500]
        form = forms_of(response)[0]
        fields = {"login": login, "password": provider.user(login).password} if "login" in form["fields"] else {}
        response = session.post(urljoin(response.url, form["action"]), data={**form["fields"], **fields}, timeout=30)
    raise AssertionError(f"Still at the provider after five pages: {response.url}")


@pytest.fixture(scope="session")
def live_product(django_db_setup, django_db_blocker) -> Iterator[LiveServer]:
    """The product on a live server (pytest-django's LiveServer) on localhost, in our port range."""
    with django_db_blocker.unblock():
        server = LiveServer(f"localhost:{free_port()}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def op(live_product) -> Iterator[NodeOIDCProvider]:
    """node-oidc-provider with a client for acme at the live server (the shared e2e provider code)."""
    try:
        require_node_provider()
    except ToolMissing as exc:
        reason = str(exc)
        if harness.in_ci():
            pytest.fail(f"CI=true and the node-oidc-provider tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    provider = NodeOIDCProvider(harness.make_workdir("oidc-live"))
    provider.add_org_client(live_product.url, "acme")
    provider.start()
    yield provider
    provider.stop()
    harness.remove_workdir(provider.workdir)


def client_of(op: NodeOIDCProvider):
    return op.clients["orgsecurity-acme"]


@pytest.fixture
def site(live_product, op, settings, transactional_db):
    """Settings as a plain-http deployment behind the live server would have them."""
    settings.PUBLIC_BASE_URL = live_product.url
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8", "::1/128"]  # the provider listens on 127.0.0.1
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME = "orgsecurity-session", "orgsecurity-csrf"
    settings.CSRF_TRUSTED_ORIGINS = [live_product.url]
    return live_product.url


def password_sign_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=30)
    response = submit(session, page, username=email, password=PASSWORD)
    assert response.status_code == 200 and "/accounts/login/" not in response.url, response.text[:300]
    return session


def test_admin_sets_up_oidc_and_a_member_signs_in_through_the_provider(site, op, org, admin, member):
    base = site
    # 1. The admin adds the connection: only issuer, client ID and secret.
    admin_browser = password_sign_in(base, admin.email)
    page = admin_browser.get(f"{base}/orgs/acme/settings/security/sso/oidc/new/", timeout=30)
    page = submit(
        admin_browser,
        page,
        "",
        issuer=op.issuer,
        client_id=client_of(op).client_id,
        client_secret=client_of(op).client_secret,
        name="Test OP",
    )
    assert page.status_code == 200 and "The OpenID Connect connection is saved" in page.text, page.text[:2000]
    assert f'value="{base}/sso/acme/oidc/callback/"' in page.text
    assert client_of(op).client_secret not in page.text
    connection = SSOConnection.objects.get()

    # 2. Test SSO: a real sign-in at the provider, as the admin.
    response = submit(admin_browser, page, "/test/")
    result = through_provider(admin_browser, response, op, "admin")
    assert "SSO test: Succeeded" in result.text, result.text[:2000]
    assert "admin@acme.test" in result.text and "Adam Admin" in result.text
    assert SSOTestRun.objects.get().result == "success"
    assert "never links an account" in result.text and not SSOIdentity.objects.exists()  # only a check

    # 3. The admin turns SSO on.
    page = admin_browser.get(f"{base}/orgs/acme/settings/security/sso/{connection.pk}/", timeout=30)
    page = submit(admin_browser, page, "/status/", status="testing")  # off → on goes through testing
    page = submit(admin_browser, page, "/status/", status="on")
    assert "SSO is now On." in page.text

    # 4. A member links their account (signed in with their password first).
    member_browser = password_sign_in(base, member.email)
    page = member_browser.get(f"{base}/orgs/acme/settings/security/sso/", timeout=30)
    response = submit(member_browser, page, "/link/")
    page = through_provider(member_browser, response, op, "member")
    assert page.url == f"{base}/orgs/acme/settings/security/sso/"
    assert re.search(rf"You are linked to <strong>{op.user('member').sub}</strong>", page.text)

    # 5. Sign-out, then sign in again through the provider alone, in a fresh browser.
    page = member_browser.get(f"{base}/orgs/acme/", timeout=30)
    response = submit(member_browser, page, "/accounts/logout/")
    assert member_browser.get(f"{base}/orgs/acme/", timeout=30).url.startswith(f"{base}/accounts/login/")
    fresh = requests.Session()
    response = fresh.get(f"{base}/sso/acme/oidc/login/?next=/orgs/acme/members/", timeout=30)
    page = through_provider(fresh, response, op, "member")
    assert page.url == f"{base}/orgs/acme/members/" and "member@acme.test" in page.text

    # 6. Re-authentication asks the provider for a fresh login (prompt=login, max_age=0) and checks auth_time.
    response = fresh.get(f"{base}/accounts/reauthenticate/?next=/orgs/acme/", timeout=30)
    to_provider = next(
        hop.headers["Location"] for hop in response.history if hop.headers["Location"].startswith(op.issuer)
    )
    assert "prompt=login" in to_provider and "max_age=0" in to_provider
    assert "login" in forms_of(response)[0]["fields"], "the provider must ask for a login again"
    page = through_provider(fresh, response, op, "member")
    assert page.url == f"{base}/orgs/acme/", page.text[:1000]

    # 7. Sign-out ends the session.
    page = fresh.get(f"{base}/orgs/acme/", timeout=30)
    submit(fresh, page, "/accounts/logout/")
    assert fresh.get(f"{base}/orgs/acme/", timeout=30).url.startswith(f"{base}/accounts/login/")
    assert User.objects.count() == 3  # nobody was created on the way


def test_a_person_not_linked_yet_is_refused(site, op, org, owner, member):
    from sso.connections import actions as sso_actions
    from sso.oidc import actions
    from sso.oidc.discovery import discover

    client = client_of(op)
    connection = actions.create_oidc_connection(
        org, actor=owner, metadata=discover(op.issuer), client_id=client.client_id, client_secret=client.client_secret
    )
    sso_actions.set_status(connection, actor=owner, status="testing")
    sso_actions.set_status(connection, actor=owner, status="on")
    browser = requests.Session()
    response = browser.get(f"{site}/sso/acme/oidc/login/", timeout=30)
    page = through_provider(browser, response, op, "member")  # member@acme.test exists here, but is not linked
    assert page.status_code == 403
    assert "is not linked to this IdP identity yet" in page.text.replace("&#x27;", "'")
    assert not SSOIdentity.objects.exists()
