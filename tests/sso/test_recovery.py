"""Recovery (break-glass) accounts: designation by owners, codes shown once and stored hashed, recovery sign-in
that works while SSO is enforced and the IdP is down, brute-force limits, notices, guards, and rollback."""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.core import mail
from django.test import Client

from allowlist import actions as allowlist_actions
from allowlist.policy import clear_matcher_cache
from audit.models import AuditEvent
from orgsecurity import actions as org_actions
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership
from sso.connections import actions
from sso.models import RecoveryAccount, RecoveryCode, SSOConnection
from sso.protocols import HANDLERS
from sso.recovery import accounts as recovery
from tests.helpers.core import PASSWORD, add_member, make_user

RECOVERY = "/accounts/recovery/"
PAGE = "/orgs/acme/settings/security/sso/recovery/"
CODE = re.compile(r"\b[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}\b")


def recover(client: Client, email: str, code: str, password: str = PASSWORD, ip: str = "198.51.100.7"):
    return client.post(RECOVERY, {"username": email, "password": password, "recovery_code": code}, REMOTE_ADDR=ip)


def membership(user) -> Membership:
    return Membership.objects.get(user=user, organization__slug="acme")


# --- designation and codes -------------------------------------------------------------------------------------


def test_it_checks_access_to_the_recovery_page(client_for, org, owner, admin, member, outsider):
    page = client_for(owner).get(PAGE)
    assert page.status_code == 200 and b"Make recovery account" in page.content
    page = client_for(admin).get(PAGE)
    assert page.status_code == 200 and b"Only owners choose recovery accounts" in page.content
    assert client_for(member).get(PAGE).status_code == 403
    assert client_for(outsider).get(PAGE).status_code == 404


def test_only_owners_designate_owners_or_admins_with_a_password(client_for, org, owner, admin, member, outsider):
    url = f"{PAGE}designate/"
    assert client_for(admin).post(url, {"membership": membership(admin).pk}).status_code == 403
    assert client_for(member).post(url, {"membership": membership(member).pk}).status_code == 403
    assert client_for(outsider).post(url, {"membership": membership(admin).pk}).status_code == 404
    assert client_for(owner).post(url, {"membership": membership(member).pk}).status_code == 400  # not an admin
    assert client_for(owner).post(url, {"membership": membership(admin).pk}).status_code == 302
    assert RecoveryAccount.objects.get().membership.user == admin
    assert AuditEvent.objects.get(action="sso.recovery_designated").changes == {"user": [None, admin.email]}
    sso_only = make_user("sso-only@acme.test", password=None)
    add_member(org, sso_only, "admin")
    with pytest.raises(ActionRefused, match="has no password"):
        recovery.designate(org, actor=owner, membership=membership(sso_only))


