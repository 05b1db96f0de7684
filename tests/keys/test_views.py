"""The keys pages: list, create (secret shown once), rotate, revoke, policy, service accounts and workloads."""

from __future__ import annotations

import re

import pytest

from audit.models import AuditEvent
from keys import actions
from keys.models import APIKey, KeyPolicy, ServiceAccount, Workload
from orgsecurity.signin_state import REAUTH_AT_SESSION_KEY as REAUTH_SESSION_KEY
from tests.helpers.keys import api_get, issue

BASE = "/orgs/acme/settings/security/keys/"


def secret_on(page) -> str:
    match = re.search(rb'value="(osk_[0-9A-Za-z]{48})"', page.content)
    assert match, page.content[:500]
    return match.group(1).decode()


def shown_after_redirect(client, response):
    """The page a create or rotate POST redirects to (its secret shown once)."""
    assert response.status_code == 302, response.content[:500]
    assert "/secret/" in response["Location"] and "osk_" not in response["Location"]
    return client.get(response["Location"])


# --- list ------------------------------------------------------------------------------------------------


def test_it_checks_access_to_the_list(client_for, owner, member, outsider, acme):
    assert client_for(owner).get(BASE).status_code == 200
    assert client_for(member).get(BASE).status_code == 200
    assert client_for(outsider).get(BASE).status_code == 404
    assert client_for(None).get(BASE).status_code == 302


def test_the_page_says_sso_does_not_restrict_keys_and_what_does(client_for, owner, acme):
    page = client_for(owner).get(BASE).content.decode()
    assert "SSO does not restrict API keys" in page
    assert "turning on SSO enforcement does not disable, restrict or rotate any key" in page
    for control in (
        "Key restrictions",
        "Allowed networks",
        "Expiry and key policy",
        "IP allowlist",
        "Identity changes",
    ):
        assert control in page


def test_owners_see_every_key_members_only_their_own(client_for, org, owner, admin, member, billing_user, acme):
    admin_key, _ = issue(org, admin, team_ids=[acme.data.pk])
    member_key, _ = issue(org, member, project_ids=[acme.web.pk])
    owner_page = client_for(owner).get(BASE).content.decode()
    assert admin_key.prefix in owner_page and member_key.prefix in owner_page
    member_page = client_for(member).get(BASE).content.decode()
    assert member_key.prefix in member_page and admin_key.prefix not in member_page
    assert "Stale credentials report" not in member_page
    billing_page = client_for(billing_user).get(BASE).content.decode()
    assert "cannot hold API keys" in billing_page


def test_the_dashboard_summarises_keys(client_for, org, owner, member, acme):
    assert "No active keys" in client_for(owner).get("/orgs/acme/settings/security/").content.decode()
    issue(org, owner)
    issue(org, member, project_ids=[acme.web.pk])
    actions.flag_keys_for_review(org, actor=owner, reason="SSO enforcement started", user=member)
    actions.set_key_policy(org, actor=owner, require_expiry=True, max_lifetime_days=90, allow_unrestricted=False)
    page = client_for(owner).get("/orgs/acme/").content.decode()
    assert "2 active keys · 1 flagged for review · expiry required (max 90 days) · restrictions required" in page


# --- create ----------------------------------------------------------------------------------------------


def test_it_checks_access_to_create(client_for, fresh_client, owner, member, billing_user, outsider, acme):
    assert fresh_client(owner).get(f"{BASE}new/").status_code == 200
    assert fresh_client(member).get(f"{BASE}new/").status_code == 200
    assert fresh_client(billing_user).get(f"{BASE}new/").status_code == 403
    assert fresh_client(outsider).get(f"{BASE}new/").status_code == 404


