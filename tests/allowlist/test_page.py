"""The allowlist page: personas, adding (single and bulk), removing, settings, the check tool, the
self-lockout 409, re-authentication and the audit events of every change."""

from __future__ import annotations

import re

import pytest

from allowlist.models import IPAllowlist, IPAllowlistEntry
from audit.models import AuditEvent
from tests.helpers.allowlist import HOME_IP, OFFICE, OFFICE_IP, enable

PAGE = "/orgs/acme/settings/security/allowlist/"


def cidrs() -> list[str]:
    return list(IPAllowlistEntry.objects.values_list("cidr", flat=True).order_by("pk"))


def post_settings(client, enabled: bool, scope: str = "dashboard", **extra):
    data = {"scope": scope, **({"enabled": "on"} if enabled else {})}
    return client.post(PAGE + "settings/", data, **extra)


# --- access ------------------------------------------------------------------------------------------


def test_it_checks_access_to_the_page_and_the_check_tool(client_at, owner, admin, member, outsider):
    for path in (PAGE, PAGE + "check/?ip=192.0.2.1"):
        assert client_at(owner).get(path).status_code == 200
        assert client_at(admin).get(path).status_code == 200
        assert client_at(member).get(path).status_code == 403
        assert client_at(outsider).get(path).status_code == 404
        assert client_at(None).get(path).status_code == 302


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("settings/", {"enabled": "on", "scope": "both"}),
        ("entries/add/", {"cidr": OFFICE}),
        ("entries/bulk/", {"entries": OFFICE}),
        ("entries/remove/", {"entry": "1"}),
    ],
)
def test_it_checks_access_to_every_change(client_at, owner, member, outsider, path, data):
    assert client_at(member).post(PAGE + path, data).status_code == 403
    assert client_at(outsider).post(PAGE + path, data).status_code == 404
    assert client_at(None).post(PAGE + path, data).status_code == 401
    assert not IPAllowlistEntry.objects.exists()
    assert not IPAllowlist.objects.filter(enabled=True).exists()
    assert client_at(owner).get(PAGE + path).status_code == 405


def test_changes_need_recent_re_authentication(client_at, owner):
    stale = client_at(owner, recent_auth=False)
    response = stale.post(PAGE + "entries/add/", {"cidr": OFFICE}, HTTP_REFERER="https://testserver" + PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/?next=")
    assert not IPAllowlistEntry.objects.exists()
    assert client_at(owner).post(PAGE + "entries/add/", {"cidr": OFFICE}).status_code == 302
    assert cidrs() == [OFFICE]


def test_the_page_shows_status_your_ip_and_entries(client_at, owner, org):
    page = client_at(owner, ip=HOME_IP).get(PAGE).content.decode()
    assert "<strong>Off</strong>" in page
    assert f"<code>{HOME_IP}</code>" in page
    assert "not on the list" in page
    enable(org, owner, OFFICE, "2001:db8:1200::/40")
    page = client_at(owner, ip=OFFICE_IP).get(PAGE).content.decode()
    assert "<strong>On</strong> for dashboard pages" in page
    assert "2001:db8:1200::/40" in page
    assert f"<code>{OFFICE_IP}</code> —\n    on the list (198.51.100.0/24)" in page


def test_dashboard_status_line(client_at, owner, org):
    assert "Not configured yet" in client_at(owner).get("/orgs/acme/settings/security/").content.decode()
    enable(org, owner, OFFICE, "2001:db8::/32", scope="both")
    assert "On for dashboard pages and API keys · 2 entries" in client_at(owner).get("/orgs/acme/").content.decode()


# --- adding ------------------------------------------------------------------------------------------


def test_add_one_entry_with_host_bits_normalised(client_at, owner):
    client = client_at(owner)
    response = client.post(PAGE + "entries/add/", {"cidr": "198.51.100.7/24", "label": "Berlin office"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Added 198.51.100.0/24." in page
    assert "198.51.100.7/24 has host bits set; it was stored as 198.51.100.0/24" in page
    entry = IPAllowlistEntry.objects.get()
    assert (entry.cidr, entry.label, entry.added_by) == ("198.51.100.0/24", "Berlin office", owner)
    event = AuditEvent.objects.get(action="allowlist.entries_added")
    assert event.details == {"count": 1, "added": ["198.51.100.0/24 (Berlin office)"]}
    # Reads right for one entry as for many (it said "added 1 IP allowlist entries").
    assert event.sentence == "owner@acme.test added to the IP allowlist (1): 198.51.100.0/24 (Berlin office)"


def test_add_ipv6_and_mapped_entries(client_at, owner):
    client = client_at(owner)
    client.post(PAGE + "entries/add/", {"cidr": "2001:DB8:0:0::/48"})
    client.post(PAGE + "entries/add/", {"cidr": "::ffff:192.0.2.1"})
    assert cidrs() == ["2001:db8::/48", "192.0.2.1/32"]


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("10.0.0.300/24", "is not an IPv4 or IPv6 address or CIDR block"),
        ("10.0.0.0/40", "the prefix length /40 is too long for IPv4"),
        ("10.0.0.0/x", "give a prefix length"),
        ("<script>", "is not an IPv4 or IPv6 address"),
    ],
)
def test_malformed_entries_are_refused_with_a_message(client_at, owner, typed, says):
    response = client_at(owner).post(PAGE + "entries/add/", {"cidr": typed})
    assert response.status_code == 400
    assert says in response.content.decode()
    assert "<script>" not in response.content.decode()
    assert not IPAllowlistEntry.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="allowlist.").exists()


