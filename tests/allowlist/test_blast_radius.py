"""Before the allowlist is turned on or narrowed: who it would cut off (``allowlist.preview``), the confirmation
pages with their CSV, confirming applies the change, and "add my current IP" with the reason for the address."""

from __future__ import annotations

import csv
import io
import ipaddress
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from allowlist import actions
from allowlist.models import IPAllowlist, IPAllowlistEntry
from allowlist.preview import preview_remove_entries, preview_settings
from keys.actions import create_api_key
from keys.models import APIKey
from orgsecurity.models import User
from sessions_policy.models import UserSession
from tests.helpers.allowlist import HOME_IP, OFFICE, OFFICE_IP

PAGE = "/orgs/acme/settings/security/allowlist/"
CAFE_IP = "192.0.2.44"
BRANCH = "192.0.2.0/24"


def seen(user: User, ip: str, *, days_ago: float = 1, last_ip: str | None = None) -> UserSession:
    when = timezone.now() - timedelta(days=days_ago)
    return UserSession.objects.create(
        user=user,
        session_key=f"k{UserSession.objects.count()}-{user.pk}-{ip}",
        auth_method="password",
        authenticated_at=when,
        last_seen_at=when,
        ip=ip,
        last_ip=last_ip,
    )


def used_key(org, owner, name: str, ip: str | None) -> APIKey:
    key, _ = create_api_key(org, actor=owner, name=name)
    APIKey.objects.filter(pk=key.pk).update(last_used_ip=ip, last_used_at=timezone.now() if ip else None)
    return APIKey.objects.get(pk=key.pk)


@pytest.fixture
def traffic(org, owner, admin, member):
    """The office block on the (off) list; the owner works from the office, the admin from home (two days ago),
    the member from a café but only 40 days ago; one key used from the office, one from home, one never."""
    actions.add_entries(org, OFFICE, actor=owner)
    seen(owner, OFFICE_IP)
    seen(admin, OFFICE_IP, last_ip=HOME_IP, days_ago=2)
    seen(member, CAFE_IP, days_ago=40)
    return {
        "office": used_key(org, owner, "deploy", OFFICE_IP),
        "home": used_key(org, owner, "laptop script", HOME_IP),
        "never": used_key(org, owner, "unused", None),
    }


def turn_on(org, owner, scope: str = "dashboard") -> None:
    actions.update_settings(org, actor=owner, actor_ip=OFFICE_IP, enabled=True, scope=scope)


def names(impact, group: str) -> list[str]:
    return [item.name for item in impact.group(group).items]


# --- previews --------------------------------------------------------------------------------------------


def test_turning_it_on_for_dashboards_lists_members_seen_outside_in_the_last_30_days(org, traffic):
    impact = preview_settings(org, enabled=True, scope="dashboard")
    assert names(impact, "people") == ["admin@acme.test"]
    assert impact.group("people").items[0].detail == f"Admin: seen from {HOME_IP}"
    assert names(impact, "keys") == []  # the dashboard scope does not guard keys


def test_turning_it_on_for_both_also_lists_keys_last_used_outside(org, traffic):
    impact = preview_settings(org, enabled=True, scope="both")
    assert names(impact, "people") == ["admin@acme.test"]
    assert names(impact, "keys") == [f"{traffic['home'].prefix} (laptop script)"]
    assert impact.group("keys").items[0].ref == traffic["home"].key_id
    assert impact.total == 2


def test_turning_it_off_or_keeping_it_as_is_lists_nobody(org, owner, traffic):
    assert preview_settings(org, enabled=False, scope="both").total == 0
    turn_on(org, owner, scope="both")
    # Already on for both: the admin and the home key are refused today, so the same settings cut off nobody new.
    assert preview_settings(org, enabled=True, scope="both").total == 0


def test_removing_an_entry_lists_who_only_it_let_in(org, owner, admin, traffic):
    actions.add_entries(org, BRANCH, actor=owner)
    seen(admin, "192.0.2.10")
    turn_on(org, owner, scope="both")
    branch = IPAllowlistEntry.objects.get(cidr=BRANCH)
    impact = preview_remove_entries(org, [branch.pk])
    assert names(impact, "people") == ["admin@acme.test"]
    assert impact.group("people").items[0].detail == "Admin: seen from 192.0.2.10"
    office = IPAllowlistEntry.objects.get(cidr=OFFICE)
    assert names(preview_remove_entries(org, [office.pk]), "keys") == [f"{traffic['office'].prefix} (deploy)"]


def test_removing_entries_of_a_list_that_is_off_lists_nobody(org, traffic):
    office = IPAllowlistEntry.objects.get(cidr=OFFICE)
    assert preview_remove_entries(org, [office.pk]).total == 0


# --- pages ---------------------------------------------------------------------------------------------


