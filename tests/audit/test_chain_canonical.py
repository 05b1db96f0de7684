"""Every value that goes into the audit hash chain hashes the same before and after a round trip through the
database (PostgreSQL and SQLite): IP addresses in any text form, datetimes, decimals, JSON key order, Unicode
(decomposed, control characters, NUL, unpaired surrogates). Events written before the canonical form was spelled
out still verify without being rewritten.

The property tests run on whichever database the run uses: the PostgreSQL pass of ``make test`` and its SQLite pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from datetime import UTC
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import context
from audit.chain import verify_chain
from audit.models import AuditChain, AuditEvent, hashed_ip_text
from audit.recorder import Actor, Target, _lock_chain
from tests.audit.helpers import record_event

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text of every kind, with the awkward cases made likely: decomposed and composed é, NUL, other controls, a bidi
# override, an unpaired surrogate, a character outside the BMP.
awkward = st.sampled_from(["e\u0301", "\u00e9", "\x00", "\r\n\x1b", "\u202e", "\ud800", "\U0001f600", "\ufb01", " "])
texts = st.lists(st.one_of(awkward, st.text(st.characters(exclude_categories=()), max_size=8)), max_size=4).map("".join)
v4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
v6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)
# IPv6 addresses that carry an IPv4 address: IPv4-compatible, IPv4-mapped, IPv4-translated, NAT64 well-known prefix.
embedding = st.sampled_from([0, 0xFFFF << 32, 0xFFFF << 48, 0x64FF9B << 96])
embedded = st.builds(lambda prefix, low: ipaddress.IPv6Address(prefix | low), embedding, st.integers(0, 2**32 - 1))


def _text_forms(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    """Ways to write one address: Python's, exploded, upper case, and the mixed notation PostgreSQL prints."""
    forms = [str(address), address.exploded, str(address).upper()]
    if address.version == 6:
        low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        forms.append(f"{address.exploded.rsplit(':', 2)[0]}:{low}")
    return forms


ip_texts = st.one_of(st.none(), st.builds(_text_forms, st.one_of(v4, v6, embedded)).flatmap(st.sampled_from))
timestamps = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2999, 12, 31), timezones=st.just(UTC)
) | st.datetimes(timezones=st.builds(dt.timezone, st.timedeltas(dt.timedelta(hours=-23), dt.timedelta(hours=23))))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.decimals(),
    timestamps,
    st.dates(),
    texts,
    st.builds(ipaddress.ip_address, st.integers(0, 2**128 - 1)),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)


def _record(organization, *, ip, label, target_label, changes, details, user_agent):
    meta = context.RequestMeta(ip=ip, user_agent=user_agent, request_id=label[:64])
    with context.request_meta(meta):
        return record_event(
            organization,
            actor=Actor("user", label, label),
            target=Target("orgsecurity.organization", target_label, target_label),
            changes=changes,
            details=details,
        )


@EXAMPLES
@given(
    ip=ip_texts,
    label=texts,
    target_label=texts,
    changes=json_objects,
    details=json_objects,
    user_agent=texts,
)
def test_every_field_hashes_the_same_after_a_round_trip(org, ip, label, target_label, changes, details, user_agent):
    written = _record(
        org, ip=ip, label=label, target_label=target_label, changes=changes, details=details, user_agent=user_agent
    )
    stored = AuditEvent.objects.get(pk=written.pk)
    assert stored.canonical_content() == written.canonical_content()
    assert stored.compute_hash() == stored.hash
    assert verify_chain(org).ok


@EXAMPLES
@given(address=st.one_of(v4, v6, embedded))
def test_every_text_form_of_an_address_hashes_as_one(address):
    assert {hashed_ip_text(text) for text in _text_forms(address)} == {hashed_ip_text(str(address))}
    assert ipaddress.ip_address(hashed_ip_text(str(address))) == address


