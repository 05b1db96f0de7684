"""Changing and resetting a password: audited, other sessions end, reset links built from PUBLIC_BASE_URL only."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client

from audit.models import AuditEvent
from tests.helpers.core import PASSWORD, make_user

NEW = "a brand new passphrase 42"


def test_it_checks_access(client_for, owner):
    assert client_for(None).get("/accounts/password/")["Location"].startswith("/accounts/login/")
    assert client_for(owner).get("/accounts/password/").status_code == 200


def test_changing_the_password_ends_the_other_sessions_and_is_audited(client_for, owner):
    here, elsewhere = client_for(owner), client_for(owner)
    wrong = here.post("/accounts/password/", {"old_password": "nope", "new_password1": NEW, "new_password2": NEW})
    assert wrong.status_code == 200 and b"Your old password was entered incorrectly" in wrong.content
    done = here.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW)
    assert here.get("/orgs/acme/").status_code == 200
    assert elsewhere.get("/orgs/acme/").status_code != 200
    assert AuditEvent.objects.filter(action="auth.password_changed", organization__slug="acme").count() == 1


def reset_link(body: str) -> str:
    match = re.search(r"https?://\S+/accounts/reset/\S+/", body)
    assert match, body
    return match.group(0)


def test_reset_by_email_uses_the_public_url_and_ends_every_session(client_for, owner):
    signed_in = client_for(owner)
    page = Client().post("/accounts/password/reset/", {"email": "OWNER@acme.test"}, HTTP_HOST="app.test")
    assert page["Location"] == "/accounts/password/reset/sent/"
    link = reset_link(mail.outbox[-1].body)
    assert link.startswith("https://testserver/accounts/reset/")  # PUBLIC_BASE_URL, not the Host header
    browser = Client()
    form = browser.get(link.removeprefix("https://testserver"), follow=True)
    assert form.status_code == 200 and b"Choose a new password" in form.content
    done = browser.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert done["Location"] == "/accounts/login/"
    owner.refresh_from_db()
    assert owner.check_password(NEW)
    assert signed_in.get("/orgs/acme/").status_code != 200
    assert AuditEvent.objects.filter(action="auth.password_reset").exists()
    # The link works once.
    assert b"This link does not work" in Client().get(link.removeprefix("https://testserver"), follow=True).content


def test_unknown_and_sso_only_accounts_get_the_same_page_and_no_email(db):
    make_user("sso-only@acme.test", password=None)
    for email in ("nobody@acme.test", "sso-only@acme.test"):
        response = Client().post("/accounts/password/reset/", {"email": email})
        assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_one_reset_email_per_address_and_network_at_a_time(owner):
    for _ in range(3):
        Client().post("/accounts/password/reset/", {"email": owner.email})
    assert len(mail.outbox) == 1
