"""Billing settings: editable by owners and billing members only, every change audited."""

from __future__ import annotations

from audit.models import AuditEvent
from orgsecurity.models import Organization

URL = "/orgs/acme/settings/billing/"
VALID = {"billing_email": "ap@acme.test", "plan_name": "business", "tax_id": "DE123456789"}


def test_it_checks_access(client_for, owner, billing_user, admin, member, auditor, outsider):
    assert client_for(owner).get(URL).status_code == 200
    assert client_for(billing_user).get(URL).status_code == 200
    assert client_for(admin).get(URL).status_code == 403
    assert client_for(member).get(URL).status_code == 403
    assert client_for(auditor).get(URL).status_code == 403
    assert client_for(outsider).get(URL).status_code == 404
    assert client_for(member).post(URL, VALID).status_code == 403
    assert Organization.objects.get(slug="acme").plan_name == "free"


def test_billing_member_saves_and_the_change_is_audited(client_for, billing_user):
    response = client_for(billing_user).post(URL, VALID)
    assert response.status_code == 302
    org = Organization.objects.get(slug="acme")
    assert (org.billing_email, org.plan_name, org.tax_id) == ("ap@acme.test", "business", "DE123456789")
    event = AuditEvent.objects.get(action="billing.updated")
    assert event.changes["plan_name"] == ["free", "business"]
    assert event.actor_label == billing_user.email
    assert event.category == "billing"


def test_bad_input_shows_the_error_and_saves_nothing(client_for, owner):
    response = client_for(owner).post(URL, {**VALID, "billing_email": "nope", "plan_name": "platinum"})
    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
    assert b"Select a valid choice" in response.content
    org = Organization.objects.get(slug="acme")
    assert org.billing_email == "" and org.plan_name == "free"
    assert not AuditEvent.objects.filter(action="billing.updated").exists()


def test_saving_without_changes_records_nothing(client_for, owner):
    client = client_for(owner)
    client.post(URL, VALID)
    client.post(URL, VALID)
    assert AuditEvent.objects.filter(action="billing.updated").count() == 1


def test_saving_over_a_change_made_meanwhile_is_refused_and_says_what_changed(client_for, owner, billing_user):
    import re

    client = client_for(billing_user)
    version = re.search(r'name="loaded_version" value="([^"]+)"', client.get(URL).content.decode()).group(1)
    assert client_for(owner).post(URL, {**VALID, "tax_id": "FR999"}).status_code == 302  # meanwhile
    stale = client.post(URL, {**VALID, "loaded_version": version})
    assert stale.status_code == 302 and stale["Location"] == URL
    page = client.get(URL).content.decode()
    assert "changed since you opened this page" in page
    assert "Billing email: (none) → ap@acme.test" in page and "Tax ID: (none) → FR999" in page
    assert 'value="FR999"' in page  # the form shows what is saved
    org = Organization.objects.get(slug="acme")
    assert org.tax_id == "FR999" and AuditEvent.objects.filter(action="billing.updated").count() == 1
