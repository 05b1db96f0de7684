"""The stale-credentials report: each kind of stale key, the SSO-enforcement date, one-click revoke, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from keys import actions
from keys.models import APIKey
from keys.stale import stale_report
from orgsecurity.models import Membership
from sso.models import SSOConnection
from tests.helpers.core import sign_in_through_sso
from tests.helpers.keys import SYSTEM, issue

STALE = "/orgs/acme/settings/security/keys/stale/"


def enforce_sso(org, owner) -> SSOConnection:
    """SSO enforced since now (what sso.connections.actions records when enforcement starts)."""
    return SSOConnection.objects.create(
        organization=org, protocol="saml", status="enforced", name="Okta", enforced_at=timezone.now()
    )


def used(key: APIKey, *, days_ago: float) -> None:
    APIKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(days=days_ago))


@pytest.fixture
def zoo(org, owner, admin, member, acme):
    """One key of each stale kind, plus keys that must not be listed."""
    soon = timezone.now() + timedelta(days=30)
    before_sso, _ = issue(org, owner, name="before sso", project_ids=[acme.web.pk], expires_at=soon)
    used(before_sso, days_ago=1)
    enforce_sso(org, owner)
    left, _ = issue(org, admin, name="owner left", team_ids=[acme.data.pk], expires_at=soon)
    used(left, days_ago=1)
    unused, _ = issue(org, owner, name="unused", project_ids=[acme.web.pk], expires_at=soon)
    used(unused, days_ago=91)
    never, _ = issue(org, owner, name="never used", project_ids=[acme.web.pk], expires_at=soon)
    forever, _ = issue(org, owner, name="no expiry", project_ids=[acme.web.pk])
    used(forever, days_ago=1)
    flagged, _ = issue(org, member, name="flagged", project_ids=[acme.web.pk], expires_at=soon)
    used(flagged, days_ago=1)
    actions.flag_keys_for_review(org, actor=SYSTEM, reason="SSO identity unlinked", user=member)
    healthy, _ = issue(org, owner, name="healthy", project_ids=[acme.web.pk], expires_at=soon)
    used(healthy, days_ago=89)
    revoked, _ = issue(org, owner, name="revoked")
    actions.revoke_api_key(revoked, actor=owner, reason="done")
    expired, _ = issue(org, owner, name="expired", expires_at=soon)
    APIKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with transaction.atomic():
        Membership.objects.filter(user=admin).delete()  # a departure that did not go through remove_member
    return {key.name: key for key in (before_sso, left, unused, never, forever, flagged, healthy, revoked, expired)}


def test_the_report_lists_each_kind_of_stale_key(org, zoo):
    report = stale_report(org)
    reasons = {row.key.name: row.reasons for row in report.rows}
    assert reasons == {
        "before sso": ["before_sso"],
        "owner left": ["owner_left"],
        "unused": ["unused"],
        "never used": ["never_used"],
        "no expiry": ["no_expiry"],
        "flagged": ["flagged"],
    }
    assert report.sso_enforced_at is not None
    notes = {row.key.name: row.notes for row in report.rows}
    assert notes["owner left"] == ["admin@acme.test is no longer a member."]
    assert notes["flagged"][0].endswith("SSO identity unlinked")


def test_without_sso_enforcement_no_key_predates_it(org, owner, acme):
    issue(org, owner, project_ids=[acme.web.pk])
    SSOConnection.objects.create(organization=org, protocol="oidc", status="on")
    assert "before_sso" not in stale_report(org).rows[0].reasons
    assert stale_report(org).sso_note == "SSO is not enforced, so no key predates enforcement."


def sso_client(user) -> Client:
    """SSO is enforced in these tests: people open the org's pages after signing in through its IdP."""
    return sign_in_through_sso(Client(), user, SSOConnection.objects.get(organization__slug="acme"))


def test_it_checks_access_to_the_report(client_for, owner, member, outsider, zoo):
    for path in (STALE, STALE.replace("stale/", "stale.csv")):
        assert sso_client(owner).get(path).status_code == 200
        assert sso_client(member).get(path).status_code == 403
        assert client_for(outsider).get(path).status_code == 404


