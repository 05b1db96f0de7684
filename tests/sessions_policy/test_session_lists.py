"""Session lists: each person sees and ends their own sessions; owners and admins end members' sessions."""

from __future__ import annotations

from django.test import Client

from audit.models import AuditEvent
from orgsecurity.models import Organization
from orgsecurity.roles import Role
from sessions_policy.models import OrgSessionRevocation, UserSession
from tests.helpers.core import add_member, refused_after_redirect, sign_in_client

MINE = "/accounts/sessions/"
MEMBERS = "/orgs/acme/settings/security/sessions/members/"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile Safari/604.1"


def device(user, user_agent: str) -> Client:
    return sign_in_client(Client(HTTP_USER_AGENT=user_agent), user, user_agent=user_agent)


# --- your sessions ------------------------------------------------------------------------------------------


def test_your_sessions_lists_device_ip_method_and_last_seen(client_for, member, owner):
    laptop = device(member, FIREFOX)
    device(member, IPHONE)
    client_for(owner)  # someone else's session is never listed
    page = laptop.get(MINE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Firefox on Linux" in text and "<mark>this session</mark>" in text
    assert "Safari on iOS" in text
    assert text.count("127.0.0.1") == 2
    assert "Password" in text
    assert "End all other sessions (1)" in text
    assert owner.email not in text.replace("Sign out " + member.email, "")


def test_it_checks_access_to_your_sessions(db):
    assert Client().get(MINE)["Location"].startswith("/accounts/login/")


def test_you_end_another_of_your_sessions(member):
    laptop, phone = device(member, FIREFOX), device(member, IPHONE)
    phone_session = UserSession.objects.get(user=member, user_agent=IPHONE)
    response = laptop.post(f"/accounts/sessions/{phone_session.pk}/end/")
    assert response["Location"] == MINE
    assert b"The session on Safari on iOS has ended." in laptop.get(MINE).content
    assert phone.get("/orgs/acme/")["Location"].startswith("/accounts/login/")
    assert laptop.get("/orgs/acme/").status_code == 200
    event = AuditEvent.objects.get(action="session.revoked", organization__slug="acme")
    assert event.actor_label == member.email
    assert event.sentence == "member@acme.test ended a session of member@acme.test (Safari on iOS, password) everywhere"


def test_you_end_all_other_sessions(member):
    laptop, phone, tablet = device(member, FIREFOX), device(member, IPHONE), device(member, IPHONE)
    laptop.post("/accounts/sessions/end-others/")
    assert phone.get("/orgs/acme/").status_code == 302
    assert tablet.get("/orgs/acme/").status_code == 302
    assert laptop.get("/orgs/acme/").status_code == 200
    assert AuditEvent.objects.get(action="session.revoked_all").details["count"] == 2


def test_ending_your_current_session_signs_you_out(member):
    laptop = device(member, FIREFOX)
    current = UserSession.objects.get(user=member)
    assert laptop.post(f"/accounts/sessions/{current.pk}/end/")["Location"] == "/accounts/login/"
    assert laptop.get("/orgs/acme/").status_code == 302


def test_you_cannot_end_someone_elses_session(client_for, member, owner):
    client_for(owner)
    owners = UserSession.objects.get(user=owner)
    assert client_for(member).post(f"/accounts/sessions/{owners.pk}/end/").status_code == 404
    assert UserSession.objects.get(pk=owners.pk).revoked_at is None


def test_account_pages_apply_the_strictest_rules_of_your_organizations(client_for, member, clock):
    client = client_for(member)
    clock.advance(minutes=45)  # over the default 30 idle minutes of acme
    response = client.get(MINE)
    assert response.status_code == 401
    assert b"signed out after 30 minutes of inactivity" in response.content


# --- members' sessions (owners and admins) ------------------------------------------------------------------


def test_it_checks_access_to_members_sessions(client_for, owner, admin, member, outsider):
    assert client_for(owner).get(MEMBERS).status_code == 200
    assert client_for(admin).get(MEMBERS).status_code == 200
    assert client_for(member).get(MEMBERS).status_code == 403
    assert client_for(outsider).get(MEMBERS).status_code == 404
    session = UserSession.objects.get(user=member)
    assert client_for(member).post(f"{MEMBERS}{session.pk}/end/").status_code == 403
    assert client_for(outsider).post(f"{MEMBERS}{session.pk}/end/").status_code == 404
    assert client_for(outsider).post(f"{MEMBERS}person/{member.pk}/end-all/").status_code == 404
    assert not OrgSessionRevocation.objects.exists()


def test_members_sessions_show_only_this_organizations_people(client_for, owner, member, outsider):
    device(member, IPHONE)
    client_for(outsider)
    text = client_for(owner).get(MEMBERS).content.decode()
    assert "member@acme.test" in text and "Safari on iOS" in text
    assert outsider.email not in text


def test_an_owner_ends_a_members_session_for_this_organization(client_for, owner, member, other_org):
    add_member(other_org, member, Role.MEMBER)
    phone = device(member, IPHONE)
    session = UserSession.objects.get(user=member)
    response = client_for(owner).post(f"{MEMBERS}{session.pk}/end/")
    assert response["Location"] == MEMBERS
    assert phone.get("/orgs/globex/").status_code == 200  # globex is not acme's to end
    assert phone.get("/orgs/acme/").status_code == 401
    event = AuditEvent.objects.get(action="session.revoked")
    assert event.organization.slug == "acme"
    assert event.details["scope"] == "in Acme Inc."
    assert not AuditEvent.objects.filter(action="session.revoked", organization__slug="globex").exists()


def test_an_admin_ends_all_sessions_of_a_member(client_for, admin, member):
    phone, laptop = device(member, IPHONE), device(member, FIREFOX)
    client_for(admin).post(f"{MEMBERS}person/{member.pk}/end-all/")
    assert phone.get("/orgs/acme/").status_code == 401
    assert laptop.get("/orgs/acme/").status_code == 401
    assert AuditEvent.objects.get(action="session.revoked_all").details["count"] == 2


def test_an_admin_cannot_end_an_owners_session(client_for, admin, owner):
    owners_browser = client_for(owner)
    session = UserSession.objects.get(user=owner)
    admins_browser = client_for(admin)
    response = admins_browser.post(f"{MEMBERS}{session.pk}/end/")
    # Back to the list (post/redirect/get), which still shows the session, with the reason.
    assert refused_after_redirect(admins_browser, response, b"Only owners can end an owner&#x27;s sessions.")
    assert refused_after_redirect(admins_browser, admins_browser.post(f"{MEMBERS}person/{owner.pk}/end-all/"))
    assert owners_browser.get("/orgs/acme/").status_code == 200


def test_another_organizations_sessions_are_404(client_for, owner, outsider):
    client_for(outsider)
    foreign = UserSession.objects.get(user=outsider)
    assert client_for(owner).post(f"{MEMBERS}{foreign.pk}/end/").status_code == 404
    assert client_for(owner).post(f"{MEMBERS}person/{outsider.pk}/end-all/").status_code == 404
    assert not OrgSessionRevocation.objects.exists()
    assert Organization.objects.get(slug="globex")
