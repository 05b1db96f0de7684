"""Reading an audit log: filters, newest-first keyset pagination with signed cursors, and batch iteration.

Shared by the organization viewer, the support console and the exports. Every query is scoped to one log
(an organization's, or the platform log) before any filter applies.

Order is newest first by ``(occurred_at, seq)``, which is unique within a log. Pages are found by keyset
("the 20 events before this one"), never OFFSET, and nothing counts the whole log, so a page costs the
same at any depth and any log size given the indexes of migration 0003.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core import signing
from django.db.models import Q, QuerySet

from audit import events, search
from audit.models import AuditChain, AuditEvent
from orgsecurity.models import Organization

PAGE_SIZE = 20
EXPORT_BATCH_SIZE = 1000
_CURSOR_SALT = "audit.cursor"


class InvalidCursor(ValueError):
    """A page link whose cursor was altered, or that belongs to another audit log."""

    message = (
        "This page link is not valid for this audit log: it was changed or belongs to another log. "
        "Start again from the newest events."
    )


# --- filters -------------------------------------------------------------------------------------------


def _action_choices() -> list[tuple[str, Any]]:
    """The action list, one group per theme (``audit.events.grouped_by_category``): first "Any event of the theme"
    (the category), then each action by its human name. Raw codes are the values, never shown here."""
    groups: list[tuple[str, Any]] = [("", "Any action")]
    for category, title, members in events.grouped_by_category():
        options = [(category, f"Any {title.lower()} event"), *((event.name, event.label) for event in members)]
        groups.append((title, options))
    return groups


class AuditFilterForm(forms.Form):
    """The viewer's and exports' filters, read from the query string. All optional.

    ``actor``: the actor's label exactly as shown (an email address for people); ``action``: a registered
    action name or a category; ``target``: the start of the target's label; ``since``/``until``: dates
    (YYYY-MM-DD, UTC, both days included); ``q``: words of what people read (``audit.search``: the sentence,
    actor, target, action name, changes and details); ``ref``: the request ID (reference ID) events were recorded
    with. Bad values become field errors with a sentence for the
    person, never a server error.
    """

    actor = forms.CharField(required=False, max_length=255, label="Actor")
    action = forms.ChoiceField(
        required=False,
        label="Action or category",
        error_messages={"invalid_choice": "%(value)s is not a known action or category. Pick one from the list."},
    )
    target = forms.CharField(required=False, max_length=255, label="Target")
    since = forms.DateField(
        required=False,
        label="From (UTC)",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the start date as YYYY-MM-DD, e.g. 2026-01-31."},
    )
    until = forms.DateField(
        required=False,
        label="To (UTC, included)",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the end date as YYYY-MM-DD, e.g. 2026-01-31."},
    )
    q = forms.CharField(required=False, max_length=200, label="Search")
    ref = forms.CharField(required=False, max_length=64, label="Request ID")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = _action_choices()

    def clean_actor(self) -> str:
        actor = self.cleaned_data["actor"]
        # People are labelled by their email, which is stored lower-case.
        return actor.lower() if "@" in actor and " " not in actor else actor

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def filters(self) -> AuditFilters:
        """The validated filters; call only after ``is_valid()`` returned True."""
        data = self.cleaned_data
        return AuditFilters(
            actor=data["actor"],
            action=data["action"],
            target=data["target"],
            since=data["since"],
            until=data["until"],
            text=data["q"],
            request_id=data["ref"].strip().lower(),
        )

    def error_sentences(self) -> list[str]:
        """Every field error as "<label>: <message>", for the message above an empty result."""
        return [f"{self.fields[name].label}: {error}" for name, errors in self.errors.items() for error in errors]


@dataclass(frozen=True)
class AuditFilters:
    """Validated filters (see AuditFilterForm); the empty instance matches every event of a log."""

    actor: str = ""
    action: str = ""
    target: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    text: str = ""
    request_id: str = ""

    def apply(self, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """Narrow ``queryset`` (already scoped to one log) by these filters."""
        if self.actor:
            queryset = queryset.filter(actor_label=self.actor)
        if self.action:
            key = "action" if "." in self.action else "category"
            queryset = queryset.filter(**{key: self.action})
        if self.target:
            queryset = queryset.filter(target_label__startswith=self.target)
        if self.since:
            queryset = queryset.filter(occurred_at__gte=_start_of(self.since))
        if self.until and self.until < dt.date.max:
            queryset = queryset.filter(occurred_at__lt=_start_of(self.until + dt.timedelta(days=1)))
        if self.request_id:
            queryset = queryset.filter(request_id=self.request_id)
        return search.matching(queryset, self.text)

    def as_params(self) -> dict[str, str]:
        """The non-empty filters as query-string parameters (for page and export links)."""
        params = {
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "q": self.text,
            "ref": self.request_id,
        }
        return {key: value for key, value in params.items() if value}

    def describe(self) -> str:
        """A short human description for audit events, e.g. ``action=billing, since=2026-01-01``."""
        return ", ".join(f"{key}={value}" for key, value in self.as_params().items()) or "no filter"


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def log_events(organization: Organization | None) -> QuerySet[AuditEvent]:
    """Every event of one log: ``organization``'s, or the platform log for None."""
    return AuditEvent.objects.filter(organization=organization)


