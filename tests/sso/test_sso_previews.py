"""Before an SSO change takes sign-in away, the admin sees who loses what: turning SSO off, unlinking an identity,
removing a verified domain. The pages are GET-only previews; the change happens on POST and redirects."""

from __future__ import annotations

import csv
import io

from audit.models import AuditEvent
from sso.connections import preview
from sso.models import SSOConnection, SSOIdentity, VerifiedDomain
from tests.helpers.core import add_member, make_user
from tests.helpers.sso import link_identity

BASE = "/orgs/acme/settings/security/sso/"


def test_turning_sso_off_lists_who_loses_sso_sign_in_and_who_has_no_password(
    client_for, org, owner, member, connection
):
    link_identity(connection, member, "mia")
    jit = make_user("jit@acme.test")
    jit.set_unusable_password()
    jit.save()
    add_member(org, jit, "member")
    link_identity(connection, jit, "jit-person")

    impact = preview.preview_status_change(connection, SSOConnection.Status.OFF)
    assert [item.name for item in impact.group("people").items] == ["jit@acme.test", "member@acme.test"]
    assert [item.name for item in impact.group("no_password").items] == ["jit@acme.test"]

    browser = client_for(owner)
    page = browser.get(f"{BASE}{connection.pk}/status/?status=off")
    text = page.content.decode()
    assert page.status_code == 200
    assert "People who lose SSO sign-in (2)" in text and "People with no password (1)" in text
    assert "cannot sign in until they set one" in text
    assert SSOConnection.objects.get(pk=connection.pk).status == "on"  # looking changes nothing

    rows = list(csv.reader(io.StringIO(browser.get(f"{BASE}{connection.pk}/status/?status=off&format=csv").text)))
    assert rows[-1][:2] == ["People with no password", "jit@acme.test"]

    done = browser.post(f"{BASE}{connection.pk}/status/", {"status": "off"})
    assert done.status_code == 302
    assert SSOConnection.objects.get(pk=connection.pk).status == "off"
    assert "SSO is now Off" in browser.get(done["Location"]).content.decode()


def test_moving_up_affects_nobody(org, owner, member, connection):
    link_identity(connection, member, "mia")
    assert preview.preview_status_change(connection, SSOConnection.Status.ENFORCED).total == 0


def test_the_turn_off_buttons_lead_to_the_preview(client_for, owner, connection):
    browser = client_for(owner)
    page = browser.get(f"{BASE}{connection.pk}/").content.decode()
    assert f'method="get" action="{BASE}{connection.pk}/status/"' in page
    rollout = browser.get(f"{BASE}{connection.pk}/rollout/").content.decode()
    assert "Turn SSO off…" in rollout


