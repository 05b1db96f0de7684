"""Platform support turns an organization's allowlist off: staff only (404 for everyone else), re-authenticated,
audited as support in the organization's log, owners emailed."""

from __future__ import annotations

import pytest
from django.core import mail

from allowlist.models import IPAllowlist
from audit.models import AuditEvent
from tests.helpers.allowlist import HOME_IP, OFFICE, enable
from tests.helpers.core import make_user

URL = "/support/orgs/acme/allowlist/disable/"


@pytest.fixture
def staff(db):
    return make_user("support@platform.test", is_staff=True)


def test_it_checks_access(client_at, org, owner, member, outsider, staff):
    enable(org, owner, OFFICE)
    for person in (owner, member, outsider, None):
        assert client_at(person, ip=HOME_IP).get(URL).status_code == 404
        assert client_at(person, ip=HOME_IP).post(URL, {"reason": "please"}).status_code == 404
    assert client_at(staff, ip=HOME_IP).get(URL).status_code == 200
    assert client_at(staff).get("/support/orgs/no-such-org/allowlist/disable/").status_code == 404
    assert IPAllowlist.objects.get().enabled


def test_staff_turn_the_list_off_audited_and_owners_emailed(
    client_at, org, owner, member, staff, django_capture_on_commit_callbacks
):
    enable(org, owner, OFFICE)
    assert client_at(member, ip=HOME_IP).get("/orgs/acme/").status_code == 403
    client = client_at(staff, ip=HOME_IP)
    assert "The allowlist is <strong>on</strong> covering Dashboard pages." in client.get(URL).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"reason": "Ticket 4711: every owner locked out"}, follow=True)
    assert "The IP allowlist of Acme Inc. is now off; its owners were emailed." in response.content.decode()
    assert not IPAllowlist.objects.get().enabled
    assert client_at(member, ip=HOME_IP).get("/orgs/acme/").status_code == 200
    event = AuditEvent.objects.get(action="allowlist.support_disabled")
    assert (event.organization, event.actor_type) == (org, "support")
    assert event.actor_label == "support@platform.test (platform support)"
    assert event.details == {"reason": "Ticket 4711: every owner locked out"}
    assert event.sentence.endswith(
        "turned the IP allowlist off from the support console: Ticket 4711: every owner locked out"
    )
    [notice] = mail.outbox
    assert notice.to == ["owner@acme.test"]
    assert "Platform support (support@platform.test) turned off the IP allowlist of Acme Inc." in notice.body
    # Again: nothing to do, nothing recorded.
    response = client.post(URL, {"reason": "again"}, follow=True)
    assert "was already off; nothing changed" in response.content.decode()
    assert AuditEvent.objects.filter(action="allowlist.support_disabled").count() == 1


def test_a_reason_is_required(client_at, org, owner, staff):
    enable(org, owner, OFFICE)
    assert client_at(staff).post(URL, {"reason": "   "}).status_code == 400
    assert client_at(staff).post(URL, {}).status_code == 400
    assert IPAllowlist.objects.get().enabled


def test_staff_must_have_re_authenticated(client_at, org, owner, staff):
    enable(org, owner, OFFICE)
    stale = client_at(staff, recent_auth=False)
    assert stale.get(URL).status_code == 200  # reading the form needs no re-authentication; acting does
    response = stale.post(URL, {"reason": "ticket"}, HTTP_REFERER="https://testserver" + URL)
    assert response.status_code == 302
    # The interrupted POST is kept for a confirmed replay after re-authentication.
    assert response["Location"].startswith("/accounts/reauthenticate/?next=%2Faccounts%2Freauthenticate%2Fresume%2F")
    assert IPAllowlist.objects.get().enabled


def test_the_support_console_shows_the_list_and_links_the_disable_action(client_at, org, owner, staff):
    enable(org, owner, OFFICE)
    page = client_at(staff, ip=HOME_IP).get("/support/orgs/acme/").content.decode()
    assert "IP allowlist" in page and "Dashboard" in page
    assert URL in page
