"""``manage.py audit_stream SLUG add|list|remove`` for scripted set-up."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit_stream.models import Destination

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("audit_stream", *args, stdout=out)
    return out.getvalue()


def test_add_list_remove(org, pki, monkeypatch, receiver):
    monkeypatch.setenv("SPLUNK_TOKEN", "abc-123")
    hook = run("acme", "add", "--kind", "webhook", "--url", receiver.url("/c"), "--ca-file", str(pki.ca_file))
    hook_id, secret_line = hook.strip().splitlines()
    assert secret_line.startswith("signing secret (shown once): whsec_")
    hec = run("acme", "add", "--kind", "hec", "--url", receiver.url("/h"), "--token-env", "SPLUNK_TOKEN")
    assert Destination.objects.get(pk=int(hec)).secret == "abc-123"
    assert Destination.objects.get(pk=int(hook_id)).ca_pem == pki.ca_pem.strip()

    listing = run("acme", "list")
    assert f"{hook_id} webhook active {receiver.url('/c')} delivered through #0" in listing

    assert run("acme", "remove", hook_id).strip() == f"removed {hook_id}"
    assert not Destination.objects.filter(pk=int(hook_id)).exists()


def test_refusals_are_clear(org, other_org, settings):
    settings.AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(CommandError, match="a link-local address"):
        run("acme", "add", "--kind", "webhook", "--url", "https://169.254.169.254/")
    with pytest.raises(CommandError, match="no organization"):
        run("nope", "list")
    with pytest.raises(CommandError, match="needs its token"):
        run("acme", "add", "--kind", "hec", "--url", "https://siem.example.com/")
    theirs = run("globex", "add", "--kind", "syslog", "--url", "tls://siem.example.com:6514").strip()
    with pytest.raises(CommandError, match="has no destination"):
        run("acme", "remove", theirs)