def test_unlinking_shows_the_person_first_then_unlinks(client_for, owner, member, connection):
    linked = link_identity(connection, member, "mia")
    browser = client_for(owner)
    page = browser.get(f"{BASE}identities/{linked.pk}/unlink/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Unlink member@acme.test&#x27;s SSO identity?" in text
    assert "no longer signs in as mia" in text
    assert "API keys in this organization are flagged for review" in text
    assert SSOIdentity.objects.filter(pk=linked.pk).exists()

    done = browser.post(f"{BASE}identities/{linked.pk}/unlink/", {"back": "connection"})
    assert done.status_code == 302 and done["Location"] == f"{BASE}{connection.pk}/"
    assert not SSOIdentity.objects.filter(pk=linked.pk).exists()
    assert AuditEvent.objects.filter(action="sso.identity_unlinked").count() == 1


def test_unlink_preview_checks_access(client_for, owner, member, admin, outsider, connection):
    admins = link_identity(connection, admin, "adam")
    url = f"{BASE}identities/{admins.pk}/unlink/"
    assert client_for(owner).get(url).status_code == 200
    assert client_for(member).get(url).status_code == 404  # someone else's link
    assert client_for(outsider).get(url).status_code == 404


def test_removing_a_verified_domain_lists_who_loses_home_realm_discovery(
    client_for, org, owner, member, outsider, connection, acme_domain
):
    connection.allow_jit = True
    connection.save()
    link_identity(connection, member, "mia")
    impact = preview.preview_remove_domain(acme_domain)
    names = [item.name for item in impact.group("people").items]
    assert "member@acme.test" in names and "owner@acme.test" in names
    owner_item = next(item for item in impact.group("people").items if item.name == "owner@acme.test")
    assert "not linked yet" in owner_item.detail
    assert any("Just-in-time provisioning stops" in note for note in impact.notes)

    url = f"{BASE}domains/{acme_domain.pk}/remove/"
    assert client_for(outsider).get(url).status_code == 404
    page = client_for(owner).get(url)
    assert page.status_code == 200 and "People who lose home-realm discovery" in page.content.decode()
    assert VerifiedDomain.objects.filter(pk=acme_domain.pk).exists()
    assert client_for(owner).post(url).status_code == 302
    assert not VerifiedDomain.objects.filter(pk=acme_domain.pk).exists()


def test_an_unverified_claim_affects_nobody(org, owner):
    from sso.domains import verification

    claimed = verification.claim(org, actor=owner, domain="acme.test")
    assert preview.preview_remove_domain(claimed).total == 0


def test_the_enforcement_confirmation_has_the_shared_list_and_its_csv(client_for, owner, connection):
    browser = client_for(owner)
    page = browser.get(f"{BASE}{connection.pk}/rollout/enforce/").content.decode()
    assert 'class="impact-group"' in page and "Download CSV" in page
    sheet = browser.get(f"{BASE}{connection.pk}/rollout/enforce/?format=csv")
    assert sheet["Content-Type"].startswith("text/csv")
    assert sheet.text.startswith("group,name,ref,what happens,blocking")


def test_the_rollout_page_while_enforced_says_so(sso_client_for, owner, enforced):
    page = sso_client_for(owner, enforced.connection).get(f"{BASE}{enforced.connection.pk}/rollout/")
    text = page.content.decode()
    assert "the test group no longer applies" in text and "Save test group" not in text
    assert "Turn on for everyone" not in text and "Stop enforcing (keep SSO on)" in text


# --- rolling back to testing (the rollout page) -----------------------------------------------------------------


def _rollback_people(org, owner, connection, admin, member):
    """admin (linked, in the test group) keeps SSO; member (linked, outside it) and jit (linked, no password) lose
    it; newbie (not linked, email in the verified acme.test) loses being linked at first sign-in."""
    from orgsecurity.models import Membership
    from sso.rollout import scheduling

    link_identity(connection, admin, "adam")
    link_identity(connection, member, "mia")
    jit = make_user("jit@acme.test")
    jit.set_unusable_password()
    jit.save()
    add_member(org, jit, "member")
    link_identity(connection, jit, "jit-person")
    add_member(org, make_user("newbie@acme.test"), "member")
    add_member(org, make_user("elsewhere@other.test"), "member")  # not in a verified domain: never linked by email
    scheduling.set_test_group(connection, actor=owner, memberships=[Membership.objects.get(user=admin)], teams=[])


def test_rolling_back_to_testing_lists_who_loses_sso_sign_in_first(
    client_for, org, owner, admin, member, connection, acme_domain
):
    _rollback_people(org, owner, connection, admin, member)
    impact = preview.preview_rollback(connection, SSOConnection.Status.TESTING)
    assert impact.change == "sso.rollback"
    assert [item.name for item in impact.group("people").items] == ["jit@acme.test", "member@acme.test"]
    assert [item.name for item in impact.group("no_password").items] == ["jit@acme.test"]
    assert [item.name for item in impact.group("unlinked").items] == ["newbie@acme.test"]
    assert "The test group keeps SSO sign-in: admin@acme.test." in impact.notes

    browser = client_for(owner)
    rollout = browser.get(f"{BASE}{connection.pk}/rollout/").content.decode()
    assert f'method="get" action="{BASE}{connection.pk}/rollout/rollback/"' in rollout
    assert "Roll back to testing…" in rollout

    url = f"{BASE}{connection.pk}/rollout/rollback/"
    page = browser.get(url, {"to": "testing"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "back to Testing?" in text
    assert "People who lose SSO sign-in (2)" in text and "People with no password (1)" in text
    assert "People not linked yet who lose linking at first sign-in (1)" in text and "newbie@acme.test" in text
    assert "admin@acme.test" in text  # named as keeping SSO sign-in
    assert "elsewhere@other.test" not in text
    assert SSOConnection.objects.get(pk=connection.pk).status == "on"  # looking changes nothing

    rows = list(csv.reader(io.StringIO(browser.get(url, {"to": "testing", "format": "csv"}).text)))
    assert [row[1] for row in rows[1:]] == ["jit@acme.test", "member@acme.test", "jit@acme.test", "newbie@acme.test"]

    done = browser.post(url, {"to": "testing"})
    assert done.status_code == 302 and done["Location"] == f"{BASE}{connection.pk}/rollout/"
    assert SSOConnection.objects.get(pk=connection.pk).status == "testing"
    assert "SSO is rolled back to Testing" in browser.get(done["Location"]).content.decode()
    assert browser.post(url, {"to": "testing"}).status_code == 302  # a repeat is refused, post/redirect/get
    assert AuditEvent.objects.filter(action="sso.status_changed", details__rollback=True).count() == 1


def test_rolling_back_from_enforced_says_what_else_stops(org, owner, enforced, acme_domain):
    from sso.connections import actions as sso_actions

    sso_actions.update_connection(enforced.connection, actor=owner, allow_jit=True)
    enforced.connection.refresh_from_db()
    impact = preview.preview_rollback(enforced.connection, SSOConnection.Status.TESTING)
    notes = " ".join(impact.notes)
    assert "goes from Enforced (SSO only) to Testing" in notes
    assert "Password sign-in works again for everyone" in notes
    assert "Just-in-time provisioning stops" in notes
    assert "Sessions already open stay open" in notes


def test_rollback_preview_checks_access(client_for, sso_client_for, owner, member, outsider, connection):
    url = f"{BASE}{connection.pk}/rollout/rollback/?to=testing"
    assert client_for(owner).get(url).status_code == 200
    assert client_for(member).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(owner).get(f"{BASE}{connection.pk}/rollout/rollback/?to=sideways").status_code == 400
    assert SSOConnection.objects.get(pk=connection.pk).status == "on"


def test_moving_down_to_testing_from_the_connection_page_is_previewed_too(
    client_for, org, owner, admin, member, connection, acme_domain
):
    _rollback_people(org, owner, connection, admin, member)
    browser = client_for(owner)
    page = browser.get(f"{BASE}{connection.pk}/").content.decode()
    assert "Move to testing…" in page  # a step down: a GET to the preview, not a POST
    preview_page = browser.get(f"{BASE}{connection.pk}/status/", {"status": "testing"}).content.decode()
    assert "Only the test group may sign in through SSO afterwards" in preview_page
    assert "People who lose SSO sign-in (2)" in preview_page and "newbie@acme.test" in preview_page
    assert SSOConnection.objects.get(pk=connection.pk).status == "on"
