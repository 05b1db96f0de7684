"""require_recent_auth: sensitive actions need a recent sign-in or re-authentication, then resume.

GETs resume at their URL; an interrupted POST is kept server-side and sent only after the person confirms it,
once, from the same session, within ten minutes.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgsecurity.models import Invitation, Membership, Organization
from orgsecurity.roles import Role
from sessions_policy import actions
from sessions_policy.models import SessionPolicy, SuspendedRequest
from sessions_policy.reauth import PROVIDERS, register_provider
from tests.helpers.core import PASSWORD, add_member
from tests.sessions_policy.urls import idp_start

REAUTH = "/accounts/reauthenticate/"
WINDOW = 15 * 60  # the site default (REAUTH_MAX_AGE_SECONDS) in the test settings


@pytest.fixture
def urls(settings):
    settings.ROOT_URLCONF = "tests.sessions_policy.urls"


def stale(client_for, user, clock, **kwargs) -> Client:
    """A client that signed in a little longer ago than the re-authentication window."""
    client = client_for(user, **kwargs)
    clock.advance(seconds=WINDOW + 5)
    return client


def next_of(response) -> str:
    assert response.status_code == 302, response.content[:300]
    location = urlsplit(response["Location"])
    assert location.path == REAUTH
    return parse_qs(location.query)["next"][0]


def reauthenticate(client: Client, next_url: str) -> str:
    response = client.post(REAUTH, {"password": PASSWORD, "next": next_url})
    assert response.status_code == 302
    return response["Location"]


def confirm(client: Client, resume_url: str):
    """Open the confirmation page and press "Send it now" (the form posts the token to the original URL)."""
    page = client.get(resume_url)
    assert page.status_code == 200
    assert b"Send it now" in page.content
    action = re.search(rb'action="([^"]+)" class="inline" id="resume-form"', page.content).group(1).decode()
    token = re.search(rb'name="_resume" value="([^"]+)"', page.content).group(1).decode()
    return client.post(action, {"_resume": token})


def test_a_fresh_password_sign_in_counts_as_recent(urls, owner):
    client = Client()
    client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD})
    assert client.get("/orgs/acme/sensitive/").content.startswith(b"done GET")


def test_an_old_sign_in_must_re_enter_the_password_and_resumes(urls, client_for, owner, clock):
    client = stale(client_for, owner, clock)
    response = client.get("/orgs/acme/sensitive/")
    assert response["Location"] == "/accounts/reauthenticate/?next=%2Forgs%2Facme%2Fsensitive%2F"
    wrong = client.post(response["Location"], {"password": "nope", "next": "/orgs/acme/sensitive/"})
    assert wrong.status_code == 400
    assert b"That is not your password." in wrong.content
    assert reauthenticate(client, "/orgs/acme/sensitive/") == "/orgs/acme/sensitive/"
    assert client.get("/orgs/acme/sensitive/").content.startswith(b"done GET")
    event = AuditEvent.objects.get(action="session.reauthenticated", organization__slug="acme")
    assert event.actor_label == owner.email


def test_json_clients_get_401(urls, client_for, owner, clock):
    response = stale(client_for, owner, clock).post("/orgs/acme/sensitive/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "reauthentication_required"


def test_next_cannot_leave_the_site(urls, client_for, owner, clock):
    client = stale(client_for, owner, clock)
    response = client.post(REAUTH, {"password": PASSWORD, "next": "https://evil.test/x"})
    assert response["Location"] == "/"


def test_reauthenticate_requires_sign_in(db):
    assert Client().get(REAUTH).status_code == 302


def test_the_window_is_the_organizations(urls, client_for, owner, outsider, other_org, clock):
    """Acme asks again after 5 minutes; Globex keeps the default 15 for the same person."""
    actions.update_session_policy(
        Organization.objects.get(slug="acme"),
        actor=owner,
        idle_timeout_s=1800,
        absolute_timeout_s=43200,
        reauth_max_age_s=300,
        single_session=False,
    )
    add_member(other_org, owner, Role.MEMBER)
    client = client_for(owner)
    clock.advance(minutes=6)
    assert client.get("/orgs/acme/sensitive/").status_code == 302
    assert client.get("/orgs/globex/sensitive/").content.startswith(b"done GET")


def test_an_interrupted_post_waits_for_confirmation_then_runs_once(client_for, owner, member, clock):
    membership = Membership.objects.get(user=member)
    client = stale(client_for, owner, clock)
    url = f"/orgs/acme/members/{membership.pk}/role/"
    response = client.post(url, {"role": "admin"}, HTTP_REFERER="http://testserver/orgs/acme/members/")
    resume_url = next_of(response)
    assert resume_url.startswith("/accounts/reauthenticate/resume/")
    assert Membership.objects.get(pk=membership.pk).role == Role.MEMBER  # not processed

    assert reauthenticate(client, resume_url) == resume_url
    assert Membership.objects.get(pk=membership.pk).role == Role.MEMBER  # re-authenticating alone sends nothing
    page = client.get(resume_url)
    assert f"<code>{url}</code>".encode() in page.content
    assert b'<th scope="row">role</th><td>admin</td>' in page.content

    response = confirm(client, resume_url)
    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN
    assert AuditEvent.objects.filter(action="member.role_changed").count() == 1
    # The stash is gone: the same confirmation cannot be sent twice.
    assert client.get(resume_url).status_code == 410
    assert not SuspendedRequest.objects.exists()


def test_a_stashed_post_never_crosses_sessions_or_people(client_for, owner, admin, member, clock):
    membership = Membership.objects.get(user=member)
    first = stale(client_for, owner, clock)
    url = f"/orgs/acme/members/{membership.pk}/role/"
    resume_url = next_of(first.post(url, {"role": "auditor"}))
    token = unquote(resume_url.rstrip("/").rsplit("/", 1)[1])

    second_session_same_person = client_for(owner)
    someone_else = client_for(admin)
    for client in (second_session_same_person, someone_else):
        assert client.get(resume_url).status_code == 410
        response = client.post(url, {"_resume": token})
        assert response.status_code == 410
        assert b"can no longer be sent" in response.content
    assert Membership.objects.get(pk=membership.pk).role == Role.MEMBER
    assert SuspendedRequest.objects.count() == 1  # still waiting for its own session


def test_a_stashed_post_expires(client_for, owner, member, clock):
    membership = Membership.objects.get(user=member)
    client = stale(client_for, owner, clock)
    url = f"/orgs/acme/members/{membership.pk}/role/"
    resume_url = next_of(client.post(url, {"role": "admin"}))
    reauthenticate(client, resume_url)
    page = client.get(resume_url)
    token = re.search(rb'name="_resume" value="([^"]+)"', page.content).group(1).decode()
    clock.advance(minutes=11)
    assert client.get(resume_url).status_code == 410
    assert client.post(url, {"_resume": token}).status_code == 410
    assert Membership.objects.get(pk=membership.pk).role == Role.MEMBER


def test_a_stale_confirmation_asks_again_and_keeps_the_form(client_for, owner, member, clock):
    actions.update_session_policy(
        Organization.objects.get(slug="acme"),
        actor=owner,
        idle_timeout_s=1800,
        absolute_timeout_s=43200,
        reauth_max_age_s=300,
        single_session=False,
    )
    membership = Membership.objects.get(user=member)
    client = stale(client_for, owner, clock)
    url = f"/orgs/acme/members/{membership.pk}/role/"
    resume_url = next_of(client.post(url, {"role": "admin"}))
    reauthenticate(client, resume_url)
    page = client.get(resume_url)
    token = re.search(rb'name="_resume" value="([^"]+)"', page.content).group(1).decode()
    clock.advance(minutes=6)  # the confirmation page was left open longer than acme's 5-minute window
    assert next_of(client.post(url, {"_resume": token})) == resume_url
    reauthenticate(client, resume_url)
    assert confirm(client, resume_url).status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN


def test_secrets_are_not_shown_back_and_cancel_discards(urls, client_for, owner, clock):
    client = stale(client_for, owner, clock)
    response = client.post(
        "/orgs/acme/sensitive/",
        {"client_secret": "s3cr3t-value", "name": "Okta"},
        HTTP_REFERER="http://testserver/orgs/acme/settings/security/sso/",
    )
    resume_url = next_of(response)
    reauthenticate(client, resume_url)
    page = client.get(resume_url)
    assert b"s3cr3t-value" not in page.content
    assert b"[redacted]" in page.content and b"Okta" in page.content
    assert b"s3cr3t-value" not in SuspendedRequest.objects.get().encrypted_post.encode()  # encrypted at rest
    token = resume_url.rstrip("/").rsplit("/", 1)[1]
    cancelled = client.post(f"/accounts/reauthenticate/resume/{token}/cancel/")
    assert cancelled["Location"] == "/orgs/acme/settings/security/sso/"
    assert not SuspendedRequest.objects.exists()


def test_the_stashed_form_data_is_what_the_view_receives(urls, client_for, owner, clock):
    client = stale(client_for, owner, clock)
    resume_url = next_of(client.post("/orgs/acme/sensitive/", {"tag": ["a", "b"], "name": "x"}))
    reauthenticate(client, resume_url)
    response = confirm(client, resume_url)
    assert response.content == b"done POST {'tag': ['a', 'b'], 'name': ['x']}"


def test_sso_sessions_go_back_to_their_idp(urls, org, owner, clock, monkeypatch):
    from sso.models import SSOConnection
    from tests.helpers.core import sign_in_through_sso

    monkeypatch.setitem(PROVIDERS, "saml", PROVIDERS.get("saml"))  # restored after the test
    register_provider("saml", idp_start)
    connection = SSOConnection.objects.create(organization=org, protocol="saml", status="on")
    client = sign_in_through_sso(Client(), owner, connection)
    clock.advance(seconds=WINDOW + 5)
    response = client.get(client.get("/orgs/acme/sensitive/")["Location"])
    assert response.status_code == 302
    idp = urlsplit(response["Location"])
    assert idp.path == "/test-idp/login/"
    assert parse_qs(idp.query) == {"force_authn": ["true"], "relay_state": ["/orgs/acme/sensitive/"]}
    # The IdP's (verified) answer marks the re-authentication and continues where the person was.
    answer = client.get("/test-idp/answer/", {"relay_state": "/orgs/acme/sensitive/"})
    assert answer["Location"] == "/orgs/acme/sensitive/"
    assert client.get("/orgs/acme/sensitive/").content.startswith(b"done GET")


def test_an_sso_only_account_without_a_registered_idp_is_told_to_sign_in_again(
    urls, client_for, owner, clock, monkeypatch
):
    monkeypatch.delitem(PROVIDERS, "oidc", raising=False)
    owner.set_unusable_password()
    owner.save()
    client = stale(client_for, owner, clock, method="oidc")
    response = client.get(REAUTH + "?next=/orgs/acme/sensitive/")
    assert response.status_code == 403
    assert b"Sign out, sign in again" in response.content


# --- every sensitive action asks, and resumes -----------------------------------------------------------


def _setup_invitation(owner):
    invitation, _ = __import__("orgsecurity.actions", fromlist=["invite_member"]).invite_member(
        Organization.objects.get(slug="acme"), actor=owner, email="pending@acme.test", role="member"
    )
    return invitation


SENSITIVE_POSTS = {
    "change role": (
        lambda ctx: f"/orgs/acme/members/{ctx['membership'].pk}/role/",
        {"role": "billing"},
        lambda ctx: Membership.objects.get(pk=ctx["membership"].pk).role == Role.BILLING,
    ),
    "remove member": (
        lambda ctx: f"/orgs/acme/members/{ctx['membership'].pk}/remove/",
        {},
        lambda ctx: not Membership.objects.filter(pk=ctx["membership"].pk).exists(),
    ),
    "invite": (
        lambda ctx: "/orgs/acme/members/invite/",
        {"email": "new@acme.test", "role": "member"},
        lambda ctx: Invitation.objects.filter(email="new@acme.test").exists(),
    ),
    "revoke invitation": (
        lambda ctx: f"/orgs/acme/invitations/{ctx['invitation'].pk}/revoke/",
        {},
        lambda ctx: Invitation.objects.get(pk=ctx["invitation"].pk).revoked_at is not None,
    ),
    "billing": (
        lambda ctx: "/orgs/acme/settings/billing/",
        {"billing_email": "ap@acme.test", "plan_name": "team", "tax_id": ""},
        lambda ctx: Organization.objects.get(slug="acme").plan_name == "team",
    ),
    "session policy": (
        lambda ctx: "/orgs/acme/settings/security/sessions/",
        {
            "idle_timeout_s_0": "2",
            "idle_timeout_s_1": "hours",
            "absolute_timeout_s_0": "10",
            "absolute_timeout_s_1": "hours",
            "reauth_max_age_s_0": "10",
            "reauth_max_age_s_1": "minutes",
        },
        lambda ctx: SessionPolicy.objects.filter(organization__slug="acme", idle_timeout_s=7200).exists(),
    ),
    "end a member's session": (
        lambda ctx: f"/orgs/acme/settings/security/sessions/members/{ctx['member_session'].pk}/end/",
        {},
        lambda ctx: ctx["member_session"].org_revocations.exists(),
    ),
    "end all of a member's sessions": (
        lambda ctx: f"/orgs/acme/settings/security/sessions/members/person/{ctx['member'].pk}/end-all/",
        {},
        lambda ctx: ctx["member_session"].org_revocations.exists(),
    ),
}


@pytest.mark.parametrize("name", list(SENSITIVE_POSTS))
def test_each_sensitive_action_asks_and_resumes(name, client_for, owner, member, clock):
    path, data, done = SENSITIVE_POSTS[name]
    client_for(member)  # the member has a session the session actions can end
    ctx = {
        "member": member,
        "membership": Membership.objects.get(user=member),
        "invitation": _setup_invitation(owner),
        "member_session": member.tracked_sessions.get(),
    }
    client = stale(client_for, owner, clock)
    resume_url = next_of(client.post(path(ctx), data))
    assert not done(ctx), "the action ran without re-authentication"
    reauthenticate(client, resume_url)
    assert not done(ctx), "the action ran without confirmation"
    response = confirm(client, resume_url)
    assert response.status_code == 302, response.content[:500]
    assert done(ctx)


@pytest.mark.parametrize(
    "url",
    [
        "/orgs/acme/settings/billing/",
        "/orgs/acme/settings/security/sessions/",
        "/orgs/acme/settings/security/sessions/members/",
    ],
)
def test_sensitive_pages_ask_then_open(url, client_for, owner, clock):
    client = stale(client_for, owner, clock)
    assert next_of(client.get(url)) == url
    assert reauthenticate(client, url) == url
    assert client.get(url).status_code == 200


def test_people_who_may_not_act_are_refused_before_being_asked(client_for, member, outsider, clock):
    for user, status in ((member, 403), (outsider, 404)):
        client = stale(client_for, user, clock)
        assert client.get("/orgs/acme/settings/security/sessions/").status_code == status
        assert (
            client.post("/orgs/acme/members/invite/", {"email": "x@acme.test", "role": "member"}).status_code == status
        )


# --- the page names the action it protects ----------------------------------------------------------------


def test_the_reauthentication_page_names_the_action_it_protects(client_for, owner, org, clock):
    from keys.actions import create_api_key

    key, _ = create_api_key(org, actor=owner, name="deploy", permission="read")
    client = stale(client_for, owner, clock)
    keys = "/orgs/acme/settings/security/keys/"
    asked = client.post(f"{keys}{key.pk}/revoke/", {"reason": "leaked"})
    page = client.get(asked["Location"]).content.decode()
    assert f"Confirm it is you to revoke API key {key.prefix}</h1>" in page
    # A wrong password keeps the description; the right one continues to the interrupted form.
    signed = parse_qs(urlsplit(asked["Location"]).query)["action"][0]
    wrong = client.post(REAUTH, {"password": "nope", "next": next_of(asked), "action": signed})
    assert wrong.status_code == 400 and f"to revoke API key {key.prefix}" in wrong.content.decode()
    assert reauthenticate(client, next_of(asked)).startswith("/accounts/reauthenticate/resume/")
    # Other protected actions name themselves too.
    clock.advance(seconds=WINDOW + 5)
    for path, data, phrase in [
        (f"{keys}new/", {"name": "x"}, "create an API key"),
        ("/orgs/acme/settings/security/allowlist/entries/add/", {"cidr": "192.0.2.1"}, "add an IP allowlist entry"),
        ("/orgs/acme/settings/billing/", {}, "manage billing settings"),
    ]:
        response = client.post(path, data)
        assert f"Confirm it is you to {phrase}</h1>" in client.get(response["Location"]).content.decode(), path


def test_a_description_not_made_by_the_server_is_not_shown(client_for, owner):
    page = client_for(owner).get(REAUTH, {"next": "/", "action": "wire money to the attacker"}).content.decode()
    assert "Confirm it is you</h1>" in page and "attacker" not in page