def test_missing_field_is_400_not_500(client_at, owner):
    assert client_at(owner).post(PAGE + "entries/add/", {}).status_code == 400
    assert client_at(owner).post(PAGE + "entries/bulk/", {}).status_code == 400
    assert client_at(owner).post(PAGE + "settings/", {"scope": "everything"}).status_code == 400
    assert client_at(owner).post(PAGE + "entries/remove/", {"entry": "abc"}).status_code == 400
    assert client_at(owner).post(PAGE + "entries/remove/", {"entry": "9" * 5000}).status_code == 400
    client = client_at(owner)
    nothing = client.post(PAGE + "entries/remove/", {})  # nothing selected: back to the page, saying so
    assert nothing.status_code == 302 and "Select" in client.get(PAGE).content.decode()


def test_a_duplicate_single_entry_is_refused(client_at, owner):
    client = client_at(owner)
    client.post(PAGE + "entries/add/", {"cidr": OFFICE, "label": "Office"})
    response = client.post(PAGE + "entries/add/", {"cidr": "198.51.100.1/24"})
    assert response.status_code == 400
    assert "198.51.100.0/24 (Office) is already on the list." in response.content.decode()
    assert cidrs() == [OFFICE]


def test_bulk_paste_adds_everything_and_reports_duplicates_and_overlaps(client_at, owner):
    client = client_at(owner)
    client.post(PAGE + "entries/add/", {"cidr": "10.0.0.0/8", "label": "Corporate"})
    paste = (
        "# our networks\n"
        "198.51.100.0/24  # Berlin office\n"
        "198.51.100.7     # a laptop in Berlin\n"
        "2001:db8:1200::/40\n"
        "10.1.0.0/16\n"
        "198.51.100.0/24\n"
    )
    response = client.post(PAGE + "entries/bulk/", {"entries": paste, "label": "pasted"}, follow=True)
    page = response.content.decode()
    assert "Added 4 entries." in page
    assert "Line 3: 198.51.100.7/32 overlaps 198.51.100.0/24 (Berlin office) on line 2, which contains it." in page
    assert "Line 5: 10.1.0.0/16 overlaps 10.0.0.0/8 (Corporate), already on the list, which contains it." in page
    assert "Line 6: 198.51.100.0/24 was skipped: it duplicates 198.51.100.0/24 (Berlin office) on line 2." in page
    assert list(IPAllowlistEntry.objects.values_list("cidr", "label").order_by("pk")) == [
        ("10.0.0.0/8", "Corporate"),
        ("198.51.100.0/24", "Berlin office"),
        ("198.51.100.7/32", "a laptop in Berlin"),
        ("2001:db8:1200::/40", "pasted"),
        ("10.1.0.0/16", "pasted"),
    ]
    event = AuditEvent.objects.filter(action="allowlist.entries_added").last()
    assert event.details["added"] == [
        "198.51.100.0/24 (Berlin office)",
        "198.51.100.7/32 (a laptop in Berlin)",
        "2001:db8:1200::/40 (pasted)",
        "10.1.0.0/16 (pasted)",
    ]


def test_a_new_block_containing_existing_ones_is_reported(client_at, owner):
    client = client_at(owner)
    client.post(PAGE + "entries/bulk/", {"entries": "10.1.2.0/24\n10.9.0.0/16"})
    page = client.post(PAGE + "entries/add/", {"cidr": "10.0.0.0/8"}, follow=True).content.decode()
    assert "10.0.0.0/8 overlaps 10.1.2.0/24, already on the list, which it contains." in page
    assert "10.0.0.0/8 overlaps 10.9.0.0/16, already on the list, which it contains." in page


def test_a_bulk_paste_with_a_bad_line_saves_nothing_and_names_each_line(client_at, owner):
    paste = "198.51.100.0/24\n198.51.100.0/33 # typo\n2001:db8::/32\nfe80::1%eth0\n"
    response = client_at(owner).post(PAGE + "entries/bulk/", {"entries": paste})
    assert response.status_code == 400
    page = response.content.decode()
    assert "2 lines could not be read, so nothing was added." in page
    assert "Line 2: “198.51.100.0/33”: the prefix length /33 is too long for IPv4 (at most /32)." in page
    assert "Line 4: “fe80::1%eth0” has an IPv6 zone" in page
    assert paste in page  # the paste is kept for fixing
    assert not IPAllowlistEntry.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="allowlist.").exists()


