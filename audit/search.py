"""Searching an audit log by what people read: the actor, the target, the action's name and sentence, and the text
of its changes and details.

``search_text(...)`` is what ``audit.record`` stores in ``AuditEvent.search_text`` when the event is recorded (that
column is not part of the hashed content: it is derived from hashed fields and can be rebuilt). ``matching(queryset,
words)`` narrows a log to the events whose search text matches:

- PostgreSQL: full-text search, ``to_tsvector('english', search_text) @@ websearch_to_tsquery('english', words)``,
  served by the GIN index ``audit_search_idx`` of migration 0004 (English stemming, so "enforce" finds "enforced";
  quoted phrases and ``-word`` work as in a web search box).
- SQLite (local runs and the fast test pass): every word must appear in the search text (case-insensitive
  substring), a plain match with no index.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django.db import connections
from django.db.models import QuerySet

from audit import events

SEARCH_CONFIG = "english"
_SEPARATORS = re.compile(r"[@._:/\-]+")


def _flatten(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def search_text(*, action: str, actor: str, target: str, changes: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """The text an event is found by: its sentence, the action's human name and raw code, the actor's and target's
    labels, and every key and value of ``changes`` and ``details``. Labels are also added with ``@ . _ : / -`` as
    spaces, so "alice" finds ``alice@acme.test`` (PostgreSQL reads an email address as one word)."""
    sentence = events.sentence_for(action, actor=actor, target=target, changes=changes, details=details)
    parts = [sentence, events.label_for(action), action, actor, target]
    for mapping in (changes or {}, details or {}):
        for key, value in mapping.items():
            parts.append(f"{key} {_flatten(value)}")
    text = "\n".join(part for part in parts if part)
    return f"{text}\n{_SEPARATORS.sub(' ', text)}"


def matching(queryset: QuerySet[Any], words: str) -> QuerySet[Any]:
    """``queryset`` (audit events) narrowed to those whose search text matches ``words`` (see the module docstring)."""
    words = words.strip()
    if not words:
        return queryset
    if connections[queryset.db].vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        vector = SearchVector("search_text", config=SEARCH_CONFIG)  # the expression of the GIN index
        query = SearchQuery(words, config=SEARCH_CONFIG, search_type="websearch")
        return queryset.annotate(search_vector=vector).filter(search_vector=query)
    for word in words.split():
        queryset = queryset.filter(search_text__icontains=word.strip('"'))
    return queryset
