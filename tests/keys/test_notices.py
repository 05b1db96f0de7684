"""The worker's key emails: a key expiring within 7 days is announced to its owner once (per expiry date), and owners
who opt in get the stale-credentials report weekly. Jobs run with an injected clock (orgsecurity.jobs.run_job)."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from keys import actions
from keys.models import APIKey, StaleDigestSubscription
from orgsecurity.jobs import run_job
from tests.helpers.keys import issue

STALE = "/orgs/acme/settings/security/keys/stale/"


def test_an_expiring_key_is_announced_to_its_owner_once(org, owner, member, acme, django_capture_on_commit_callbacks):
    now = timezone.now()
    mine, _ = issue(org, member, name="laptop", project_ids=[acme.web.pk], expires_at=now + timedelta(days=10))
    account = actions.create_service_account(org, actor=owner, name="deploy-bot")
    robot, _ = issue(
        org,
        owner,
        name="deploy",
        service_account=account,
        project_ids=[acme.web.pk],
        expires_at=now + timedelta(days=3),
    )
    issue(org, member, name="lasting", project_ids=[acme.web.pk], expires_at=now + timedelta(days=60))
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job("keys.expiry_notices", now=now) == "1 keys announced"  # only the deploy key, 3 days ahead
    assert [(message.to, robot.prefix in message.subject) for message in mail.outbox] == [([owner.email], True)]
    assert "expires in 3 days" in mail.outbox[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job("keys.expiry_notices", now=now + timedelta(days=3, hours=1)) == "1 keys announced"
        assert run_job("keys.expiry_notices", now=now + timedelta(days=3, hours=2)) == "0 keys announced"
    assert mail.outbox[-1].to == [member.email] and mine.prefix in mail.outbox[-1].subject
    # A new expiry date (the key was extended) is announced again when it comes near.
    APIKey.objects.filter(pk=mine.pk).update(expires_at=now + timedelta(days=20))
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job("keys.expiry_notices", now=now + timedelta(days=14)) == "1 keys announced"
    assert len(mail.outbox) == 3


def test_owners_opt_in_to_the_weekly_digest(
    org, owner, admin, member, acme, client_for, django_capture_on_commit_callbacks
):
    issue(org, member, name="forever", project_ids=[acme.web.pk])  # never expires, never used: stale
    browser = client_for(owner)
    assert "Email me this report every Monday" in browser.get(STALE).content.decode()
    assert browser.post(STALE + "digest/", {"subscribe": "1"}).status_code == 302
    assert "You receive this report by email every Monday" in browser.get(STALE).content.decode()
    assert AuditEvent.objects.filter(action="key.stale_digest_subscribed", actor_id=owner.pk).count() == 1
    # Admins see the report but cannot receive the owners' digest.
    admin_page = client_for(admin).get(STALE).content.decode()
    assert "Email me this report" not in admin_page
    client_for(admin).post(STALE + "digest/", {"subscribe": "1"})
    assert StaleDigestSubscription.objects.count() == 1

    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job("keys.stale_digest", now=now) == "1 digests sent"
        assert run_job("keys.stale_digest", now=now + timedelta(hours=1)) == "0 digests sent"
    (digest,) = mail.outbox
    assert digest.to == [owner.email] and "1 API keys to review" in digest.subject
    assert "forever" in digest.body and "/orgs/acme/settings/security/keys/stale/" in digest.body
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job("keys.stale_digest", now=now + timedelta(days=7)) == "1 digests sent"

    assert browser.post(STALE + "digest/", {"subscribe": "0"}).status_code == 302
    assert not StaleDigestSubscription.objects.exists()
    assert run_job("keys.stale_digest", now=now + timedelta(days=14)) == "0 digests sent"


def test_the_digest_toggle_checks_access(org, owner, member, outsider, client_for):
    assert client_for(member).post(STALE + "digest/", {"subscribe": "1"}).status_code == 403
    assert client_for(outsider).post(STALE + "digest/", {"subscribe": "1"}).status_code == 404
    assert client_for(owner).post(STALE + "digest/", {"subscribe": "maybe"}).status_code == 302
    assert not StaleDigestSubscription.objects.exists()