def test_the_page_shows_every_listed_key_and_the_sso_date(client_for, owner, zoo):
    page = sso_client(owner).get(STALE).content.decode()
    for name in ("before sso", "owner left", "unused", "never used", "no expiry", "flagged"):
        assert zoo[name].prefix in page
    for name in ("healthy", "revoked", "expired"):
        assert zoo[name].prefix not in page
    assert "SSO enforcement started" in page


def test_one_click_revoke_from_the_report(fresh_client, owner, zoo):
    key = zoo["owner left"]
    page = sso_client(owner).get(STALE).content.decode()
    assert f'action="/orgs/acme/settings/security/keys/{key.pk}/revoke/"' in page
    response = sso_client(owner).post(
        f"/orgs/acme/settings/security/keys/{key.pk}/revoke/",
        {"reason": "Stale credentials report: admin@acme.test is no longer a member.", "next": "stale"},
    )
    assert response.status_code == 302 and response["Location"] == STALE
    key.refresh_from_db()
    assert key.revoked_reason.startswith("Stale credentials report")
    assert key.prefix not in sso_client(owner).get(STALE).content.decode()


def test_mark_reviewed_clears_the_flag(fresh_client, client_for, owner, member, zoo):
    key = zoo["flagged"]
    path = f"/orgs/acme/settings/security/keys/{key.pk}/reviewed/"
    assert sso_client(member).post(path, {"next": "stale"}).status_code == 403
    assert sso_client(owner).post(path, {"next": "stale"}).status_code == 302
    key.refresh_from_db()
    assert key.flagged_at is None


def test_csv_export_lists_the_same_keys_and_defuses_formulas(client_for, org, owner, acme, zoo):
    issue(org, owner, name='=HYPERLINK("http://evil.test")', project_ids=[acme.web.pk])
    response = sso_client(owner).get(STALE.replace("stale/", "stale.csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="acme-stale-api-keys-')
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    by_prefix = {row["prefix"]: row for row in rows}
    assert by_prefix[zoo["owner left"].prefix]["reasons"] == "owner_left"
    assert by_prefix[zoo["before sso"].prefix]["reasons"] == "before_sso"
    assert zoo["healthy"].prefix not in by_prefix
    assert any(row["name"].startswith("'=HYPERLINK") for row in rows)
    assert not any(row["name"].startswith("=") for row in rows)


def test_csv_export_escapes_control_and_bidi_characters(client_for, org, owner, acme, zoo):
    # A key named before names refused these characters still has its name: the export shows them, never obeys them.
    APIKey.objects.filter(pk=zoo["no expiry"].pk).update(name="nightly\u202ecod.exe\r\n=1+1\x1b[2J")
    response = sso_client(owner).get(STALE.replace("stale/", "stale.csv"))
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode(), newline="")))
    names = [row["name"] for row in rows]
    assert "nightly\\u202ecod.exe\\u000d\\u000a=1+1\\u001b[2J" in names
    assert len(rows) == len(set(row["prefix"] for row in rows))  # no row was split in two


def test_deactivated_accounts_keys_and_the_secrets_they_saw_are_listed(org, owner, admin, member, acme):
    """Deactivating an account (e.g. in the identity system) does not go through the member actions: the report
    still shows its personal keys (already refused) and the service-account keys whose secret it saw."""
    soon = timezone.now() + timedelta(days=30)
    personal, _ = issue(org, admin, name="admin's own", project_ids=[acme.web.pk], expires_at=soon)
    machine, _ = issue(
        org,
        admin,
        name="etl",
        service_account=actions.create_service_account(org, actor=owner, name="etl"),
        project_ids=[acme.web.pk],
        expires_at=soon,
    )
    kept, _ = issue(org, member, name="member's own", project_ids=[acme.web.pk], expires_at=soon)
    for key in (personal, machine, kept):
        used(key, days_ago=1)
    admin.is_active = False
    admin.save(update_fields=["is_active"])
    reasons = {row.key.name: row.reasons for row in stale_report(org).rows}
    assert reasons == {"admin's own": ["owner_deactivated"], "etl": ["holder_deactivated"]}