# --- cursors -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in one log: the key ``(occurred_at, seq)`` of an event and which way to read from it
    (``older``: the events after it in newest-first order; ``newer``: the ones before it)."""

    occurred_at: dt.datetime
    seq: int
    direction: str = "older"

    @classmethod
    def after(cls, event: AuditEvent, direction: str) -> Cursor:
        """The position of ``event``, reading ``direction`` ("older" or "newer") from it."""
        return cls(event.occurred_at, event.seq, direction)

    def sign(self, organization: Organization | None) -> str:
        """An opaque token for page links, signed (HMAC with SECRET_KEY) and bound to this one log."""
        payload = [self.direction[0], self.occurred_at.astimezone(dt.UTC).isoformat(), self.seq]
        return signing.dumps(payload, salt=_salt(organization))

    @classmethod
    def load(cls, token: str, organization: Organization | None) -> Cursor:
        """Read a token made by ``sign`` for the same log; raises InvalidCursor for anything else."""
        try:
            direction, occurred_at, seq = signing.loads(token, salt=_salt(organization))
            return cls(dt.datetime.fromisoformat(occurred_at), int(seq), {"o": "older", "n": "newer"}[direction])
        except (signing.BadSignature, ValueError, TypeError, KeyError) as exc:
            raise InvalidCursor(InvalidCursor.message) from exc


def _salt(organization: Organization | None) -> str:
    # The log's scope is part of the signing key: a cursor from another organization fails the signature.
    return f"{_CURSOR_SALT}:{AuditChain.scope_for(organization)}"


# --- pages ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of events, newest first, with signed cursors to the older and newer pages (or None)."""

    events: list[AuditEvent]
    older: str | None
    newer: str | None


def _older_than(queryset: QuerySet[AuditEvent], occurred_at: dt.datetime, seq: int) -> QuerySet[AuditEvent]:
    # `occurred_at <= t` is the index range; the OR only drops the few rows that share the instant.
    return queryset.filter(occurred_at__lte=occurred_at).filter(Q(occurred_at__lt=occurred_at) | Q(seq__lt=seq))


def _newer_than(queryset: QuerySet[AuditEvent], occurred_at: dt.datetime, seq: int) -> QuerySet[AuditEvent]:
    return queryset.filter(occurred_at__gte=occurred_at).filter(Q(occurred_at__gt=occurred_at) | Q(seq__gt=seq))


def newest_first(queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """The log's display order: newest first by (occurred_at, seq), the keyset of every page and batch."""
    return queryset.order_by("-occurred_at", "-seq")


def page_of(
    queryset: QuerySet[AuditEvent],
    organization: Organization | None,
    cursor: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """The page of ``queryset`` (one log, filtered) that ``cursor`` points to, or the newest page.

    One query of at most ``size + 1`` rows (the extra row tells whether another page exists).
    """
    if cursor is None or cursor.direction == "older":
        if cursor is not None:
            queryset = _older_than(queryset, cursor.occurred_at, cursor.seq)
        rows = list(newest_first(queryset)[: size + 1])
        shown = rows[:size]
        older = Cursor.after(shown[-1], "older").sign(organization) if len(rows) > size else None
        newer = Cursor.after(shown[0], "newer").sign(organization) if cursor is not None and shown else None
        return Page(shown, older, newer)
    rows = list(_newer_than(queryset, cursor.occurred_at, cursor.seq).order_by("occurred_at", "seq")[: size + 1])
    shown = list(reversed(rows[:size]))
    newer = Cursor.after(shown[0], "newer").sign(organization) if len(rows) > size else None
    older = Cursor.after(shown[-1], "older").sign(organization) if shown else None
    return Page(shown, older, newer)


def iterate_batches(queryset: QuerySet[Any], batch_size: int = EXPORT_BATCH_SIZE) -> Iterator[list[Any]]:
    """``queryset`` (events, or ``.values()`` dicts that include occurred_at and seq), newest first, in
    lists of at most ``batch_size``: one keyset query per batch, so memory stays constant however long
    the log is. Events recorded after the first batch was read are not included."""
    batch = list(newest_first(queryset)[:batch_size])
    while batch:
        yield batch
        last = batch[-1]
        occurred_at, seq = (
            (last["occurred_at"], last["seq"]) if isinstance(last, dict) else (last.occurred_at, last.seq)
        )
        batch = list(newest_first(_older_than(queryset, occurred_at, seq))[:batch_size])


def iterate(queryset: QuerySet[AuditEvent], batch_size: int = EXPORT_BATCH_SIZE) -> Iterator[AuditEvent]:
    """Every event of ``queryset``, newest first, read in keyset batches (see ``iterate_batches``)."""
    for batch in iterate_batches(queryset, batch_size):
        yield from batch
