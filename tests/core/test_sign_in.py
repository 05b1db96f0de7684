"""Password sign-in: normalised emails, session cycling, POST-only sign-out, and brute-force limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from tests.helpers.core import PASSWORD, make_user

LOGIN = "/accounts/login/"


def attempt(client: Client, email: str, password: str, ip: str = "203.0.113.10"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_owner_signs_in_and_sees_the_dashboard(owner):
    client = Client()
    assert client.get(LOGIN).status_code == 200
    response = attempt(client, "  OWNER@acme.TEST ", PASSWORD)
    assert response.status_code == 302
    assert client.get("/orgs/acme/").status_code == 200


def test_session_key_cycles_on_sign_in(owner):
    client = Client()
    client.get(LOGIN)
    client.session.save()
    before = client.session.session_key
    attempt(client, owner.email, PASSWORD)
    assert client.session.session_key != before


def test_wrong_password_gets_a_clear_message(owner):
    response = attempt(Client(), owner.email, "wrong")
    assert response.status_code == 200
    assert b"The email or password is not right" in response.content


def test_next_parameter_returns_to_the_page_but_never_offsite(owner):
    client = Client()
    response = client.post(f"{LOGIN}?next=/orgs/acme/members/", {"username": owner.email, "password": PASSWORD})
    assert response["Location"] == "/orgs/acme/members/"
    client = Client()
    response = client.post(f"{LOGIN}?next=https://evil.test/", {"username": owner.email, "password": PASSWORD})
    assert response["Location"] == "/"


def test_sign_out_is_post_only_and_audited(client_for, owner):
    client = client_for(owner)
    page = client.get("/accounts/logout/")  # the sign-out page: it signs nobody out
    assert page.status_code == 200 and b"Sign out everywhere" in page.content
    assert client.get("/orgs/acme/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/orgs/acme/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.signed_out", organization__slug="acme").count() == 1


def test_sign_in_events_go_to_every_org_of_the_user(owner, other_org):
    from tests.helpers.core import add_member

    add_member(other_org, owner, "member")
    attempt(Client(), owner.email, PASSWORD)
    events = AuditEvent.objects.filter(action="auth.signed_in")
    assert sorted(event.organization.slug for event in events) == ["acme", "globex"]
    assert all(event.details == {"method": "password"} and event.ip == "203.0.113.10" for event in events)


def test_failure_for_unknown_email_goes_to_the_platform_log(db):
    attempt(Client(), "ghost@nowhere.test", "x")
    event = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert event.organization is None
    assert event.actor_label == "ghost@nowhere.test"


def test_text_that_is_not_an_email_never_reaches_the_audit_log(db):
    # Attack on the log's confidentiality: a script (browsers insist on an email here) sends the password, an API
    # key or a recovery code as the email. Failed sign-ins and lockouts stored it as the actor of a platform log
    # event, readable and exportable by every support engineer.
    secret = "osk_" + "S3cr3t" * 8
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), secret, "x")
    events = AuditEvent.objects.filter(action__in=["auth.sign_in_failed", "auth.locked_out"])
    assert {event.action for event in events} == {"auth.sign_in_failed", "auth.locked_out"}
    assert {event.actor_label for event in events} == {"(not an email address)"}
    assert all(secret not in event.sentence for event in events)


def test_a_locked_out_attacker_cannot_flood_the_organizations_log(owner, other_org):
    # Attack: from one address, keep sending a member's email with wrong passwords. Once locked out, every refused
    # attempt still wrote a failed sign-in and a lockout event to each organization of the person (two chain-locked
    # writes per request, unbounded), drowning the log their owners read.
    from tests.helpers.core import add_member

    add_member(other_org, owner, "member")
    for _ in range(40):
        attempt(Client(), owner.email, "wrong", ip="198.51.100.7")
    for slug in ("acme", "globex"):
        failed = AuditEvent.objects.filter(organization__slug=slug, action="auth.sign_in_failed")
        assert failed.filter(details__reason="wrong password").count() == settings.AXES_FAILURE_LIMIT - 1
        assert failed.filter(details__reason="locked out").count() == 1
        assert AuditEvent.objects.filter(organization__slug=slug, action="auth.locked_out").count() == 1
    # Another network is counted on its own.
    attempt(Client(), owner.email, "wrong", ip="192.0.2.99")
    assert AuditEvent.objects.filter(organization__slug="acme", action="auth.sign_in_failed").count() == (
        settings.AXES_FAILURE_LIMIT + 1
    )


def test_made_up_emails_cannot_flood_the_platform_log(db):
    # Attack: a new made-up email on every attempt from one address: each was a new (email, IP) pair, never locked,
    # and each wrote a platform log event.
    for number in range(30):
        attempt(Client(), f"ghost{number}@nowhere.test", "x", ip="198.51.100.7")
    events = AuditEvent.objects.filter(organization=None, action="auth.sign_in_failed").order_by("seq")
    assert [event.actor_label for event in events] == ["ghost0@nowhere.test"]
    attempt(Client(), "ghost@nowhere.test", "x", ip="192.0.2.99")
    assert [event.actor_label for event in events.all()] == ["ghost0@nowhere.test", "ghost@nowhere.test"]


def test_five_failures_lock_the_email_and_ip_pair_only(owner, member):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, owner.email, "wrong", ip="198.51.100.7").status_code == 200
    assert attempt(client, owner.email, "wrong", ip="198.51.100.7").status_code == 429  # the fifth locks
    locked = attempt(Client(), owner.email, PASSWORD, ip="198.51.100.7")
    assert locked.status_code == 429
    assert b"Too many failed sign-in attempts" in locked.content
    assert b"198.51.100.7" in locked.content
    # Same person from another network, and another person from this network, still sign in.
    assert attempt(Client(), owner.email, PASSWORD, ip="192.0.2.99").status_code == 302
    assert attempt(Client(), member.email, PASSWORD, ip="198.51.100.7").status_code == 302
    # Email case and spaces do not dodge the count.
    assert attempt(Client(), "  Owner@ACME.test", PASSWORD, ip="198.51.100.7").status_code == 429
    assert AuditEvent.objects.filter(action="auth.locked_out", organization__slug="acme").exists()


def test_lockout_is_a_cool_off_not_a_permanent_lock(owner):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), owner.email, "wrong")
    assert attempt(Client(), owner.email, PASSWORD).status_code == 429
    later = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=later)
    assert attempt(Client(), owner.email, PASSWORD).status_code == 302


def _fail_from_many_networks(email: str, networks: int) -> None:
    for network in range(networks):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            attempt(Client(), email, "wrong", ip=f"10.{network}.0.1")


def test_account_ceiling_stops_guessing_from_many_networks(owner):
    networks = settings.LOGIN_ACCOUNT_FAILURE_CEILING // settings.AXES_FAILURE_LIMIT
    _fail_from_many_networks(owner.email, networks)
    response = attempt(Client(), owner.email, PASSWORD, ip="192.0.2.50")
    assert response.status_code == 429
    assert b"from many networks" in response.content
    # It lifts by itself when the hour has passed.
    AccessFailureLog.objects.update(attempt_time=timezone.now() - timedelta(hours=1, seconds=1))
    assert attempt(Client(), owner.email, PASSWORD, ip="192.0.2.50").status_code == 302


def test_account_ceiling_spares_networks_the_owner_signed_in_from(owner):
    assert attempt(Client(), owner.email, PASSWORD, ip="192.0.2.8").status_code == 302
    _fail_from_many_networks(owner.email, settings.LOGIN_ACCOUNT_FAILURE_CEILING // settings.AXES_FAILURE_LIMIT)
    assert attempt(Client(), owner.email, PASSWORD, ip="192.0.2.77").status_code == 429
    assert attempt(Client(), owner.email, PASSWORD, ip="192.0.2.8").status_code == 302


def test_one_attacker_cannot_reach_the_account_ceiling(owner):
    for _ in range(settings.LOGIN_ACCOUNT_FAILURE_CEILING + 5):
        attempt(Client(), owner.email, "wrong", ip="198.51.100.66")
    assert attempt(Client(), owner.email, PASSWORD, ip="192.0.2.123").status_code == 302


@pytest.mark.parametrize("email", ["", "   ", "a" * 300, "not-an-email", "x@y\x00z"])
def test_odd_emails_get_a_form_error_not_a_500(db, email):
    response = attempt(Client(), email, "whatever")
    assert response.status_code in {200, 400}


def test_already_signed_in_visitors_skip_the_form(client_for, owner):
    assert client_for(owner).get(LOGIN).status_code == 302


def test_new_account_for_unused_email_does_not_exist(db):
    make_user("someone@acme.test")
    assert attempt(Client(), "someone@acme.test", PASSWORD).status_code == 302
