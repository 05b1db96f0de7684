"""Before the IP allowlist is turned on, in a real browser: the page shows the address the product sees and why,
"add my current IP" puts it on the list, and turning the list on goes through the blast-radius page, which names the
member and the key it would cut off (with a CSV of the same list) before anything changes.

An organization of its own, Initech, so the demo org acme and the other browser tests are left alone.
"""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import ProductServer
from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e

ORG = "initech"
PASSWORD = "initech-product-password"
OWNER, MEMBER = "owner@initech.test", "peter@initech.test"
MEMBER_IP, KEY_IP = "198.51.100.20", "203.0.113.5"
ALLOWLIST = f"/orgs/{ORG}/settings/security/allowlist/"


@pytest.fixture
def initech(product: ProductServer) -> str:
    """Initech: an owner, a member last seen two days ago from MEMBER_IP, and a key last used from KEY_IP. Returns
    the key's prefix."""
    return product.shell(
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from audit.recorder import Actor\n"
        "from keys.actions import create_api_key\n"
        "from keys.models import APIKey\n"
        "from orgsecurity import actions\n"
        "from orgsecurity.models import User\n"
        "from sessions_policy.models import UserSession\n"
        "system = Actor.system('e2e')\n"
        f"owner = User.objects.create_user({OWNER!r}, {PASSWORD!r})\n"
        f"org = actions.create_organization(slug={ORG!r}, name='Initech', owner=owner, actor=system)\n"
        f"peter = User.objects.create_user({MEMBER!r}, {PASSWORD!r})\n"
        "actions.add_member(org, actor=system, user=peter, role='member', via='e2e')\n"
        "when = timezone.now() - timedelta(days=2)\n"
        "UserSession.objects.create(user=peter, session_key='e2e-peter', auth_method='password',"
        f" authenticated_at=when, last_seen_at=when, ip={MEMBER_IP!r})\n"
        "key, _ = create_api_key(org, actor=owner, name='TPS report export')\n"
        f"APIKey.objects.filter(pk=key.pk).update(last_used_ip={KEY_IP!r}, last_used_at=when)\n"
        "print(key.prefix)\n"
    ).strip()


def test_the_blast_radius_page_before_turning_on_the_allowlist(page, product, initech, tmp_path):
    key_prefix = initech
    sign_in(page, product, OWNER, PASSWORD)
    page.goto(product.url(ALLOWLIST))

    # The address the product sees, and why: the harness connects directly, with no proxy in front.
    expect(page.locator("#your-ip")).to_contain_text("127.0.0.1")
    expect(page.locator("#your-ip-reason")).to_contain_text("no proxy is configured")
    page.get_by_role("button", name="Add my current IP (127.0.0.1)").click()
    expect(page.locator(".message-success")).to_contain_text("Added 127.0.0.1/32.")
    expect(page.get_by_role("button", name="Add my current IP (127.0.0.1)")).to_have_count(0)

    page.get_by_label("Enforce the allowlist").check()
    page.get_by_label("Dashboard pages and API keys").check()
    page.get_by_role("button", name="Review and save").click()

    # The blast radius, before anything changes.
    expect(page.get_by_role("heading", level=1)).to_have_text("Turn on the IP allowlist?")
    people = page.locator("section[aria-labelledby='impact-people']")
    expect(people.get_by_role("heading")).to_have_text("Members who would be refused on dashboard pages (1)")
    expect(people).to_contain_text(MEMBER)
    expect(people).to_contain_text(f"Member: seen from {MEMBER_IP}")
    expect(people).not_to_contain_text(OWNER)  # the owner's own address is on the list now
    keys = page.locator("section[aria-labelledby='impact-keys']")
    expect(keys.get_by_role("heading")).to_have_text("API keys whose last-used address would be refused (1)")
    expect(keys).to_contain_text(f"{key_prefix} (TPS report export)")
    expect(keys).to_contain_text(f"last used from {KEY_IP}")
    assert "false" in product.shell(
        f"from allowlist.models import IPAllowlist; print(str(IPAllowlist.objects.get(organization__slug={ORG!r})"
        ".enabled).lower())"
    )

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"{ORG}-allowlist-on-both.csv"
    path = tmp_path / "impact.csv"
    download.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert [row[1] for row in rows[1:]] == [MEMBER, f"{key_prefix} (TPS report export)"]

    page.get_by_role("button", name="Turn it on").click()
    expect(page).to_have_url(product.url(ALLOWLIST))
    expect(page.locator("main")).to_contain_text("The allowlist is on; it covers dashboard pages and API keys.")