def test_json_clients_get_per_line_errors(client_at, owner):
    response = client_at(owner).post(
        PAGE + "entries/bulk/", {"entries": "1.2.3.4\nbad"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_entries"
    assert error["lines"] == [
        {"line": 2, "text": "bad", "message": "“bad” is not an IPv4 or IPv6 address or CIDR block."}
    ]


# --- removing, enabling, the self-lockout guard --------------------------------------------------------


def test_remove_entries_is_audited_with_what_was_removed(client_at, owner):
    client = client_at(owner)
    client.post(PAGE + "entries/bulk/", {"entries": f"{OFFICE} # Office\n2001:db8::/32\n192.0.2.1"})
    office, v6, _ = IPAllowlistEntry.objects.order_by("pk")
    response = client.post(PAGE + "entries/remove/", {"entry": [office.pk, v6.pk]}, follow=True)
    assert "Removed 2 entries: 198.51.100.0/24, 2001:db8::/32." in response.content.decode()
    assert cidrs() == ["192.0.2.1/32"]
    event = AuditEvent.objects.get(action="allowlist.entries_removed")
    assert event.details == {"count": 2, "removed": ["198.51.100.0/24 (Office)", "2001:db8::/32"]}


def test_another_orgs_entry_cannot_be_removed(client_at, owner, outsider, other_org):
    from allowlist import actions

    actions.add_entry(other_org, OFFICE, actor=outsider)
    theirs = IPAllowlistEntry.objects.get(organization=other_org)
    client = client_at(owner)
    page = refused_then_shown(client.post(PAGE + "entries/remove/", {"entry": theirs.pk}), client)
    assert "no longer" in page or "not on" in page  # the same words as for an entry removed meanwhile
    assert IPAllowlistEntry.objects.filter(pk=theirs.pk).exists()


def refused_then_shown(response, client) -> str:
    """A refused change redirects back to the page (never a result at the POST URL); the page it shows."""
    assert response.status_code == 302 and response["Location"] == PAGE
    page = client.get(PAGE)
    assert page.status_code == 200
    return page.content.decode()


def test_enabling_from_outside_the_list_is_refused_with_409(client_at, owner):
    client = client_at(owner, ip=HOME_IP)
    client.post(PAGE + "entries/add/", {"cidr": OFFICE})
    page = refused_then_shown(post_settings(client, True), client)
    assert f"your IP address as this server sees it is {HOME_IP}, and it is not on the list" in page
    assert not IPAllowlist.objects.get().enabled
    # The switch shows what is saved (off), not what was asked for.
    assert 'name="enabled" id="id_enabled" checked' not in page and 'name="enabled"' in page
    json_response = post_settings(client, True, HTTP_ACCEPT="application/json")
    assert json_response.status_code == 409
    assert json_response.json()["error"]["code"] == "self_lockout"
    assert HOME_IP in json_response.json()["error"]["message"]


def test_enabling_an_empty_list_is_refused(client_at, owner):
    client = client_at(owner)
    assert "the list is empty" in refused_then_shown(post_settings(client, True, scope="both"), client)
    assert not IPAllowlist.objects.filter(enabled=True).exists()


def test_enabling_from_inside_works_and_is_audited(client_at, owner):
    client = client_at(owner, ip=OFFICE_IP)
    client.post(PAGE + "entries/add/", {"cidr": OFFICE})
    response = post_settings(client, True, follow=True)
    assert "The allowlist is on; it covers dashboard pages." in response.content.decode()
    assert IPAllowlist.objects.get().guards_dashboard
    event = AuditEvent.objects.get(action="allowlist.enabled")
    assert event.changes == {"enabled": [False, True]}
    assert event.sentence == "owner@acme.test turned the IP allowlist on for dashboard pages"
    post_settings(client, True, scope="both")
    assert AuditEvent.objects.get(action="allowlist.scope_changed").changes == {"scope": ["dashboard", "both"]}
    post_settings(client, False, scope="both")
    assert AuditEvent.objects.filter(action="allowlist.disabled").count() == 1


def test_api_only_scope_does_not_need_the_admin_inside(client_at, owner):
    client = client_at(owner, ip=HOME_IP)
    client.post(PAGE + "entries/add/", {"cidr": OFFICE})
    assert post_settings(client, True, scope="api").status_code == 302
    # Widening it to dashboard pages now would lock this admin out.
    page = refused_then_shown(post_settings(client, True, scope="both"), client)
    assert IPAllowlist.objects.get().scope == "api"
    assert re.search(r'value="api"[^>]*checked', page) and not re.search(r'value="both"[^>]*checked', page)


def test_removing_the_entry_you_are_on_is_refused_with_409(client_at, owner, org):
    enable(org, owner, OFFICE, "2001:db8::/32")
    client = client_at(owner, ip=OFFICE_IP)
    office = IPAllowlistEntry.objects.get(cidr=OFFICE)
    page = refused_then_shown(client.post(PAGE + "entries/remove/", {"entry": office.pk}), client)
    assert f"your IP address as this server sees it, {OFFICE_IP}, would no longer be on the list" in page
    assert OFFICE in cidrs() and OFFICE in page
    refused = client.post(PAGE + "entries/remove/", {"entry": office.pk}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 409 and refused.json()["error"]["code"]
    # Removing an entry that is not yours is fine; so is removing yours once another entry covers you.
    v6 = IPAllowlistEntry.objects.get(cidr="2001:db8::/32")
    assert client.post(PAGE + "entries/remove/", {"entry": v6.pk}).status_code == 302
    client.post(PAGE + "entries/add/", {"cidr": "198.51.100.7"})
    assert client.post(PAGE + "entries/remove/", {"entry": office.pk}).status_code == 302
    assert cidrs() == ["198.51.100.7/32"]


def test_removing_is_free_while_the_list_is_off(client_at, owner):
    client = client_at(owner, ip=HOME_IP)
    client.post(PAGE + "entries/add/", {"cidr": OFFICE})
    assert client.post(PAGE + "entries/remove/", {"entry": IPAllowlistEntry.objects.get().pk}).status_code == 302
    assert cidrs() == []


# --- the check tool ------------------------------------------------------------------------------------


def test_check_tool_says_which_entry_allows_an_address(client_at, owner):
    client = client_at(owner)
    client.post(PAGE + "entries/bulk/", {"entries": "10.0.0.0/8 # Corporate\n10.1.0.0/16 # Lab\n2001:db8::/32 # v6"})
    page = client.get(PAGE + "check/", {"ip": "10.1.2.3"}).content.decode()
    assert (
        "<strong>10.1.2.3 would be allowed</strong> by 10.1.0.0/16 (Lab) (also inside 10.0.0.0/8 (Corporate))" in page
    )
    assert "nothing is refused yet" in page
    page = client.get(PAGE + "check/", {"ip": "::ffff:10.200.0.1"}).content.decode()
    assert "<strong>10.200.0.1 would be allowed</strong> by 10.0.0.0/8 (Corporate)" in page
    page = client.get(PAGE + "check/", {"ip": "2001:db9::1"}).content.decode()
    assert "<strong>2001:db9::1 would be refused</strong>: no entry contains it." in page
    data = client.get(PAGE + "check/", {"ip": "2001:db8::1"}, HTTP_ACCEPT="application/json").json()
    assert data["allowed"] is True
    assert [entry["label"] for entry in data["entries"]] == ["v6"]


def test_check_tool_refuses_a_non_address(client_at, owner):
    response = client_at(owner).get(PAGE + "check/", {"ip": "10.0.0.0/8"})
    assert response.status_code == 400
    assert "“10.0.0.0/8” is not an IPv4 or IPv6 address." in response.content.decode()
    assert client_at(owner).get(PAGE + "check/").status_code == 400


def test_saving_settings_over_a_change_made_meanwhile_is_refused(client_at, owner, admin, org):
    client = client_at(owner, ip=OFFICE_IP)
    client.post(PAGE + "entries/add/", {"cidr": OFFICE})
    version = re.search(r'name="loaded_version" value="([^"]+)"', client.get(PAGE).content.decode()).group(1)
    confirm = client.get(PAGE + "settings/confirm/", {"enabled": "on", "scope": "both", "loaded_version": version})
    assert f'name="loaded_version" value="{version}"' in confirm.content.decode()
    # Meanwhile another admin turns the list on for the API only.
    assert post_settings(client_at(admin, ip=OFFICE_IP), True, scope="api").status_code == 302
    stale = client.post(PAGE + "settings/", {"enabled": "on", "scope": "both", "loaded_version": version})
    page = refused_then_shown(stale, client)
    assert (
        "changed since you opened this page" in page
        and "Enforce the allowlist: off → on" in page
        and "What it covers: dashboard → api" in page
    )
    assert IPAllowlist.objects.get().scope == "api"  # the other change stands
    assert re.search(r'value="api"[^>]*checked', page)  # the form shows what is saved
    json_refusal = client.post(
        PAGE + "settings/",
        {"enabled": "on", "scope": "both", "loaded_version": version},
        HTTP_ACCEPT="application/json",
    )
    assert json_refusal.status_code == 409 and json_refusal.json()["error"]["code"] == "changed_since_loaded"
