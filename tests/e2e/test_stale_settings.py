"""A stale settings form refused, in a real browser (issue 20, "settings forms carry the version they were loaded at").

Two people change the session policy at once: the owner opens the form and reaches the confirmation page; meanwhile
an admin, in another browser, turns on one session per member. The owner's save is refused with "changed since you
opened this page" and what changed, nothing of the owner's change is saved, and the form shows the saved settings;
saved again from there, the owner's change goes through.

An organization of its own (random slug), so the demo org acme and the other browser tests are left alone.
"""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import ProductServer
from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "stale-form-password-" + secrets.token_hex(4)
SINGLE_SESSION = "One session per member: a new sign-in ends the member's older sessions"


@pytest.fixture
def stale_org(product: ProductServer) -> str:
    """An organization with an owner and an admin; returns its slug."""
    slug = f"stl-{secrets.token_hex(3)}"
    product.manage(
        "createorg", slug, "--name", "Stale Co", "--owner", f"owner@{slug}.test", "--password-from-env", "PW",
        env={"PW": PASSWORD},
    )  # fmt: skip
    product.create_user(f"admin@{slug}.test", PASSWORD, org=slug, role="admin")
    return slug


def saved_policy(product: ProductServer, slug: str) -> tuple[int, bool]:
    """(idle timeout in seconds, one session per member) as saved."""
    printed = product.shell(
        "from orgsecurity.models import Organization\n"
        "from sessions_policy.enforcement import rules_for_organization\n"
        f"rules = rules_for_organization(Organization.objects.get(slug={slug!r}))\n"
        "print(rules.idle_timeout_s, rules.single_session)\n"
    )
    idle, single = printed.strip().splitlines()[-1].split()
    return int(idle), single == "True"


def test_saving_over_another_admins_change_is_refused_and_shows_what_changed(new_context, product, stale_org):
    slug = stale_org
    policy_page = product.url(f"/orgs/{slug}/settings/security/sessions/")
    idle_before, single_before = saved_policy(product, slug)
    assert not single_before and idle_before != 45 * 60

    owner = new_context().pages[0]
    sign_in(owner, product, f"owner@{slug}.test", PASSWORD)
    owner.goto(policy_page)
    owner.locator("input[name=idle_timeout_s_0]").fill("45")
    owner.locator("select[name=idle_timeout_s_1]").select_option("minutes")
    owner.get_by_role("button", name="Review and save").click()
    expect(owner.get_by_role("heading", level=1)).to_have_text("Save the session policy?")

    # Meanwhile, in another browser, an admin turns on one session per member.
    admin = new_context().pages[0]
    sign_in(admin, product, f"admin@{slug}.test", PASSWORD)
    admin.goto(policy_page)
    admin.get_by_label(SINGLE_SESSION).check()
    admin.get_by_role("button", name="Review and save").click()
    admin.get_by_role("button", name="Save session policy").click()
    admin.wait_for_url(policy_page)
    assert saved_policy(product, slug) == (idle_before, True)

    # The owner's save, from the page loaded before the admin's change, is refused and says what changed.
    owner.get_by_role("button", name="Save session policy").click()
    owner.wait_for_url(policy_page)
    message = owner.locator(".message-error")
    expect(message).to_contain_text("These settings were changed since you opened this page, so nothing was saved.")
    expect(message).to_contain_text(f"{SINGLE_SESSION}: off → on")
    assert saved_policy(product, slug) == (idle_before, True)  # the admin's change stands, the owner's is not saved
    # The form shows the settings as saved now, so the owner decides again from them.
    expect(owner.get_by_label(SINGLE_SESSION)).to_be_checked()
    expect(owner.locator("input[name=idle_timeout_s_0]")).not_to_have_value("45")

    owner.locator("input[name=idle_timeout_s_0]").fill("45")
    owner.locator("select[name=idle_timeout_s_1]").select_option("minutes")
    owner.get_by_role("button", name="Review and save").click()
    owner.get_by_role("button", name="Save session policy").click()
    owner.wait_for_url(policy_page)
    expect(owner.locator(".message-error")).to_have_count(0)
    assert saved_policy(product, slug) == (45 * 60, True)
