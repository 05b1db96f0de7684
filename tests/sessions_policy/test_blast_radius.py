"""Before the session policy is tightened: the sessions the new rules end at once (``sessions_policy.preview``),
the confirmation page and its CSV, and confirming saves the policy."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sessions_policy.models import SessionPolicy, UserSession
from sessions_policy.preview import preview_session_policy
from tests.sessions_policy.test_policy import form

URL = "/orgs/acme/settings/security/sessions/"
HOUR = 3600


def open_session(user, clock, *, signed_in_hours_ago: float, idle_minutes: float, ip: str) -> UserSession:
    now = clock()
    return UserSession.objects.create(
        user=user,
        session_key=f"s{UserSession.objects.count()}-{user.pk}",
        auth_method="password",
        authenticated_at=now - timedelta(hours=signed_in_hours_ago),
        last_seen_at=now - timedelta(minutes=idle_minutes),
        ip=ip,
        user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    )


def rules(idle=30 * 60, absolute=12 * HOUR, reauth=15 * 60, single=False) -> dict:
    return {
        "idle_timeout_s": idle,
        "absolute_timeout_s": absolute,
        "reauth_max_age_s": reauth,
        "single_session": single,
    }


def test_a_shorter_lifetime_lists_the_sessions_signed_in_longer_ago(org, admin, member, clock):
    long_ago = open_session(member, clock, signed_in_hours_ago=5, idle_minutes=1, ip="192.0.2.1")
    open_session(admin, clock, signed_in_hours_ago=1, idle_minutes=1, ip="192.0.2.2")
    impact = preview_session_policy(org, **rules(absolute=2 * HOUR))
    items = impact.group("sessions").items
    assert [(item.ref, item.name) for item in items] == [(str(long_ago.pk), "member@acme.test")]
    assert "signed in longer ago than the new lifetime of 2 hours" in items[0].detail
    assert "192.0.2.1" in items[0].detail


def test_a_shorter_idle_timeout_lists_idle_sessions_but_not_those_already_over(org, admin, member, clock):
    idle = open_session(member, clock, signed_in_hours_ago=1, idle_minutes=20, ip="192.0.2.1")
    open_session(admin, clock, signed_in_hours_ago=1, idle_minutes=45, ip="192.0.2.2")  # over under the defaults
    impact = preview_session_policy(org, **rules(idle=10 * 60))
    assert [item.ref for item in impact.group("sessions").items] == [str(idle.pk)]
    assert "idle longer than the new idle timeout of 10 minutes" in impact.group("sessions").items[0].detail


def test_single_session_lists_the_older_sessions_of_people_who_signed_in_again(org, member, clock):
    older = open_session(member, clock, signed_in_hours_ago=3, idle_minutes=1, ip="192.0.2.1")
    open_session(member, clock, signed_in_hours_ago=1, idle_minutes=1, ip="192.0.2.9")
    impact = preview_session_policy(org, **rules(single=True))
    assert [item.ref for item in impact.group("sessions").items] == [str(older.pk)]
    assert preview_session_policy(org, **rules()).total == 0  # the defaults end nothing new


def test_sessions_of_other_organizations_people_are_not_listed(org, outsider, clock):
    open_session(outsider, clock, signed_in_hours_ago=5, idle_minutes=1, ip="192.0.2.1")
    assert preview_session_policy(org, **rules(absolute=HOUR)).total == 0


def test_the_confirmation_lists_the_sessions_and_confirming_saves(client_for, owner, member, clock):
    open_session(member, clock, signed_in_hours_ago=5, idle_minutes=1, ip="192.0.2.1")
    client = client_for(owner)
    data = form(absolute=("2", "hours"))
    page = client.get(URL + "confirm/", data)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Save the session policy?" in text
    assert "absolute lifetime 12 hours → 2 hours" in text
    assert "Sessions that end at once (1)" in text and "member@acme.test" in text
    assert not SessionPolicy.objects.exists()

    rows = list(csv.reader(io.StringIO(client.get(URL + "confirm/", {**data, "format": "csv"}).content.decode())))
    assert [row[1] for row in rows[1:]] == ["member@acme.test"]

    response = client.post(URL + "confirm/", data)
    assert response.status_code == 302 and response["Location"] == URL
    assert SessionPolicy.objects.get().absolute_timeout_s == 2 * HOUR


def test_the_policy_page_routes_its_form_through_the_confirmation(client_for, owner, member):
    text = client_for(owner).get(URL).content.decode()
    assert f'<form method="get" action="{URL}confirm/"' in text
    assert client_for(member).get(URL + "confirm/", form()).status_code == 403
    assert client_for(owner).get(URL + "confirm/", form(idle=("0", "hours"))).status_code == 400