def test_creating_needs_recent_authentication(client_for, owner, acme):
    client = client_for(owner)
    session = client.session
    session[REAUTH_SESSION_KEY] = 0  # signed in long ago
    session.save()
    response = client.post(f"{BASE}new/", {"name": "x", "owner": "me", "permission": "read"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    assert not APIKey.objects.exists()


def test_the_secret_is_shown_once_and_works(fresh_client, owner, acme):
    client = fresh_client(owner)
    posted = client.post(
        f"{BASE}new/",
        {
            "name": "deploy",
            "owner": "me",
            "permission": "read",
            "projects": [str(acme.web.pk)],
            "workloads": ["ci"],
            "allowed_cidrs": "127.0.0.0/8, 10.0.0.0/8",
            "expires_in_days": "30",
        },
    )
    response = shown_after_redirect(client, posted)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store, private"
    token = secret_on(response)
    key = APIKey.objects.get()
    assert key.allowed_cidrs == ["127.0.0.0/8", "10.0.0.0/8"] and key.workloads == ["ci"]
    assert api_get(token, f"/api/v1/projects/{acme.web.pk}/", HTTP_X_WORKLOAD="ci").status_code == 200
    listing = client.get(BASE).content.decode()
    assert key.prefix in listing and token not in listing


def test_reloading_the_created_page_creates_no_second_key_and_shows_the_secret_once(fresh_client, owner, acme):
    client = fresh_client(owner)
    posted = client.post(f"{BASE}new/", {"name": "deploy", "owner": "me", "permission": "read"})
    first = shown_after_redirect(client, posted)
    token = secret_on(first)
    assert b'data-copy="api-key-secret"' in first.content and b"/static/orgsecurity/copy.js" in first.content
    reloaded = client.get(posted["Location"])
    assert reloaded.status_code == 410
    assert token not in reloaded.content.decode() and b"was shown once" in reloaded.content
    assert APIKey.objects.count() == 1
    assert AuditEvent.objects.filter(action="key.created").count() == 1
    assert token not in str(client.session.load())  # the session held it encrypted, and no longer holds it


def test_the_secret_page_shows_nothing_to_another_session_or_for_another_key(fresh_client, org, owner, acme):
    other_key, _ = issue(org, owner)
    client = fresh_client(owner)
    posted = client.post(f"{BASE}new/", {"name": "deploy", "owner": "me", "permission": "read"})
    ticket = posted["Location"].rstrip("/").rsplit("/", 1)[1]
    assert b'value="osk_' not in fresh_client(owner).get(posted["Location"]).content  # another session
    elsewhere = client.get(f"{BASE}{other_key.pk}/secret/{ticket}/")
    assert elsewhere.status_code == 410 and b'value="osk_' not in elsewhere.content
    assert client.get(posted["Location"]).status_code == 410  # a ticket is spent by any read


def test_a_stashed_secret_expires(fresh_client, owner, acme, monkeypatch):
    from orgsecurity import secrets_stash

    client = fresh_client(owner)
    posted = client.post(f"{BASE}new/", {"name": "deploy", "owner": "me", "permission": "read"})
    monkeypatch.setattr(secrets_stash, "TTL_SECONDS", -1)
    assert client.get(posted["Location"]).status_code == 410


def test_an_oversized_network_list_is_refused_next_to_the_field(fresh_client, member, acme):
    pasted = "\n".join(f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}" for n in range(100_000))
    response = fresh_client(member).post(
        f"{BASE}new/",
        {"name": "x", "owner": "me", "permission": "read", "projects": [str(acme.web.pk)], "allowed_cidrs": pasted},
    )
    assert response.status_code == 400
    assert b"Ensure this value has at most" in response.content
    assert not APIKey.objects.exists()


def test_a_refused_key_shows_the_reason_and_saves_nothing(fresh_client, member, acme):
    response = fresh_client(member).post(f"{BASE}new/", {"name": "x", "owner": "me", "permission": "read", "teams": []})
    assert response.status_code == 403  # the form again, with why this role may not hold that key
    assert b"restricted to projects or teams the member is on" in response.content
    assert not APIKey.objects.exists()


def test_members_cannot_pick_a_service_account_or_write_permission(fresh_client, org, owner, member, acme):
    account = actions.create_service_account(org, actor=owner, name="bot")
    response = fresh_client(member).post(
        f"{BASE}new/",
        {"name": "x", "owner": f"sa:{account.pk}", "permission": "read_write", "projects": [str(acme.web.pk)]},
    )
    assert response.status_code == 400
    assert not APIKey.objects.exists()


def test_owners_issue_service_account_keys(fresh_client, org, owner, acme):
    account = actions.create_service_account(org, actor=owner, name="bot")
    client = fresh_client(owner)
    posted = client.post(
        f"{BASE}new/",
        {"name": "etl", "owner": f"sa:{account.pk}", "permission": "read_write", "teams": [str(acme.data.pk)]},
    )
    token = secret_on(shown_after_redirect(client, posted))
    assert APIKey.objects.get().owner_service_account == account
    assert token not in client.get(posted["Location"]).content.decode()


# --- rotate and revoke -----------------------------------------------------------------------------------


def test_it_checks_access_to_rotate(fresh_client, org, owner, admin, member, outsider, acme):
    member_key, _ = issue(org, member, project_ids=[acme.web.pk])
    owner_key, _ = issue(org, owner)
    path = f"{BASE}{member_key.pk}/rotate/"
    assert fresh_client(member).get(path).status_code == 200
    assert fresh_client(outsider).get(path).status_code == 404
    assert fresh_client(member).get(f"{BASE}{owner_key.pk}/rotate/").status_code == 404  # not theirs to see
    refused = fresh_client(admin).post(path, {"overlap_seconds": "0"})
    assert refused.status_code == 403 and b"Only the person who owns a personal key" in refused.content


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_for_the_overlap(fresh_client, org, owner, acme):
    key, old = issue(org, owner)
    client = fresh_client(owner)
    response = shown_after_redirect(client, client.post(f"{BASE}{key.pk}/rotate/", {"overlap_seconds": "3600"}))
    assert response.status_code == 200
    new = secret_on(response)
    assert new != old and b"The old secret keeps working until" in response.content
    assert api_get(old, "/api/v1/whoami").status_code == 200
    assert api_get(new, "/api/v1/whoami").status_code == 200


def test_an_overlap_outside_the_choices_is_refused(fresh_client, org, owner, acme):
    key, _ = issue(org, owner)
    response = fresh_client(owner).post(f"{BASE}{key.pk}/rotate/", {"overlap_seconds": str(8 * 86400)})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="key.rotated").exists()


def test_it_checks_access_to_revoke(fresh_client, org, owner, member, outsider, acme):
    owner_key, token = issue(org, owner)
    assert fresh_client(outsider).post(f"{BASE}{owner_key.pk}/revoke/", {"reason": "x"}).status_code == 404
    assert fresh_client(member).post(f"{BASE}{owner_key.pk}/revoke/", {"reason": "x"}).status_code == 404
    response = fresh_client(owner).post(f"{BASE}{owner_key.pk}/revoke/", {"reason": "Laptop stolen"})
    assert response.status_code == 302
    owner_key.refresh_from_db()
    assert owner_key.revoked_reason == "Laptop stolen"
    assert api_get(token, "/api/v1/whoami").status_code == 401


def test_a_member_revokes_their_own_key(fresh_client, org, member, acme):
    key, token = issue(org, member, project_ids=[acme.web.pk])
    fresh_client(member).post(f"{BASE}{key.pk}/revoke/", {"reason": "not needed"})
    assert api_get(token, "/api/v1/whoami").json()["error"]["code"] == "key_revoked"


def test_revoking_without_a_reason_changes_nothing(fresh_client, org, owner, acme):
    key, _ = issue(org, owner)
    response = fresh_client(owner).post(f"{BASE}{key.pk}/revoke/", {"reason": ""}, follow=True)
    assert b"Say why the key is revoked" in response.content
    key.refresh_from_db()
    assert key.revoked_at is None


# --- policy, service accounts, workloads -----------------------------------------------------------------


def test_it_checks_access_to_the_policy(fresh_client, client_for, owner, admin, member, outsider):
    assert client_for(owner).get(f"{BASE}policy/").status_code == 200
    assert client_for(admin).get(f"{BASE}policy/").status_code == 200
    assert client_for(member).get(f"{BASE}policy/").status_code == 403
    assert client_for(outsider).get(f"{BASE}policy/").status_code == 404
    data = {"require_expiry": "on", "max_lifetime_days": "90"}
    assert fresh_client(admin).post(f"{BASE}policy/", data).status_code == 403
    assert fresh_client(owner).post(f"{BASE}policy/", data).status_code == 302
    policy = KeyPolicy.objects.get()
    assert (policy.require_expiry, policy.max_lifetime_days, policy.allow_unrestricted) == (True, 90, False)


def test_the_policy_page_lists_keys_that_do_not_meet_it(fresh_client, org, owner, acme):
    key, _ = issue(org, owner)
    fresh_client(owner).post(f"{BASE}policy/", {"require_expiry": "on", "allow_unrestricted": "on"})
    page = fresh_client(owner).get(f"{BASE}policy/").content.decode()
    assert key.prefix in page


def test_bad_policy_input_is_a_400(fresh_client, owner):
    response = fresh_client(owner).post(f"{BASE}policy/", {"max_lifetime_days": "0"})
    assert response.status_code == 400
    assert not KeyPolicy.objects.exists()


def test_it_checks_access_to_service_accounts_and_workloads(fresh_client, owner, member, outsider, org):
    for path, model, prefix in (
        ("service-accounts/new/", ServiceAccount, "account"),
        ("workloads/new/", Workload, "workload"),
    ):
        assert fresh_client(outsider).post(f"{BASE}{path}", {f"{prefix}-name": "x"}).status_code == 404
        assert fresh_client(member).post(f"{BASE}{path}", {f"{prefix}-name": "x"}).status_code == 403
        assert fresh_client(owner).post(f"{BASE}{path}", {f"{prefix}-name": "nightly"}).status_code == 302
        assert model.objects.filter(organization=org, name="nightly").exists()
        duplicate = fresh_client(owner).post(f"{BASE}{path}", {f"{prefix}-name": "nightly"}, follow=True)
        assert b"already exists" in duplicate.content


@pytest.mark.parametrize("path", ["", "new/", "policy/", "stale/", "stale.csv"])
def test_pages_carry_no_secrets_of_other_orgs(client_for, outsider, other_org, org, owner, path):
    _, token = issue(other_org, outsider)
    page = client_for(owner).get(f"{BASE}{path}")
    assert token[:14].encode() not in page.getvalue()


# --- saving over a change made meanwhile -------------------------------------------------------------------


def loaded_version_on(page) -> str:
    match = re.search(rb'name="loaded_version" value="([^"]+)"', page.content)
    assert match, page.content[:500]
    return match.group(1).decode()


def test_saving_the_key_policy_over_a_change_made_meanwhile_is_refused(fresh_client, org, owner, acme):
    client = fresh_client(owner)
    opened = client.get(f"{BASE}policy/")
    assert 'name="allow_unrestricted" id="id_allow_unrestricted" checked' in opened.content.decode()
    version = loaded_version_on(opened)
    # The confirmation page carries the version on to the form that saves.
    confirm = client.get(f"{BASE}policy/confirm/", {"require_expiry": "on", "loaded_version": version})
    assert f'name="loaded_version" value="{version}"' in confirm.content.decode()
    # Meanwhile another owner (or a program) forbids unrestricted keys.
    actions.set_key_policy(org, actor=owner, require_expiry=False, max_lifetime_days=None, allow_unrestricted=False)
    stale = client.post(
        f"{BASE}policy/", {"require_expiry": "on", "allow_unrestricted": "on", "loaded_version": version}
    )
    assert stale.status_code == 302 and stale["Location"] == f"{BASE}policy/"
    page = client.get(stale["Location"]).content.decode()
    assert "changed since you opened this page" in page
    assert "Allow keys that are not restricted to teams, projects or workloads: on → off" in page
    policy = KeyPolicy.for_organization(org)
    assert not policy.require_expiry and not policy.allow_unrestricted  # the other change stands, ours is not saved
    assert 'name="allow_unrestricted" id="id_allow_unrestricted" checked' not in page  # the form shows what is saved
    assert 'name="allow_unrestricted"' in page
    # Saving from the page as it is now works.
    fresh = client.post(f"{BASE}policy/", {"require_expiry": "on", "loaded_version": loaded_version_on_text(page)})
    assert fresh.status_code == 302 and KeyPolicy.for_organization(org).require_expiry


def loaded_version_on_text(page: str) -> str:
    match = re.search(r'name="loaded_version" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_a_tampered_version_is_refused_and_an_absent_one_is_not_checked(fresh_client, org, owner, acme):
    client = fresh_client(owner)
    assert client.post(f"{BASE}policy/", {"require_expiry": "on", "loaded_version": "forged"}).status_code == 302
    assert not KeyPolicy.for_organization(org).require_expiry
    assert client.post(f"{BASE}policy/", {"require_expiry": "on"}).status_code == 302
    assert KeyPolicy.for_organization(org).require_expiry
