"""The members page, the audit log and the support console in a real browser: members search and pages at 1,000
members, an audit event found by a word of its sentence, and support finding what happened by its reference ID."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import DEMO_PASSWORD
from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e


def member_rows(page) -> list[str]:
    return page.locator("#members tbody tr").all_inner_texts()


def test_members_search_and_pages_at_a_thousand_members(page, product):
    slug = f"big-{secrets.token_hex(3)}"
    owner = f"owner@{slug}.test"
    product.manage(
        "createorg", slug, "--name", "Big Co", "--owner", owner, "--password-from-env", "PW", env={"PW": DEMO_PASSWORD}
    )
    product.shell(
        "from orgsecurity.models import Membership, Organization, User\n"
        f"org = Organization.objects.get(slug={slug!r})\n"
        f"users = User.objects.bulk_create([User(email=f'person{{n:04d}}@{slug}.test', name=f'Person {{n}}')"
        " for n in range(1000)])\n"
        "Membership.objects.bulk_create([Membership(organization=org, user=u) for u in users])\n"
    )
    sign_in(page, product, owner, DEMO_PASSWORD)

    response = page.goto(product.url(f"/orgs/{slug}/members/"))
    assert response.status == 200
    assert len(response.body()) < 80_000
    expect(page.get_by_text("1001 members")).to_be_visible()
    assert len(member_rows(page)) == 50
    expect(page.get_by_text("Members page 1 of 21")).to_be_visible()

    page.get_by_role("link", name="Next members →").click()
    expect(page.get_by_text("Members page 2 of 21")).to_be_visible()
    assert len(member_rows(page)) == 50 and f"person0049@{slug}.test" in member_rows(page)[0]

    page.get_by_label("Search members").fill("person0999")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 member matching “person0999”")).to_be_visible()
    rows = member_rows(page)
    assert len(rows) == 1 and f"person0999@{slug}.test" in rows[0]
    assert "Never" in rows[0] and "Not linked" in rows[0]

    page.get_by_label("Search members").fill("person09")  # person0900 … person0999: two pages, the search kept
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Members page 1 of 2")).to_be_visible()
    page.get_by_role("link", name="Next members →").click()
    expect(page.get_by_text("Members page 2 of 2")).to_be_visible()
    assert all(re.search(r"person09\d\d@", row) for row in member_rows(page))


def test_audit_search_finds_an_event_by_a_word_of_its_sentence(page, product):
    word = f"quokka{secrets.token_hex(3)}"
    sign_in(page, product, "owner@acme.test", DEMO_PASSWORD)
    page.goto(product.url("/orgs/acme/members/"))
    page.get_by_label("Email").fill(f"{word}@acme.test")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"Invitation sent to {word}@acme.test.")).to_be_visible()

    page.goto(product.url("/orgs/acme/audit/"))
    # Action names grouped by theme, not raw codes.
    assert page.locator('optgroup[label="Members and invitations"] option', has_text="Member invited").count() == 1
    page.get_by_label("Search").fill(word)
    page.get_by_role("button", name="Filter", exact=True).click()

    sentences = page.locator(".audit-sentence").all_inner_texts()
    assert sentences == [f"owner@acme.test invited {word}@acme.test as member"]
    row = page.locator("table.audit-log > tbody > tr").first
    expect(row.locator(":scope > td").nth(2)).to_have_text("Member invited")
    row.get_by_text("Details").click()
    expect(row.get_by_text("member.invited", exact=True)).to_be_visible()  # the raw code stays in the panel


def test_support_finds_what_happened_by_its_reference_id(new_context, product):
    owner_page = new_context().pages[0]
    sign_in(owner_page, product, "owner@acme.test", DEMO_PASSWORD)
    owner_page.goto(product.url("/orgs/acme/members/"))
    email = f"ref-{secrets.token_hex(3)}@acme.test"
    owner_page.get_by_label("Email").fill(email)
    with owner_page.expect_response(lambda response: response.request.method == "POST") as posted:
        owner_page.get_by_role("button", name="Send invitation").click()
    reference = posted.value.headers["x-request-id"]

    staff_page = new_context().pages[0]
    sign_in(staff_page, product, "support@platform.test", DEMO_PASSWORD)
    assert staff_page.url == product.url("/support/")  # staff land on the console
    staff_page.get_by_label("Search every organization").fill(reference)
    staff_page.get_by_role("button", name="Search").click()

    results = staff_page.locator("#search-results tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Audit event")
    expect(results.first).to_contain_text(f"owner@acme.test invited {email} as member")
    expect(results.first).to_contain_text("Acme")
    results.first.get_by_role("link", name=f"owner@acme.test invited {email} as member").click()
    assert staff_page.locator(".audit-sentence").all_inner_texts() == [f"owner@acme.test invited {email} as member"]