def test_the_confirmation_lists_who_is_cut_off_and_confirming_turns_it_on(client_at, owner, org, traffic):
    client = client_at(owner)
    page = client.get(PAGE + "settings/confirm/", {"enabled": "on", "scope": "both"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Turn on the IP allowlist?" in text
    # The test client's own sign-in came from 127.0.0.1, outside the list: the owner is listed too.
    assert "Members who would be refused on dashboard pages (2)" in text
    assert "admin@acme.test" in text and f"seen from {HOME_IP}" in text
    assert "Owner: seen from 127.0.0.1" in text
    assert "laptop script" in text and "(deploy)" not in text
    assert "Download CSV" in text
    assert not IPAllowlist.objects.filter(enabled=True).exists()  # looking changes nothing

    response = client.post(PAGE + "settings/confirm/", {"enabled": "on", "scope": "both"})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert IPAllowlist.objects.filter(organization=org, enabled=True, scope="both").exists()


def test_the_csv_lists_the_same_people_and_keys(client_at, owner, traffic):
    response = client_at(owner).get(PAGE + "settings/confirm/", {"enabled": "on", "scope": "both", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="acme-allowlist-on-both.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["group", "name", "ref", "what happens", "blocking"]
    assert [row[1] for row in rows[1:]] == [
        "admin@acme.test",
        "owner@acme.test",  # the test client signed in from 127.0.0.1
        f"{traffic['home'].prefix} (laptop script)",
    ]


def test_the_csv_defuses_formulas(client_at, org, owner):
    actions.add_entries(org, OFFICE, actor=owner)
    key = used_key(org, owner, "=HYPERLINK(1)", HOME_IP)
    response = client_at(owner).get(PAGE + "settings/confirm/", {"enabled": "on", "scope": "api", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][1] == f"{key.prefix} (=HYPERLINK(1))"  # starts with "osk_": safe as is
    assert rows[1][0] == "API keys whose last-used address would be refused"


def test_the_allowlist_page_routes_its_forms_through_the_confirmation(client_at, owner, org):
    actions.add_entries(org, OFFICE, actor=owner)
    text = client_at(owner).get(PAGE).content.decode()
    assert f'<form method="get" action="{PAGE}settings/confirm/"' in text
    assert f'<form method="get" action="{PAGE}entries/remove/confirm/"' in text


def test_the_remove_confirmation_lists_and_confirming_removes(client_at, owner, admin, org):
    actions.add_entries(org, f"{OFFICE}\n{BRANCH}", actor=owner)
    seen(admin, "192.0.2.10")
    turn_on(org, owner)
    branch = IPAllowlistEntry.objects.get(cidr=BRANCH)
    client = client_at(owner)
    text = client.get(PAGE + "entries/remove/confirm/", {"entry": branch.pk}).content.decode()
    assert "Remove 1 allowlist entry?" in text and BRANCH in text and "admin@acme.test" in text
    assert client.post(PAGE + "entries/remove/confirm/", {"entry": branch.pk}).status_code == 302
    assert not IPAllowlistEntry.objects.filter(cidr=BRANCH).exists()


def test_confirmation_pages_check_access_and_bad_input(client_at, owner, member, outsider, org):
    for path in (PAGE + "settings/confirm/?enabled=on&scope=both", PAGE + "entries/remove/confirm/?entry=1"):
        assert client_at(member).get(path).status_code == 403
        assert client_at(outsider).get(path).status_code == 404
    assert client_at(owner).get(PAGE + "settings/confirm/?scope=nonsense").status_code == 400
    assert client_at(owner).get(PAGE + "entries/remove/confirm/?entry=x").status_code == 400
    assert client_at(owner).get(PAGE + "entries/remove/confirm/?entry=99999").status_code == 404
    assert client_at(member).post(PAGE + "settings/confirm/", {"enabled": "on", "scope": "both"}).status_code == 403
    assert not IPAllowlist.objects.filter(enabled=True).exists()


# --- add my current IP ---------------------------------------------------------------------------------


def test_add_my_current_ip_shows_the_address_and_why_then_adds_it(client_at, owner, org):
    client = client_at(owner, ip=HOME_IP)
    text = client.get(PAGE).content.decode()
    assert f"Add my current IP ({HOME_IP})" in text
    assert f"It is the address of the connection itself ({HOME_IP}); no proxy is configured" in text
    response = client.post(PAGE + "entries/add/", {"cidr": HOME_IP, "label": "Added with “add my current IP”"})
    assert response.status_code == 302
    assert IPAllowlistEntry.objects.filter(organization=org, cidr=f"{HOME_IP}/32").exists()
    assert "Add my current IP" not in client.get(PAGE).content.decode()  # on the list now


@override_settings(TRUSTED_PROXIES=[ipaddress.ip_network("10.0.0.0/8")])
def test_the_reason_names_the_proxy_that_forwarded_the_address(client_at, owner):
    client = client_at(owner, ip="10.1.2.3")
    text = client.get(PAGE, HTTP_X_FORWARDED_FOR=f"{CAFE_IP}, 10.9.9.9").content.decode()
    assert f"Add my current IP ({CAFE_IP})" in text
    assert "Our proxy 10.1.2.3 forwarded it in the X-Forwarded-For header" in text


def test_the_confirmation_warns_when_the_change_would_lock_you_out(client_at, owner, org):
    actions.add_entries(org, OFFICE, actor=owner)
    text = client_at(owner, ip=HOME_IP).get(PAGE + "settings/confirm/", {"enabled": "on", "scope": "both"})
    assert f"Your own IP address as this server sees it, {HOME_IP}, would be outside the list" in text.content.decode()
    inside = client_at(owner, ip=OFFICE_IP).get(PAGE + "settings/confirm/", {"enabled": "on", "scope": "both"})
    assert "Your own IP address" not in inside.content.decode()
    turn_on(org, owner)
    office = IPAllowlistEntry.objects.get(cidr=OFFICE)
    removing = client_at(owner, ip=OFFICE_IP).get(PAGE + "entries/remove/confirm/", {"entry": office.pk})
    assert f"Your own IP address as this server sees it, {OFFICE_IP}, would be outside" in removing.content.decode()
    assert preview_remove_entries(org, [office.pk]).notes[0].startswith("Members not seen")  # no address, no warning


def test_json_clients_get_the_same_preview(client_at, owner, traffic):
    response = client_at(owner).get(
        PAGE + "settings/confirm/", {"enabled": "on", "scope": "both"}, HTTP_ACCEPT="application/json"
    )
    body = response.json()
    assert body["change"] == "allowlist.settings"
    keys = next(group for group in body["groups"] if group["key"] == "keys")
    assert [item["ref"] for item in keys["items"]] == [traffic["home"].key_id]
