"""Versions of saved settings, so a form saved over a change made meanwhile is refused (optimistic concurrency).

A settings object is described by its saved values, a flat mapping of field name to JSON value (e.g. the key
policy's ``{"require_expiry": True, "max_lifetime_days": 90, "allow_unrestricted": False}``).

- ``version_of(values)`` is a short hash of them: the same values give the same version on every server. It is
  meant as the strong ETag of the admin API (RFC 9110 section 8.8.3), compared with ``If-Match``.
- A settings form carries ``loaded_stamp(values)`` in the hidden field ``VERSION_FIELD``: the values it was loaded
  with, signed (``django.core.signing``), so that a refusal can say what changed, not only that something did.
- ``refuse_if_changed(data, current, labels)`` raises ``ChangedMeanwhile`` (409) when the submitted stamp's values
  differ from ``current``. A submission without the field (a program, an old page) is not checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core import signing
from django.forms.utils import pretty_name

from orgsecurity.actions import ActionRefused

VERSION_FIELD = "loaded_version"
_SALT = "orgsecurity.versions"


def _canonical(values: Mapping[str, Any]) -> str:
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":"), default=str)


def version_of(values: Mapping[str, Any]) -> str:
    """A 16-hex-digit version of ``values`` (SHA-256 of their canonical JSON); equal values, equal versions."""
    return hashlib.sha256(_canonical(values).encode()).hexdigest()[:16]


def loaded_stamp(values: Mapping[str, Any]) -> str:
    """The hidden-field value for a form loaded with ``values``: the values, signed (URL-safe text)."""
    return signing.dumps(json.loads(_canonical(values)), salt=_SALT, compress=True)


class ChangedMeanwhile(ActionRefused):
    """The settings changed since the form was loaded; ``changes`` maps a label to (value then, value now)."""

    def __init__(self, changes: dict[str, tuple[Any, Any]]) -> None:
        self.changes = changes
        if changes:
            listed = "; ".join(f"{label}: {_shown(then)} → {_shown(now)}" for label, (then, now) in changes.items())
            detail = f" What changed: {listed}."
        else:
            detail = ""
        super().__init__(
            "These settings were changed since you opened this page, so nothing was saved."
            f"{detail} The page now shows the saved settings; make your change again.",
            code="changed_since_loaded",
            status=409,
        )


def form_labels(form_class: type[forms.BaseForm]) -> dict[str, str]:
    """The labels of ``form_class``'s fields by name, as the form shows them (for ``refuse_if_changed``)."""
    return {name: str(field.label or pretty_name(name)) for name, field in form_class.base_fields.items()}


def _shown(value: Any) -> str:
    if value is True:
        return "on"
    if value is False:
        return "off"
    if value is None or value == "":
        return "(none)"
    return str(value)


def refuse_if_changed(
    data: Mapping[str, Any], current: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> None:
    """Raise ``ChangedMeanwhile`` when ``data[VERSION_FIELD]`` (a ``loaded_stamp``) holds values other than
    ``current``; do nothing when the field is absent or empty. ``labels`` name the fields for people (the field
    name is used otherwise). A stamp that does not verify is treated as changed, listing nothing."""
    stamp = data.get(VERSION_FIELD) or ""
    if not stamp:
        return
    try:
        then = signing.loads(stamp, salt=_SALT)
    except signing.BadSignature as exc:
        raise ChangedMeanwhile({}) from exc
    now = json.loads(_canonical(current))
    if not isinstance(then, dict):
        raise ChangedMeanwhile({})
    if then == now:
        return
    labels = labels or {}
    changes = {
        labels.get(name, name): (then.get(name), now.get(name))
        for name in sorted(set(then) | set(now))
        if then.get(name) != now.get(name)
    }
    raise ChangedMeanwhile(changes)