@pytest.mark.parametrize(
    ("stored", "hashed"),
    [
        ("::1.2.3.4", "::102:304"),  # PostgreSQL's text, and Python's
        ("::ffff:1.2.3.4", "::ffff:102:304"),
        ("::ffff:0:1.2.3.4", "::ffff:0:102:304"),
        ("64:ff9b::1.2.3.4", "64:ff9b::102:304"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
        ("192.0.2.1", "192.0.2.1"),
        ("", None),
        (None, None),
    ],
)
def test_the_hashed_text_of_an_address(stored, hashed):
    assert hashed_ip_text(stored) == hashed


def test_values_are_stored_as_they_hash(org):
    event = _record(
        org,
        ip="2001:DB8::1",
        label="Zoë\ud800",
        target_label="x",
        changes={"amount": [Decimal("1.10"), Decimal("2.5E+3")], "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
        details={"b\x00": 1, "a": 2.5, "big": 2**70},
        user_agent="",
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor_label == "Zoë\ufffd"
    assert stored.changes == {"amount": ["1.10", "2.5E+3"], "at": "2026-01-02 03:04:05+00:00"}
    assert stored.details == {"a": "2.5", "b": 1, "big": 2**70}
    assert stored.compute_hash() == stored.hash


# --- chains written before the canonical form was spelled out --------------------------------------------------


def _version_1_hash(event: AuditEvent, ip_as_hashed: str | None) -> str:
    """How events were hashed before: the IP address as the text Python gave it, not the stored one."""
    content = {
        "v": 1,
        "organization": event.organization_id,
        "seq": event.seq,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": [event.actor_type, event.actor_id, event.actor_label],
        "action": event.action,
        "category": event.category,
        "target": [event.target_type, event.target_id, event.target_label],
        "changes": event.changes,
        "details": event.details,
        "ip": ip_as_hashed,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


OLD_CLIENT_IPS = ["::1.2.3.4", "::ffff:0:1.2.3.4", "::ffff:1.2.3.4", "2001:db8::7", "198.51.100.7", None]


def _write_version_1_chain(organization) -> list[int]:
    """Events as the old recorder wrote them: hashed with ``str(ipaddress.ip_address(...))``, stored as the
    database keeps them (PostgreSQL's inet prints ``::1.2.3.4``; Django writes ``::ffff:1.2.3.4`` on SQLite)."""
    with transaction.atomic():
        chain = _lock_chain(organization)
        seq, prev = chain.last_seq, chain.last_hash
        first = seq + 1
        for text in OLD_CLIENT_IPS:
            seq += 1
            python_text = str(ipaddress.ip_address(text)) if text else None
            event = AuditEvent(
                organization=organization,
                seq=seq,
                occurred_at=dt.datetime(2026, 11, 30, 12, 0, seq, 123000, tzinfo=UTC),
                actor_type="user",
                actor_id="1",
                actor_label="owner@acme.test",
                action="billing.updated",
                category="billing",
                changes={"plan_name": ["free", "team"]},
                details={},
                ip=python_text,
                prev_hash=prev,
            )
            event.hash = prev = _version_1_hash(event, python_text)
            event.save()
        AuditChain.objects.filter(pk=chain.pk).update(last_seq=seq, last_hash=prev)
    return list(range(first, seq + 1))


def test_chains_written_before_still_verify_without_rewriting(org, capsys):
    _write_version_1_chain(org)
    _record(org, ip="::1.2.3.4", label="after", target_label="", changes={}, details={}, user_agent="")
    report = verify_chain(org)
    assert report.ok, report.problem
    call_command("audit_verify", "acme")
    assert "acme: ok" in capsys.readouterr().out


@pytest.mark.postgres
def test_postgresql_text_of_every_stored_address_hashes_as_written(org):
    """PostgreSQL's inet prints embedded IPv4 in mixed notation (``::1.2.3.4``, ``::ffff:1.2.3.4``) where Python
    writes hexadecimal: audit_verify called such untouched events edited."""
    seqs = _write_version_1_chain(org)
    stored = AuditEvent.objects.filter(organization=org, seq__in=seqs).order_by("seq")
    # PostgreSQL's text, where the events were hashed with ::102:304, ::ffff:0:102:304 and ::ffff:102:304
    assert [event.ip for event in stored][:3] == ["::1.2.3.4", "::ffff:0:102:304", "::ffff:1.2.3.4"]
    assert verify_chain(org).ok


@pytest.mark.postgres
@EXAMPLES
@given(address=st.one_of(v4, v6, embedded))
def test_postgresql_round_trip_of_any_address(org, address):
    event = _record(org, ip=str(address), label="x", target_label="", changes={}, details={}, user_agent="")
    stored = AuditEvent.objects.get(pk=event.pk)
    assert hashed_ip_text(stored.ip) == hashed_ip_text(event.ip)
    assert stored.compute_hash() == stored.hash
