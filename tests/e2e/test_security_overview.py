"""The security overview in a real browser: sign-ins made through the password form of the product as deployed
show up in the overview's SVG chart and SSO adoption table. The scenario uses an organization and people of its
own, so the counts are exactly what it did."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import sign_in_with_password

pytestmark = pytest.mark.e2e

PASSWORD = "overview-e2e-password-" + secrets.token_hex(4)


def test_the_overview_charts_todays_real_sign_ins_and_failures(new_context, product):
    slug = f"ovw{secrets.token_hex(3)}"
    owner, alice, bob, carol = (f"{name}@{slug}.test" for name in ("owner", "alice", "bob", "carol"))
    product.manage(
        "createorg", slug, "--name", "Overview Corp", "--owner", owner, "--password-from-env", "PW",
        env={"PW": PASSWORD},
    )  # fmt: skip
    for person in (alice, bob, carol):
        product.create_user(person, PASSWORD, org=slug, role="member")

    # Alice signs in; Bob mistypes his password once, then signs in; Carol never signs in.
    sign_in_with_password(new_context().pages[0], product, alice, PASSWORD)
    bob_page = new_context().pages[0]
    assert sign_in_with_password(bob_page, product, bob, "not-bobs-password").status == 200
    sign_in_with_password(bob_page, product, bob, PASSWORD)

    page = new_context().pages[0]
    sign_in_with_password(page, product, owner, PASSWORD)
    page.get_by_role("link", name="Security overview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Security overview")

    chart = page.locator("svg#sign-in-chart")
    expect(chart).to_be_visible()
    today = dt.datetime.now(dt.UTC).date()
    expect(chart.locator("text.day")).to_have_count(30)
    expect(chart.locator("text.day").last).to_have_text(f"{today:%m-%d}")
    signed_in = chart.locator('rect.bar[data-series="signed in"]')
    expect(signed_in).to_have_count(1)
    expect(signed_in.locator("title")).to_have_text(f"{today:%Y-%m-%d}: 3 signed in")
    failed = chart.locator('rect.bar[data-series="wrong password"]')
    expect(failed.locator("title")).to_have_text(f"{today:%Y-%m-%d}: 1 failed: wrong password")
    # Drawn, not just present: three successes stand three times as tall as the one failure.
    signed_in_box, failed_box = signed_in.bounding_box(), failed.bounding_box()
    assert signed_in_box["height"] == pytest.approx(3 * failed_box["height"], rel=0.05)
    expect(page.locator("#sign-ins")).to_contain_text("3 successful, 1 failed.")

    adoption = page.locator("#adoption")
    expect(adoption.locator('[data-adoption="password"]')).to_have_text("3")
    expect(adoption.locator('[data-adoption="sso"]')).to_have_text("0")
    expect(adoption.locator('[data-adoption="none"]')).to_have_text("1")
    expect(page.locator("#panel-sso-certificates")).to_contain_text("No SSO connection.")
