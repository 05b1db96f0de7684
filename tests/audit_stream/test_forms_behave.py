"""The streaming page's forms behave (issue 20): retention is previewed and saved under one rule, a retention form
opened before someone else changed it is refused with what changed, the add form's labels read once, and a plain
http:// destination is refused in plain words for the owner while operators learn the setting's name."""

from __future__ import annotations

import html as html_lib
import logging
import re

import pytest

from audit import retention
from audit.models import AuditChain
from audit_stream import ssrf
from orgsecurity.versions import VERSION_FIELD
from tests.audit.helpers import record_event

pytestmark = pytest.mark.django_db
PAGE = "/orgs/acme/settings/security/streaming/"


def _retention_form(html: str) -> dict[str, str]:
    form = re.search(r'<form method="get"[^>]*id="retention-form">(.*?)</form>', html, re.S).group(1)
    return {name: html_lib.unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', form)}


@pytest.mark.parametrize("days", [0, 89, 36501])
def test_the_preview_refuses_what_saving_refuses(client_for, owner, org, settings, days):
    settings.AUDIT_RETENTION_MIN_DAYS = 90
    client = client_for(owner)
    answer = client.get(PAGE + "retention/", {"keep": "days", "days": days})
    assert answer.status_code == 302 and answer["Location"] == PAGE
    page = client.get(PAGE).content.decode()
    assert html_lib.escape(retention.retention_problem(days)) in page
    saved = client.post(PAGE + "retention/", {"keep": "days", "days": days}, follow=True)
    assert html_lib.escape(retention.retention_problem(days)) in saved.content.decode()
    assert AuditChain.objects.filter(organization=org, retention_days__isnull=False).count() == 0


def test_the_days_field_tells_the_browser_the_bounds(client_for, owner, settings):
    settings.AUDIT_RETENTION_MIN_DAYS = 120
    html = client_for(owner).get(PAGE).content.decode()
    assert re.search(r'name="days"[^>]*min="120"', html) and 'max="36500"' in html


def test_a_retention_form_opened_before_a_change_is_refused_with_what_changed(client_for, owner, org, settings):
    settings.AUDIT_RETENTION_MIN_DAYS = 90
    record_event(org)  # the chain exists
    client = client_for(owner)
    loaded = _retention_form(client.get(PAGE).content.decode())[VERSION_FIELD]
    # Meanwhile another owner (or a program) keeps events 400 days.
    retention.set_retention(org, actor=owner, days=400)
    preview = client.get(PAGE + "retention/", {"keep": "days", "days": 120, VERSION_FIELD: loaded})
    assert preview.status_code == 200
    carried = re.search(rf'name="{VERSION_FIELD}" value="([^"]+)"', preview.content.decode()).group(1)
    assert carried == loaded  # the preview passes on the version the page was loaded at
    refused = client.post(PAGE + "retention/", {"keep": "days", "days": 120, VERSION_FIELD: carried}, follow=True)
    text = html_lib.unescape(refused.content.decode())
    assert "changed since you opened this page" in text
    assert "Retention in days (none: forever): (none) → 400" in text
    assert AuditChain.objects.get(organization=org).retention_days == 400
    assert "kept <strong>400 days</strong>" in refused.content.decode()  # the page shows what is saved
    # Loaded afresh, the same change goes through.
    fresh = _retention_form(client.get(PAGE).content.decode())[VERSION_FIELD]
    client.post(PAGE + "retention/", {"keep": "days", "days": 120, VERSION_FIELD: fresh})
    assert AuditChain.objects.get(organization=org).retention_days == 120


def test_the_add_form_says_optional_once(client_for, owner):
    html = client_for(owner).get(PAGE).content.decode()
    assert "(optional) <small>(optional)" not in html and "optional)</label>" not in html.replace("<small>", "")
    assert re.search(r"CA certificate to trust \(PEM\) <small>\(optional\)</small>", html)
    assert "optional, " not in html and ", optional" not in html


def test_plain_http_is_refused_plainly_and_operators_learn_the_setting(client_for, owner, settings, caplog):
    settings.AUDIT_STREAM_ALLOW_HTTP = False
    settings.DEBUG = False
    client = client_for(owner)
    with caplog.at_level(logging.INFO, logger=ssrf.__name__):
        answer = client.post(
            PAGE + "destinations/add/", {"kind": "webhook", "url": "http://siem.example.com/in", "batch_size": 100}
        )
    text = html_lib.unescape(answer.content.decode())
    assert answer.status_code == 400
    assert "is not an https:// URL: audit events are sent only over encrypted connections (https://)." in text
    assert "AUDIT_STREAM_ALLOW_HTTP" not in text
    assert "AUDIT_STREAM_ALLOW_HTTP=1" in caplog.text
    settings.DEBUG = True  # an operator's own machine: the page names the setting too
    with pytest.raises(ssrf.TargetRefused, match="AUDIT_STREAM_ALLOW_HTTP=1"):
        ssrf.check_target("http://siem.example.com/in", "webhook")
