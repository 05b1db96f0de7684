"""The organization header is one line at 1280 px in Chromium (issue 20's walkthrough: it wrapped for owners, whose
header has every section, the organization menu and the account's pages), and the account's pages are one click away
in the menu named by the account's email."""

from __future__ import annotations

import pytest

from tests.e2e.harness import DEMO_OWNER, DEMO_PASSWORD
from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e

# The distinct tops of the header's visible items: one value when the header is a single line.
ROWS = """() => {
  const items = [...document.querySelectorAll('body > header nav > ul > li')].filter(li => li.offsetParent !== null);
  return {count: items.length, tops: [...new Set(items.map(li => Math.round(li.getBoundingClientRect().top / 8)))]};
}"""


def test_the_owners_header_is_one_line_at_1280(new_context, product):
    page = new_context(viewport={"width": 1280, "height": 900}).pages[0]
    sign_in(page, product, DEMO_OWNER, DEMO_PASSWORD)
    for path in ("/orgs/acme/settings/security/", "/orgs/acme/members/"):
        page.goto(product.url(path))
        found = page.evaluate(ROWS)
        assert found["count"] >= 9, found  # brand, five sections, organizations, account, sign out
        assert len(found["tops"]) == 1, (path, found)
    page.locator("#account-menu summary").click()
    page.get_by_role("link", name="Your sessions").click()
    assert page.url.endswith("/accounts/sessions/")
    assert page.get_by_role("button", name=f"Sign out {DEMO_OWNER}").is_visible()
