"""Verifying a hash chain: find the first edited, deleted, inserted or reordered audit event."""

from __future__ import annotations

from dataclasses import dataclass

from audit.models import AuditChain, AuditEvent
from orgsecurity.models import Organization


@dataclass(frozen=True)
class ChainReport:
    """The result of walking one chain: ``ok``, how many events were checked, and the first break."""

    scope: str
    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str = ""


def verify_chain(organization: Organization | None, *, batch_size: int = 2000) -> ChainReport:
    """Walk ``organization``'s chain (None: the platform log) in seq order and report the first break.

    Each event must sit at the next seq, point at the previous event's hash and hash to its stored
    value; the last one must match the chain head. Memory stays constant (keyset batches).
    """
    scope = AuditChain.scope_for(organization)
    chain = AuditChain.objects.filter(scope=scope).first()
    expected_seq = (chain.anchor_seq if chain else 0) + 1
    expected_prev = chain.anchor_hash if chain else AuditChain._meta.get_field("anchor_hash").default
    checked = 0
    events = AuditEvent.objects.filter(organization=organization).order_by("seq")
    last_seq = expected_seq - 1
    while True:
        batch = list(events.filter(seq__gt=last_seq)[:batch_size])
        if not batch:
            break
        for event in batch:
            if event.seq != expected_seq:
                kind = "missing (deleted?)" if event.seq > expected_seq else "duplicated or reordered"
                return ChainReport(scope, False, checked, expected_seq, f"event #{expected_seq} is {kind}")
            if event.prev_hash != expected_prev:
                return ChainReport(
                    scope,
                    False,
                    checked,
                    event.seq,
                    f"event #{event.seq} does not follow event #{event.seq - 1} (inserted, deleted or reordered)",
                )
            if event.compute_hash() != event.hash:
                return ChainReport(
                    scope, False, checked, event.seq, f"event #{event.seq} was edited after it was written"
                )
            expected_prev = event.hash
            expected_seq += 1
            checked += 1
            last_seq = event.seq
    if chain is not None and (chain.last_seq != expected_seq - 1 or chain.last_hash != expected_prev):
        return ChainReport(
            scope,
            False,
            checked,
            expected_seq,
            f"the chain head says event #{chain.last_seq} is the last, but the log ends at #{expected_seq - 1} "
            "(events deleted from the end?)",
        )
    return ChainReport(scope, True, checked)
