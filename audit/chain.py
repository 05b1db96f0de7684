"""Verifying a hash chain: find the first edited, deleted, inserted or reordered audit event.

A chain is valid when its events sit at consecutive positions (``seq`` = anchor + 1, + 2, …), each points
at the hash of the one before it (``prev_hash``), each hashes to its stored ``hash``, and the last one is
the chain head (``AuditChain.last_seq`` / ``last_hash``). The first violation is reported and, by looking
at its neighbours, classified as an edit, a deletion, an insertion or a reordering.

A pruned chain starts after its retention anchor (``AuditChain.anchor_seq`` / ``anchor_hash``), and the anchor
must be accounted for by the chain itself: every prune records ``audit.pruned`` (``audit.retention``, details
``from_seq``, ``through_seq``, ``anchor_hash``) after the events it deleted, so the latest surviving one names the
anchor, and the surviving ones cover consecutive ranges. An anchor moved by hand (the append-only trigger then lets
the events before it be deleted) is reported as ``anchor moved``.

What a hash chain cannot show on its own: someone with write access to the database who rewrites every
event from the break onwards *and* the chain head. Keep the head hash that ``audit_verify`` prints (or an
export) somewhere else to detect that.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from audit.models import GENESIS_HASH, AuditChain, AuditEvent
from orgsecurity.models import Organization

EDITED, DELETED, INSERTED, REORDERED = "edited", "deleted", "inserted", "reordered"
ANCHOR_MOVED = "anchor moved"
PRUNED_ACTION = "audit.pruned"  # recorded by audit.retention.prune_batch


@dataclass(frozen=True)
class ChainReport:
    """The result of walking one chain.

    ``scope`` is ``org:<pk>`` or ``platform``; ``checked`` how many events verified before the first
    break; ``broken_seq`` the position of the first break, ``kind`` one of edited / deleted / inserted /
    reordered / anchor moved and ``problem`` a sentence for the person running the check. ``head_hash`` is the hash of
    the last verified event (the genesis or anchor hash for an empty chain).
    """

    scope: str
    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str = ""
    kind: str = ""
    head_hash: str = GENESIS_HASH
    anchor_seq: int = 0  # the retention anchor the walk started after (0: the genesis)


def verify_chain(organization: Organization | None, *, batch_size: int = 2000) -> ChainReport:
    """Walk ``organization``'s chain (None: the platform log) in seq order and report the first break.

    Memory stays constant (keyset batches of ``batch_size`` events); a broken chain costs a few extra
    queries to classify the break.
    """
    scope = AuditChain.scope_for(organization)
    chain = AuditChain.objects.filter(scope=scope).first()
    expected_seq = (chain.anchor_seq if chain else 0) + 1
    expected_prev = chain.anchor_hash if chain else GENESIS_HASH
    events = AuditEvent.objects.filter(organization=organization)

    def report(checked: int, seq: int, kind: str, problem: str) -> ChainReport:
        return ChainReport(scope, False, checked, broken_seq=seq, problem=problem, kind=kind)

    checked = 0
    for event in _in_seq_order(events, batch_size):
        if event.seq < expected_seq:
            return report(
                checked, event.seq, INSERTED, f"event #{event.seq} sits before the start of the chain: it was inserted"
            )
        if event.seq > expected_seq:
            missing = (
                f"event #{expected_seq} is"
                if event.seq == expected_seq + 1
                else (f"events #{expected_seq} to #{event.seq - 1} are")
            )
            return report(checked, expected_seq, DELETED, f"{missing} missing: deleted")
        if event.prev_hash != expected_prev:
            kind, seq, problem = _diagnose_wrong_link(events, event, expected_prev)
            return report(checked, seq, kind, problem)
        if event.compute_hash() != event.hash:
            kind, problem = _diagnose_bad_hash(events, event)
            return report(checked, event.seq, kind, problem)
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if chain is None:
        if checked:
            return report(checked, 1, DELETED, "the chain head record is missing: it was deleted")
        return ChainReport(scope, True, checked, head_hash=expected_prev)
    if chain.last_seq > last_seq:
        gone = (
            f"event #{chain.last_seq} was"
            if chain.last_seq == last_seq + 1
            else (f"events #{last_seq + 1} to #{chain.last_seq} were")
        )
        return report(checked, last_seq + 1, DELETED, f"{gone} deleted from the end of the log")
    if chain.last_seq < last_seq:
        # Only reachable if the rows chain correctly: someone recomputed hashes but not the head.
        return report(
            checked,
            chain.last_seq + 1,
            INSERTED,
            f"event #{chain.last_seq + 1} was inserted after the chain head (#{chain.last_seq})",
        )
    if chain.last_hash != expected_prev:
        return report(
            checked, last_seq, EDITED, f"event #{last_seq} was rewritten: its hash differs from the chain head's"
        )
    moved = _unaccounted_anchor(chain, events)
    if moved is not None:
        return report(checked, moved[0], ANCHOR_MOVED, moved[1])
    return ChainReport(scope, True, checked, head_hash=expected_prev, anchor_seq=chain.anchor_seq)


def _unaccounted_anchor(chain: AuditChain, events) -> tuple[int, str] | None:
    """``(position, sentence)`` when the retention anchor is not where the recorded prunes put it, else None.

    Called on a chain whose surviving events verified, so the ``audit.pruned`` events read here are the ones
    recorded. The latest must end at the anchor, with its hash; each earlier surviving one must end where the next
    begins; and an anchor past the genesis needs at least one (each prune records its own after what it deleted,
    so a real prune never deletes the last record of itself)."""
    prunes = list(events.filter(action=PRUNED_ACTION).order_by("seq").values_list("seq", "details"))
    if not prunes:
        if chain.anchor_seq == 0:
            return None
        return (
            chain.anchor_seq,
            f"the retention anchor is at event #{chain.anchor_seq} but no recorded prune ({PRUNED_ACTION}) accounts "
            f"for it: it was moved by hand and events #1 to #{chain.anchor_seq} were deleted",
        )
    for (seq, details), (next_seq, next_details) in itertools.pairwise(prunes):
        through, following = _int(details, "through_seq"), _int(next_details, "from_seq")
        if through is None or following != through + 1:
            return (
                next_seq,
                f"the prune recorded at event #{next_seq} starts at #{following}, but the one at event #{seq} ended "
                f"at #{through}: the retention anchor was moved by hand between them",
            )
    seq, details = prunes[-1]
    through = _int(details, "through_seq")
    if through != chain.anchor_seq or details.get("anchor_hash") != chain.anchor_hash:
        return (
            chain.anchor_seq,
            f"the retention anchor is at event #{chain.anchor_seq}, but the last recorded prune (event #{seq}) "
            f"ended at #{through}: the anchor was moved by hand"
            + (
                f" and events #{through + 1} to #{chain.anchor_seq} were deleted"
                if (through or 0) < chain.anchor_seq
                else ""
            ),
        )
    return None


def _int(details: object, key: str) -> int | None:
    value = details.get(key) if isinstance(details, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _in_seq_order(events, batch_size: int) -> Iterator[AuditEvent]:
    last_seq = None
    while True:
        batch_query = events.order_by("seq")
        if last_seq is not None:
            batch_query = batch_query.filter(seq__gt=last_seq)
        batch = list(batch_query[:batch_size])
        if not batch:
            return
        yield from batch
        last_seq = batch[-1].seq


def _hash_at(event: AuditEvent, seq: int) -> str:
    """The hash ``event`` would have had if it were written at position ``seq``."""
    moved = copy.copy(event)
    moved.seq = seq
    return moved.compute_hash()


def _diagnose_wrong_link(events, event: AuditEvent, expected_prev: str) -> tuple[str, int, str]:
    """``event`` is at the right position but does not point at the event before it: find out why."""
    seq = event.seq
    predecessor = events.filter(hash=event.prev_hash).order_by("seq").first()
    if predecessor is not None and predecessor.seq > seq:
        return REORDERED, seq, f"event #{seq} belongs after event #{predecessor.seq}: events were reordered"
    if predecessor is not None:
        original_seq = predecessor.seq + 1
        if original_seq < seq and _hash_at(event, original_seq) == event.hash:
            # This event was written at #original_seq and pushed down: something was inserted before it.
            return (
                INSERTED,
                original_seq,
                (f"event #{original_seq} was inserted: the event now at #{seq} was written at #{original_seq}"),
            )
        following = events.filter(seq=seq + 1).first()
        if following is not None and following.prev_hash == expected_prev:
            return INSERTED, seq, f"event #{seq} was inserted: event #{seq + 1} follows event #{seq - 1} directly"
        return (
            INSERTED,
            seq,
            (f"event #{seq} was inserted or copied: it claims to follow event #{predecessor.seq}, not #{seq - 1}"),
        )
    return (
        DELETED,
        seq,
        (f"the event before #{seq} was deleted or rewritten: #{seq} points to an event that is no longer in the log"),
    )


def _diagnose_bad_hash(events, event: AuditEvent) -> tuple[str, str]:
    """``event`` links correctly but its content does not match its hash: edited, or inserted beside the
    real one (two events claiming the same predecessor)."""
    following = events.filter(seq=event.seq + 1).first()
    if following is not None and following.prev_hash == event.prev_hash:
        return INSERTED, f"event #{event.seq} was inserted: it and event #{event.seq + 1} both follow #{event.seq - 1}"
    return EDITED, f"event #{event.seq} was edited after it was written (its content no longer matches its hash)"
