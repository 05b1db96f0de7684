"""The spec's SSO rollout sequence end to end, in real browsers, against SimpleSAMLphp (issue 6, "Done when").

An organization of its own, Hooli, whose three people (an owner, a member in the test group, a member outside it) are
known to the IdP, and an admin who never links an IdP account, so the demo org acme and the other browser tests are
left alone. In order:

1. The owner claims hooli.test and platform support verifies it (email-first sign-in then routes by it); the owner
   configures SAML from the IdP's metadata URL and moves SSO to testing with a test group.
2. The owner runs Test SSO with a two-minute test session (login); in a second browser runs another and signs out
   (logout); the test-group member signs in through the IdP from email-first sign-in; the member outside the group
   is refused with the page members see (failed login, ticked with a note by the admin owner); the owner designates
   themselves a recovery account and reads their recovery codes, and confirms the fallback login policy. When the
   first test session runs out, the owner signs in through the IdP again (session timeout): the checklist is complete.
3. Enforcement is scheduled for the next whole minute at least 30 seconds ahead, through the confirmation page: it
   lists the unlinked admin (whom the checklist shows as "needs attention"), the keys flagged and the sessions that
   end; it refuses until the slug is typed and the admin is acknowledged by name. Members are emailed the date and
   the support contact, the banner shows the date. At that time the background worker (``run_huey``, started with
   the product) enforces it within its every-minute run, and the next page a member loads ends their password
   session; their password sign-in is refused with a "Sign in with SSO" button, and SSO signs them in.
4. SimpleSAMLphp is stopped; the owner signs in at /accounts/recovery/ with email, password and a recovery code and
   rolls SSO back to testing; the owners get the recovery-use email, and password sign-in works again.

About three and a half minutes: two of them the test session running out (the other steps of 2. run meanwhile), and
up to 80 seconds the wait for the enforcement minute.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import ProductServer
from tests.e2e.harness import sign_in_with_password as sign_in
from tests.e2e.idp_saml import SAMLUser, SimpleSAMLphpIdP
from tests.e2e.saml_steps import add_saml_connection, idp_sign_in

pytestmark = pytest.mark.e2e

ORG, ORG_NAME, DOMAIN = "hooli", "Hooli", "hooli.test"
PASSWORD = "hooli-product-password"  # every Hooli account's password here (not at the IdP)
SUPPORT_CONTACT = "it-help@hooli.test"
TEST_SESSION_SECONDS = 120  # the shortest test session the rollout page offers
ENFORCEMENT_LEAD = timedelta(seconds=30)  # time to confirm, read the email and see the banner before enforcement
DASHBOARD = f"/orgs/{ORG}/"


@dataclass(frozen=True)
class Person:
    """Someone at Hooli: their account here (``email`` and ``PASSWORD``) and their account at the IdP."""

    email: str
    role: str
    idp: SAMLUser


OWNER = Person(
    "owner@hooli.test",
    "owner",
    SAMLUser("hooli-owner", "hooli-owner-idp-pass", "owner@hooli.test", "Gwen Owner", "Gwen", "Owner", "idp-2001-gwen"),
)
TESTER = Person(
    "tess@hooli.test",
    "member",
    SAMLUser("hooli-tess", "hooli-tess-idp-pass", "tess@hooli.test", "Tess Tester", "Tess", "Tester", "idp-2002-tess"),
)
MEMBER = Person(
    "mark@hooli.test",
    "member",
    SAMLUser("hooli-mark", "hooli-mark-idp-pass", "mark@hooli.test", "Mark Member", "Mark", "Member", "idp-2003-mark"),
)
ADMIN_EMAIL = "alex@hooli.test"  # an admin with no IdP account: enforcement would lock them out
STAFF_EMAIL = "support-agent@platform.test"  # platform support, who verifies the domain


@pytest.fixture
def hooli(product: ProductServer, saml_idp: SimpleSAMLphpIdP) -> None:
    """Hooli with its owner and two members (through the product's action functions, audited), a platform support
    agent, and the three people at the IdP."""
    people = "\n".join(
        f"actions.add_member(org, actor=system, user=User.objects.create_user({person.email!r}, {PASSWORD!r}),"
        f" role={person.role!r}, via='e2e')"
        for person in (TESTER, MEMBER)
    )
    product.shell(
        "from audit.recorder import Actor\n"
        "from orgsecurity import actions\n"
        "from orgsecurity.models import User\n"
        "system = Actor.system('e2e')\n"
        f"owner = User.objects.create_user({OWNER.email!r}, {PASSWORD!r})\n"
        f"org = actions.create_organization(slug={ORG!r}, name={ORG_NAME!r}, owner=owner, actor=system)\n"
        f"{people}\n"
        f"actions.add_member(org, actor=system, user=User.objects.create_user({ADMIN_EMAIL!r}, {PASSWORD!r}),"
        " role='admin', via='e2e')\n"
        f"User.objects.create_user({STAFF_EMAIL!r}, {PASSWORD!r}, is_staff=True)\n"
    )
    saml_idp.add_users(OWNER.idp, TESTER.idp, MEMBER.idp)


# --- small steps -------------------------------------------------------------------------------------------------


def email_first(page: Any, product: ProductServer, email: str) -> None:
    """Give ``email`` to the email-first sign-in form; where it goes next is the caller's to check."""
    page.goto(product.url("/accounts/login/"))
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()


def at_idp_login(page: Any, saml_idp: SimpleSAMLphpIdP) -> None:
    expect(page.locator("#username")).to_be_visible()
    assert page.url.startswith(saml_idp.base_url), page.url


def on_dashboard(page: Any, product: ProductServer, role: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(ORG_NAME)
    assert page.url == product.url(DASHBOARD), page.url
    assert f"You are {role}" in page.inner_text("main")


def table_rows(page: Any, region: str) -> dict[str, list[str]]:
    """The rows of the table in the page section titled ``region``: row heading → the other cells' text."""
    rows = page.get_by_role("region", name=region).locator("tbody tr")
    return {
        row.locator("th").inner_text().strip(): [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in rows.all()
    }


def run_test_sso(page: Any, session_seconds: int) -> None:
    """On the rollout page: Test SSO with a test session of ``session_seconds`` (0: only check the IdP's answer)."""
    test_plan = page.get_by_role("region", name="Test plan")
    test_plan.get_by_label("Test session").select_option(str(session_seconds))
    test_plan.get_by_role("button", name="Test SSO").click()


def sign_out(page: Any, email: str, *, idp: str = "") -> None:
    """Sign out of a password session; after an SSO sign-in through ``idp`` (the connection's name) SAML single
    logout also ends the IdP session, and our page says the IdP confirmed it."""
    page.get_by_role("button", name=f"Sign out {email}").click()
    if idp:
        expect(page.get_by_role("heading", level=1)).to_have_text("You are signed out")
        expect(page.locator("main")).to_contain_text(f"{idp} confirmed the sign-out")
    else:
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def emails_to(product: ProductServer, address: str, subject: str) -> list[str]:
    """The bodies of the emails the product sent to ``address`` with ``subject``."""
    return [
        message.get_payload(decode=True).decode()
        for message in product.emails()
        if message["To"] == address and message["Subject"] == subject
    ]


def wait_until(moment: float) -> None:
    """Sleep until the wall-clock time ``moment`` (seconds since the epoch): a deadline the product keeps."""
    time.sleep(max(0.0, moment - time.time()))


# --- the scenario ------------------------------------------------------------------------------------------------


def test_the_rollout_sequence_from_configuration_to_enforcement_and_recovery(new_context, product, saml_idp, hooli):
    owner = new_context().pages[0]

    # 1. The owner claims the email domain; platform support verifies it (the owner cannot edit DNS here).
    sign_in(owner, product, OWNER.email, PASSWORD)
    owner.goto(product.url(f"/orgs/{ORG}/settings/security/sso/domains/"))
    owner.get_by_label("Domain").fill(DOMAIN)
    owner.get_by_role("button", name="Claim").click()
    expect(owner.locator("main")).to_contain_text(f"{DOMAIN} is claimed")
    support = new_context().pages[0]
    sign_in(support, product, STAFF_EMAIL, PASSWORD)
    support.goto(product.url(f"/support/orgs/{ORG}/domains/"))
    support.get_by_label("Note").fill("E2E-1: ownership checked by phone with the Hooli owner")
    support.get_by_role("button", name="Mark verified").click()
    expect(support.locator("main")).to_contain_text(f"{DOMAIN} is verified for {ORG_NAME}")
    support.context.close()

    # Configure SAML from the IdP's metadata URL, then move to testing with a test group: the owner and Tess.
    add_saml_connection(owner, product, saml_idp, ORG, "Hooli SimpleSAMLphp")
    owner.get_by_role("button", name="Move to testing").click()
    expect(owner.locator("main")).to_contain_text("SSO is now Testing.")
    owner.get_by_role("link", name="readiness checklist").click()
    rollout_url = owner.url
    assert re.fullmatch(re.escape(product.url(f"/orgs/{ORG}/settings/security/sso/")) + r"\d+/rollout/", rollout_url)
    checklist = table_rows(owner, "Readiness checklist")
    assert checklist["Protocol"][0] == "✔ done" and checklist["IdP metadata"][0] == "✔ done"
    assert checklist["Administrator ownership"][0] == "✘ not yet"
    assert (
        checklist["Fallback login policy"][0] == "⚠ needs attention"
        and ADMIN_EMAIL in checklist["Fallback login policy"][1]
    )
    assert checklist["Test plan"][0] == "✘ not yet"
    test_group = owner.get_by_role("region", name="Test group")
    test_group.get_by_label("Members").select_option(label=[f"{OWNER.email} (Owner)", f"{TESTER.email} (Member)"])
    test_group.get_by_role("button", name="Save test group").click()
    expect(owner.locator("main")).to_contain_text(f"In the group now: {OWNER.email}, {TESTER.email}.")

    # 2. Test SSO with a two-minute test session: login is seen, and the owner is now signed in through SSO until
    # the session runs out (then signing in again shows the session timeout).
    run_test_sso(owner, TEST_SESSION_SECONDS)
    idp_sign_in(owner, saml_idp, OWNER.idp.username, OWNER.idp.password)
    expect(owner.get_by_role("heading", level=1)).to_have_text("SSO test: Succeeded")
    test_session_ends = time.time() + TEST_SESSION_SECONDS
    assert "Your account is now linked to this IdP identity." in owner.inner_text("main")

    # Meanwhile, in a second browser, the owner (test group) goes to the IdP from email-first sign-in (its SSO
    # button), runs another short test and signs out of it (logout, at the IdP too), then signs in again there.
    second = new_context().pages[0]
    email_first(second, product, OWNER.email)
    second.get_by_role("button", name="Sign in with SSO").click()
    idp_sign_in(second, saml_idp, OWNER.idp.username, OWNER.idp.password)
    on_dashboard(second, product, "owner")
    second.goto(rollout_url)
    run_test_sso(second, TEST_SESSION_SECONDS)
    expect(second.get_by_role("heading", level=1)).to_have_text("SSO test: Succeeded")  # the IdP knew them still
    # Signing out of the SSO session ends the IdP's too (SAML single logout), so the IdP asks for the password again.
    sign_out(second, OWNER.email, idp="Hooli SimpleSAMLphp")
    email_first(second, product, OWNER.email)
    second.get_by_role("button", name="Sign in with SSO").click()  # while testing, the same page for everyone
    idp_sign_in(second, saml_idp, OWNER.idp.username, OWNER.idp.password)
    on_dashboard(second, product, "owner")

    # Tess, in the test group, signs in through the IdP from email-first sign-in (its SSO button); her account is
    # linked by its verified email domain.
    tess = new_context().pages[0]
    email_first(tess, product, TESTER.email)
    tess.get_by_role("button", name="Sign in with SSO").click()  # the page does not reveal who is in the group
    idp_sign_in(tess, saml_idp, TESTER.idp.username, TESTER.idp.password)
    on_dashboard(tess, product, "member")

    # Failed login: a wrong password stays at the IdP; Mark, outside the test group, gets the page members see.
    refused = new_context().pages[0]
    refused.goto(product.url(f"/sso/{ORG}/login/"))
    idp_sign_in(refused, saml_idp, MEMBER.idp.username, "not-the-password")
    expect(refused.locator("body")).to_contain_text("Incorrect username or password")
    idp_sign_in(refused, saml_idp, MEMBER.idp.username, MEMBER.idp.password)
    expect(refused.get_by_role("heading", level=1)).to_have_text("Single sign-on did not work")
    assert "testing single sign-on with a small group, and you are not in it yet" in refused.inner_text("main")
    refused.context.close()
    # Password sign-in still works for everyone while testing: Mark keeps such a session for later.
    mark = new_context().pages[0]
    sign_in(mark, product, MEMBER.email, PASSWORD)
    on_dashboard(mark, product, "member")

    # The admin owner ticks the failed login with a note.
    second.goto(rollout_url)
    tick = second.locator("form", has=second.get_by_label("Note for Failed login"))
    tick.get_by_label("Note for Failed login").fill(
        "Wrong IdP password: the IdP says so. mark@ (not in the test group): our clear refusal page."
    )
    tick.get_by_role("button", name="Tick").click()
    expect(second.locator("main")).to_contain_text("Failed login ticked.")

    # An owner recovery account with codes read from the page, then the fallback login policy confirmed.
    second.goto(product.url(f"/orgs/{ORG}/settings/security/sso/recovery/"))
    second.get_by_label("Owner or admin").select_option(label=f"{OWNER.email} (Owner)")
    second.get_by_role("button", name="Make recovery account").click()
    expect(second.locator("main")).to_contain_text(f"{OWNER.email} is a recovery account.")
    second.get_by_role("button", name="Generate new recovery codes").click()
    codes = second.get_by_label("Recovery codes").inner_text().split()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", code) for code in codes), codes
    second.goto(rollout_url)
    second.get_by_role("button", name="Confirm this fallback login policy").click()
    expect(second.locator("main")).to_contain_text("Fallback login policy confirmed.")
    assert table_rows(second, "Test plan")["Session timeout"][0] == "not yet"

    # The first test session runs out: the next page sends the owner through the IdP (which still knows them) and
    # back; that completes the test plan, and with it the checklist.
    wait_until(test_session_ends + 1)
    owner.goto(rollout_url)
    expect(owner.get_by_role("heading", level=1)).to_have_text(re.compile("^SSO rollout"))
    assert owner.url == rollout_url
    plan = table_rows(owner, "Test plan")
    assert plan["Login"][1].startswith("seen in a test run"), plan
    assert plan["Logout"][1].startswith("seen in a test run: Signed out of a test SSO session."), plan
    assert plan["Session timeout"][1].startswith("seen in a test run: The test session timed out"), plan
    assert plan["Failed login"][1].startswith("ticked by the admin owner: Wrong IdP password"), plan
    checklist = table_rows(owner, "Readiness checklist")
    assert {item: cells[0] for item, cells in checklist.items()} == {
        "Protocol": "✔ done",
        "IdP metadata": "✔ done",
        "Administrator ownership": "✔ done",
        "Fallback login policy": "⚠ needs attention",  # not "done" while Alex would be locked out
        "Test plan": "✔ done",
    }, checklist
    assert "They cannot sign in once SSO is enforced" in checklist["Fallback login policy"][1]
    blocked = owner.get_by_role("region", name="Enforcement").get_by_role("status")
    expect(blocked).to_contain_text(f"These owners and admins would be locked out: {ADMIN_EMAIL}.")

    # 3. Schedule enforcement for the next whole minute at least ENFORCEMENT_LEAD ahead, with the support contact.
    enforce_at = (datetime.now(UTC) + ENFORCEMENT_LEAD).replace(second=0, microsecond=0) + timedelta(minutes=1)
    shown = f"{enforce_at:%Y-%m-%d %H:%M} UTC"
    schedule = owner.get_by_role("region", name="Enforcement")
    schedule.get_by_label("Enforce from (UTC)").fill(f"{enforce_at:%Y-%m-%dT%H:%M}")
    schedule.get_by_label("Support contact").fill(SUPPORT_CONTACT)
    schedule.get_by_role("button", name="Schedule…").click()

    # The confirmation page says what enforcement does: Alex loses password sign-in with no linked identity (and
    # is locked out), Mark's password session ends.
    expect(owner.get_by_role("heading", level=1)).to_have_text("Confirm scheduled SSO enforcement")
    people = owner.get_by_role("region", name=re.compile("^People who lose password sign-in"))
    expect(people.get_by_role("row", name=re.compile(ADMIN_EMAIL))).to_contain_text("an owner or admin, locked out")
    expect(owner.get_by_role("region", name=re.compile("^Sessions that end"))).to_contain_text(MEMBER.email)
    confirm = owner.get_by_role("region", name="Confirm")
    # A wrong slug is refused; the right slug without acknowledging Alex is refused, naming Alex.
    confirm.get_by_label("Type the organization's slug to confirm").fill("Hooli")
    confirm.get_by_role("button", name="Schedule and tell members").click()
    expect(owner.locator("main")).to_contain_text(f"Type the organization's slug, {ORG}, exactly to confirm.")
    confirm.get_by_label("Type the organization's slug to confirm").fill(ORG)
    confirm.get_by_role("button", name="Schedule and tell members").click()
    expect(owner.get_by_role("alert")).to_contain_text(f"Enforcing SSO would lock out {ADMIN_EMAIL}")
    # Acknowledged by name, with the slug typed, it is scheduled.
    confirm.get_by_label(f"I accept that {ADMIN_EMAIL} is locked out").check()
    confirm.get_by_label("Type the organization's slug to confirm").fill(ORG)
    confirm.get_by_role("button", name="Schedule and tell members").click()
    expect(owner.locator("main")).to_contain_text(f"Enforcement is scheduled for {shown}; members were emailed.")
    assert owner.url == rollout_url
    assert "It takes effect only if" not in owner.inner_text("main")

    # Every member is emailed the date and the support contact.
    subject = f"{ORG_NAME} will require single sign-on from {shown}"
    for person in (OWNER, TESTER, MEMBER):
        (body,) = emails_to(product, person.email, subject)
        assert f"{ORG_NAME} will require single sign-on (SSO) from {shown}." in body, body
        assert f"Contact: {SUPPORT_CONTACT}" in body, body

    # Until then a banner shows members the date, with the support contact; Mark's password session still works.
    mark.goto(product.url(DASHBOARD))
    banner = mark.locator('aside[aria-label="Single sign-on"]')
    expect(banner).to_contain_text(f"From {shown}, {ORG_NAME} requires single sign-on")
    expect(banner).to_contain_text(f"Help: {SUPPORT_CONTACT}")
    on_dashboard(mark, product, "member")

    # Enforcement takes effect by itself at that time: the worker's every-minute job decides it (the banner says
    # it is pending until then), and the next page Mark loads ends his password session and sends him to the IdP.
    wait_until(enforce_at.timestamp() + 1)
    for _ in range(150):  # the worker's minute starts at most 60 s after the date; its run takes moments
        owner.goto(rollout_url)
        if "Enforced (SSO only)" in owner.locator("hgroup").inner_text():
            break
        time.sleep(0.5)
    mark.goto(product.url(DASHBOARD))
    at_idp_login(mark, saml_idp)
    mark.goto(product.url(DASHBOARD))
    assert mark.url.startswith(product.url("/accounts/login/")), mark.url  # signed out here, not just sent away
    owner.goto(rollout_url)
    expect(owner.locator("hgroup")).to_contain_text("Status Enforced (SSO only) since")  # the owner's SSO session holds
    expect(owner.locator('aside[aria-label="Single sign-on"]')).to_have_count(0)

    # Email-first sign-in sends Mark to the IdP; his password is refused with a "Sign in with SSO" button...
    email_first(mark, product, MEMBER.email)
    at_idp_login(mark, saml_idp)
    mark.goto(product.url("/accounts/login/?method=password"))
    mark.get_by_label("Email").fill(MEMBER.email)
    mark.get_by_label("Password").fill(PASSWORD)
    with mark.expect_navigation() as refusal:
        mark.get_by_role("button", name="Sign in", exact=True).click()
    assert refusal.value.status == 403
    expect(mark.get_by_role("alert")).to_contain_text("Password sign-in is turned off for your account.")
    # ...which takes him through the IdP into Hooli (his account linked by its verified email domain).
    mark.get_by_role("button", name="Sign in with SSO").click()
    idp_sign_in(mark, saml_idp, MEMBER.idp.username, MEMBER.idp.password)
    on_dashboard(mark, product, "member")

    # 4. The IdP goes down. The owner signs in with email, password and one recovery code, and rolls back.
    saml_idp.stop()
    recovery = new_context().pages[0]
    recovery.goto(product.url("/accounts/recovery/"))
    recovery.get_by_label("Email").fill(OWNER.email)
    recovery.get_by_label("Password").fill(PASSWORD)
    recovery.get_by_label("Recovery code").fill(codes[0])
    recovery.get_by_role("button", name="Sign in with a recovery code").click()
    expect(recovery.locator("main")).to_contain_text(
        f"You signed in to {ORG_NAME} with a recovery code (9 left). Every owner was emailed."
    )
    assert recovery.url == rollout_url
    recovery.get_by_role("button", name="Roll back to testing…").click()
    # The confirmation page first: who loses SSO sign-in (everyone linked outside the test group).
    expect(recovery.get_by_role("heading", level=1)).to_contain_text("back to Testing?")
    expect(recovery.locator("main")).to_contain_text("People who lose SSO sign-in")
    recovery.get_by_role("button", name="Roll back to testing", exact=True).click()
    expect(recovery.locator("main")).to_contain_text("SSO is rolled back to Testing: password sign-in works again.")
    expect(recovery.locator("hgroup")).to_contain_text("Status Testing")

    (notice,) = emails_to(product, OWNER.email, f"{OWNER.email} signed in to {ORG_NAME} with a recovery code")
    assert "9 unused recovery code(s) are left" in notice

    # Password sign-in works again for members outside the test group, with the IdP still down.
    again = new_context().pages[0]
    sign_in(again, product, MEMBER.email, PASSWORD)
    on_dashboard(again, product, "member")