def test_codes_are_shown_once_to_their_owner_and_stored_hashed(client_for, org, owner, admin):
    recovery.designate(org, actor=owner, membership=membership(admin))
    assert client_for(owner).post(f"{PAGE}codes/").status_code == 403  # not owner's account
    holder = client_for(admin)
    response = holder.get(holder.post(f"{PAGE}codes/")["Location"])
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = CODE.findall(response.content.decode())
    assert len(set(codes)) == recovery.CODES_PER_SET
    stored = set(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert {recovery.hash_code(code) for code in codes} == stored
    assert not any(code in hashed for code in codes for hashed in stored)
    assert codes[0] not in client_for(admin).get(PAGE).content.decode()
    again = CODE.findall(holder.get(holder.post(f"{PAGE}codes/")["Location"]).content.decode())
    assert recovery.use_code(admin, codes[0]) is None  # the old set is gone
    assert recovery.use_code(admin, again[0].upper().replace("-", " ")) is not None  # typed loosely


# --- recovery sign-in ------------------------------------------------------------------------------------------


def test_recovery_sign_in_works_while_enforced_and_the_idp_is_down(
    enforced, owner, admin, monkeypatch, django_capture_on_commit_callbacks
):
    org_actions.change_role(membership(admin), actor=owner, role="owner")  # two owners get the notice
    monkeypatch.delitem(HANDLERS, "saml")  # no way to reach the IdP at all
    browser = Client()
    assert browser.get(RECOVERY).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = recover(browser, owner.email, enforced.codes[0])
    assert response.status_code == 302
    assert response["Location"] == f"/orgs/acme/settings/security/sso/{enforced.connection.pk}/rollout/"
    assert browser.session["auth_method"] == "recovery"
    assert browser.session["sso_recovery_organization"] == enforced.connection.organization_id
    assert browser.get("/orgs/acme/members/").status_code == 200
    assert sorted(message.to[0] for message in mail.outbox) == sorted([owner.email, admin.email])
    assert "signed in to Acme Inc. with a recovery code" in mail.outbox[0].subject
    event = AuditEvent.objects.get(action="sso.recovery_used")
    assert event.actor_label == owner.email and event.details["remaining_codes"] == recovery.CODES_PER_SET - 1
    assert AuditEvent.objects.filter(action="auth.signed_in", details__method="recovery").exists()


def test_a_code_works_once(enforced, owner):
    assert recover(Client(), owner.email, enforced.codes[0]).status_code == 302
    response = recover(Client(), owner.email, enforced.codes[0])
    assert response.status_code == 400
    assert b"The email, password or recovery code is not right" in response.content


def test_wrong_codes_count_like_wrong_passwords_and_are_never_logged(enforced, owner, settings):
    wrong_code = recover(Client(), owner.email, "aaaa-bbbb-cccc-dddd")
    wrong_password = recover(Client(), owner.email, enforced.codes[0], password="nope")
    assert wrong_code.status_code == wrong_password.status_code == 400
    assert b"The email, password or recovery code is not right" in wrong_code.content
    assert AccessFailureLog.objects.filter(username=owner.email).count() == 2
    failure = AuditEvent.objects.filter(action="auth.sign_in_failed").latest("seq")
    assert failure.details["method"] == "recovery"
    for _ in range(settings.AXES_FAILURE_LIMIT - 2):
        recover(Client(), owner.email, "aaaa-bbbb-cccc-dddd")
    locked = recover(Client(), owner.email, enforced.codes[1])  # the right code, but locked out now
    assert locked.status_code == 429
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 0
    logged = " ".join(AccessAttempt.objects.values_list("post_data", flat=True))
    assert "aaaa-bbbb" not in logged and enforced.codes[1] not in logged


def test_someone_who_is_not_a_recovery_account_cannot_use_codes(enforced, member):
    assert recover(Client(), member.email, enforced.codes[0]).status_code == 400


def test_using_the_last_code_shows_a_new_set(enforced, owner):
    for code in enforced.codes[:-1]:
        assert recover(Client(), owner.email, code).status_code == 302
    browser = Client()
    redirected = recover(browser, owner.email, enforced.codes[-1])
    assert redirected.status_code == 302 and redirected["Location"].startswith("/accounts/recovery/codes/")
    response = browser.get(redirected["Location"])
    fresh = CODE.findall(response.content.decode())
    assert len(fresh) == recovery.CODES_PER_SET and b"You used your last recovery code" in response.content
    assert recover(Client(), owner.email, fresh[0]).status_code == 302


def test_a_recovery_sign_in_rolls_sso_back_in_one_step(enforced, owner, member, monkeypatch):
    monkeypatch.delitem(HANDLERS, "saml")
    browser = Client()
    recover(browser, owner.email, enforced.codes[0])
    url = f"/orgs/acme/settings/security/sso/{enforced.connection.pk}/rollout/rollback/"
    response = browser.post(url, {"to": "off"})
    assert response.status_code == 302
    assert SSOConnection.objects.get(pk=enforced.connection.pk).status == "off"
    assert Client().post("/accounts/login/", {"username": member.email, "password": PASSWORD}).status_code == 302


def test_a_demoted_recovery_account_can_no_longer_use_codes(ready, owner, admin, org):
    account = recovery.designate(org, actor=owner, membership=membership(admin))
    codes = recovery.generate_codes(account, actor=admin)
    org_actions.change_role(membership(admin), actor=owner, role="member")
    assert recover(Client(), admin.email, codes[0]).status_code == 400


# --- landing from outside the IP allowlist -------------------------------------------------------------------

OFFICE_IP, HOME_IP = "198.51.100.7", "203.0.113.9"


def guard_with_allowlist(organization, owner, scope: str = "dashboard") -> None:
    clear_matcher_cache()  # compiled lists are cached per process by (list id, version); SQLite reuses ids
    allowlist_actions.add_entries(organization, "198.51.100.0/24", actor=owner)
    allowlist_actions.update_settings(organization, actor=owner, actor_ip=OFFICE_IP, enabled=True, scope=scope)


def test_a_recovery_sign_in_from_outside_the_allowlist_lands_on_the_page_it_may_open(enforced, owner):
    # Issue 10 item 22: it landed on the rollout page, which a session outside the list is refused (403).
    organization = enforced.connection.organization
    rollout = f"/orgs/acme/settings/security/sso/{enforced.connection.pk}/rollout/"
    guard_with_allowlist(organization, owner)
    browser = Client(REMOTE_ADDR=HOME_IP)
    response = recover(browser, owner.email, enforced.codes[0], ip=HOME_IP)
    assert response.status_code == 302
    assert response["Location"] == "/orgs/acme/settings/security/allowlist/"
    page = browser.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert f"You signed in with a recovery account from <strong>{HOME_IP}</strong>" in text
    assert "Only this page is open to you until the list allows your address" in text
    assert "You signed in to Acme Inc. with a recovery code (9 left)" in text
    assert browser.get(rollout).status_code == 403  # where it used to land
    # From inside the list it lands where it always did: the rollout page, to roll SSO back.
    inside = Client(REMOTE_ADDR=OFFICE_IP)
    assert recover(inside, owner.email, enforced.codes[1], ip=OFFICE_IP)["Location"] == rollout
    assert inside.get(rollout).status_code == 200


def test_an_allowlist_for_api_keys_only_does_not_change_the_landing(enforced, owner):
    guard_with_allowlist(enforced.connection.organization, owner, scope="api")
    rollout = f"/orgs/acme/settings/security/sso/{enforced.connection.pk}/rollout/"
    assert recover(Client(), owner.email, enforced.codes[0], ip=HOME_IP)["Location"] == rollout


def test_the_new_codes_page_after_the_last_code_continues_to_a_page_that_opens(enforced, owner):
    guard_with_allowlist(enforced.connection.organization, owner)
    for code in enforced.codes[:-1]:
        assert recover(Client(), owner.email, code, ip=OFFICE_IP).status_code == 302
    browser = Client(REMOTE_ADDR=HOME_IP)
    response = browser.get(recover(browser, owner.email, enforced.codes[-1], ip=HOME_IP)["Location"])
    assert response.status_code == 200 and b"You used your last recovery code" in response.content
    assert b'href="/orgs/acme/settings/security/allowlist/" role="button">I saved them' in response.content
    assert browser.get("/orgs/acme/settings/security/allowlist/").status_code == 200


# --- guards ----------------------------------------------------------------------------------------------------


def test_the_last_owner_recovery_account_stays_while_enforced(enforced, client_for, sso_client_for, owner, admin):
    account = RecoveryAccount.objects.get(membership__user=owner)
    browser = sso_client_for(owner, enforced.connection)
    response = browser.post(f"{PAGE}{account.pk}/remove/")
    assert response.status_code == 302  # back to the recovery page, which still lists the account, with the reason
    assert b"last owner recovery account while SSO is enforced" in browser.get(response["Location"]).content
    org_actions.change_role(membership(admin), actor=owner, role="owner")
    second = recovery.designate(enforced.connection.organization, actor=owner, membership=membership(admin))
    recovery.generate_codes(second, actor=admin)
    assert browser.post(f"{PAGE}{account.pk}/remove/").status_code == 302


def test_members_and_roles_cannot_take_away_the_last_way_in(enforced, owner, admin):
    org_actions.change_role(membership(admin), actor=owner, role="owner")
    actions.update_connection(enforced.connection, actor=owner, admin_owner=admin)
    with pytest.raises(ActionRefused, match="last owner with a recovery account while SSO is enforced"):
        org_actions.remove_member(membership(owner), actor=admin)
    with pytest.raises(ActionRefused, match="last owner with a recovery account"):
        org_actions.change_role(membership(owner), actor=admin, role="admin")
    assert membership(owner).role == "owner"


def test_the_admin_owner_cannot_be_removed_or_demoted_without_a_new_one(connection, owner, admin):
    actions.update_connection(connection, actor=owner, admin_owner=admin)
    with pytest.raises(ActionRefused, match="admin owner of the SSO connection"):
        org_actions.remove_member(membership(admin), actor=owner)
    with pytest.raises(ActionRefused, match="Name a new admin owner"):
        org_actions.change_role(membership(admin), actor=owner, role="member")
    org_actions.change_role(membership(admin), actor=owner, role="owner")  # still an owner or admin: fine
    actions.update_connection(connection, actor=owner, admin_owner=owner)
    org_actions.remove_member(membership(admin), actor=owner)


def test_the_members_page_shows_why_a_removal_was_refused(client_for, connection, owner, admin):
    actions.update_connection(connection, actor=owner, admin_owner=admin)
    browser = client_for(owner)
    response = browser.post(f"/orgs/acme/members/{membership(admin).pk}/remove/")
    assert response.status_code == 302  # back to the members page (post/redirect/get), with the reason
    assert b"is the admin owner of the SSO connection" in browser.get(response["Location"]).content


# --- the codes page: shown once, after a redirect -----------------------------------------------------------------


def test_new_codes_are_shown_once_after_a_redirect_with_copy_download_and_print(client_for, org, owner):
    account = recovery.designate(org, actor=owner, membership=membership(owner))
    browser = client_for(owner)
    made = browser.post(f"{PAGE}codes/")
    assert made.status_code == 302  # never rendered at the POST URL: reloading it does not replace the codes
    assert not CODE.findall(made.content.decode())
    assert made["Location"].startswith("/accounts/recovery/codes/")
    page = browser.get(made["Location"])
    html = page.content.decode()
    codes = CODE.findall(html.split("<pre")[1].split("</pre>")[0])
    assert page.status_code == 200 and len(codes) == recovery.CODES_PER_SET
    assert "no-store" in page["Cache-Control"]
    assert 'data-copy="recovery-codes"' in html and "data-print" in html
    assert 'download="acme-recovery-codes.txt"' in html and "Download .txt" in html
    assert codes[0] in html.split('href="data:text/plain')[1].split('"')[0]  # the .txt holds the same codes
    assert account.codes.filter(used_at__isnull=True).count() == recovery.CODES_PER_SET

    again = browser.get(made["Location"])  # reload or back: shown once, nothing made again
    assert again.status_code == 410 and "were shown once" in again.content.decode()
    assert not CODE.findall(again.content.decode())
    assert AuditEvent.objects.filter(action="sso.recovery_codes_generated").count() == 1
    assert client_for(None).get(made["Location"]).status_code == 302  # signed out: to the sign-in page
