"""The finished support console: staff land on it, search every organization, read sessions and keys, and looking
at the platform log is recorded once per visit."""

from __future__ import annotations

import re
import time
from unittest import mock

from audit.models import AuditEvent
from keys import actions as key_actions
from tests.audit.helpers import sentences


def test_staff_land_on_the_console_after_sign_in(client_for, staff, owner):
    response = client_for(staff).get("/")
    assert response.status_code == 302 and response["Location"] == "/support/"
    assert client_for(owner).get("/")["Location"] == "/orgs/acme/"  # everyone else: their organization


def test_support_answers_everyone_else_with_our_own_404_page(client_for, owner, outsider):
    for client in (client_for(None), client_for(owner), client_for(outsider)):
        for path in ("/support/", "/support/platform/audit/", "/support/orgs/acme/"):
            response = client.get(path)
            assert response.status_code == 404, path
            html = response.content.decode()
            assert "<h1>Page not found</h1>" in html and "There is no such page" in html
            assert "Support console" not in html


def _hits(html: str) -> list[list[str]]:
    section = html.split('id="search-results"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr>\s*(.*?)</tr>", section.split("<tbody>", 1)[1], re.S)
    return [
        [re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in rows
    ]


def test_staff_find_a_person_by_email_in_every_organization(client_for, staff, org, other_org, owner, outsider):
    hits = _hits(client_for(staff).get("/support/", {"q": "OWNER@acme.test"}).content.decode())
    assert len(hits) == 1
    kind, email, organization, role = hits[0]
    assert (kind, email, role) == ("Member", "owner@acme.test", "Owner") and organization.endswith("acme")
    partial = _hits(client_for(staff).get("/support/", {"q": "globex"}).content.decode())
    assert any(hit[:2] == ["Member", "owner@globex.test"] for hit in partial)


def test_staff_find_an_organization_by_slug(client_for, staff, org, other_org):
    html = client_for(staff).get("/support/", {"q": "globex"}).content.decode()
    organizations = html.split('id="organizations"', 1)[1]
    assert "/support/orgs/globex/" in organizations and "/support/orgs/acme/" not in organizations


def test_staff_find_an_api_key_by_its_prefix_never_by_its_secret(client_for, staff, org, owner):
    key, token = key_actions.create_api_key(org, actor=owner, name="deploy bot")
    client = client_for(staff)
    hits = _hits(client.get("/support/", {"q": key.prefix[:8]}).content.decode())
    assert [hit[:2] for hit in hits] == [["API key", f"{key.prefix} (deploy bot)"]]
    assert hits[0][2].startswith("Acme")
    whole = client.get("/support/", {"q": token}).content.decode()  # a whole token pasted by mistake
    assert _hits(whole)[0][1] == f"{key.prefix} (deploy bot)"
    assert _hits(client.get("/support/", {"q": "osk_"}).content.decode()) == [["No person, key or request matches."]]


def test_staff_find_what_happened_by_reference_id(client_for, staff, org, owner):
    response = client_for(owner).post("/orgs/acme/members/invite/", {"email": "new@acme.test", "role": "member"})
    assert response.status_code == 302
    reference = response["X-Request-ID"]
    event = AuditEvent.objects.get(action="member.invited")
    assert event.request_id == reference
    client = client_for(staff)
    hits = _hits(client.get("/support/", {"q": reference.upper()}).content.decode())
    assert len(hits) == 1
    kind, label, organization, detail = hits[0]
    assert (kind, label) == ("Audit event", "owner@acme.test invited new@acme.test as member")
    assert organization.endswith("acme") and "member.invited" in detail
    log = client.get("/support/orgs/acme/audit/", {"ref": reference})
    assert sentences(log) == ["owner@acme.test invited new@acme.test as member"]
    assert _hits(client.get("/support/", {"q": "0" * 32}).content.decode()) == [["No person, key or request matches."]]


def test_sessions_and_keys_are_shown_read_only(client_for, staff, org, owner, member):
    key, _ = key_actions.create_api_key(org, actor=owner, name="ci runner")
    client_for(member, method="saml")
    html = client_for(staff).get("/support/orgs/acme/").content.decode()
    sessions = html.split('id="security-sessions_policy"', 1)[1].split("</article>", 1)[0]
    keys = html.split('id="security-keys"', 1)[1].split("</article>", 1)[0]
    assert "Not shown in the support console yet" not in sessions + keys
    assert "<dt>Idle timeout</dt>" in sessions
    assert "<dt>member@acme.test</dt>" in sessions and "SAML SSO" in sessions
    assert f"<dt>{key.prefix} (ci runner)</dt>" in keys and "active" in keys
    assert "<dt>Unrestricted keys</dt><dd>allowed</dd>" in keys
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    assert 'method="post"' not in main


def test_the_platform_log_is_recorded_once_per_visit_not_once_per_page(client_for, staff):
    client = client_for(staff)

    def viewed() -> int:
        return AuditEvent.objects.filter(organization=None, action="support.viewed").count()

    client.get("/support/platform/audit/")
    client.get("/support/platform/audit/", {"action": "auth"})
    client.get("/support/platform/audit/", {"q": "sign"})
    assert viewed() == 1
    later = time.time() + 31 * 60
    with mock.patch("audit.support_views.time.time", return_value=later):
        client.get("/support/platform/audit/")
    assert viewed() == 2  # a new visit after half an hour away


def test_a_large_organizations_page_lists_the_first_members_and_says_how_many(client_for, staff, org, owner):
    from orgsecurity.models import Membership, User

    users = User.objects.bulk_create([User(email=f"p{number:03d}@acme.test") for number in range(120)])
    Membership.objects.bulk_create([Membership(organization=org, user=user) for user in users])
    html = client_for(staff).get("/support/orgs/acme/").content.decode()
    members = html.split('id="members"', 1)[1].split("</table>", 1)[0]
    assert members.count("<tr><td>") == 50
    assert "The first 50 of 121 members by email" in html
