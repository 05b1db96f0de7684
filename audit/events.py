"""The audit event registry: every action has a stable dotted name, a human sentence and a category.

Apps register their events in ``<app>/audit_events.py``, which each app imports in its own ``AppConfig.ready()``.
Registering a name twice raises at start-up; recording a name that was never registered raises too.
The idea follows Sentry's audit log registry (stable names, human templates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# "audit" is for reading the log itself (exports); "support" for platform staff looking at an organization.
CATEGORIES = ("member", "key", "billing", "policy", "sso", "session", "auth", "support", "audit")

# The theme each category is shown under in the viewer's action list (one per category, in CATEGORIES order).
CATEGORY_TITLES = {
    "member": "Members and invitations",
    "key": "API keys",
    "billing": "Billing",
    "policy": "Security policies",
    "sso": "Single sign-on",
    "session": "Sessions",
    "auth": "Sign-in",
    "support": "Platform support",
    "audit": "Audit log",
}

# How the first part of an action name reads at the start of its label (others are capitalised as they are).
_PREFIX_WORDS = {
    "sso": "SSO",
    "key": "API key",
    "org": "Organization",
    "auth": "",
    "allowlist": "IP allowlist",
    "scim": "SCIM",
    "twofactor": "Two-factor",
    "audit_stream": "Audit stream",
}
_WORDS = {
    "sso": "SSO",
    "api": "API",
    "ip": "IP",
    "scim": "SCIM",
    "idp": "IdP",
    "mfa": "MFA",
    "totp": "TOTP",
    "reauthenticated": "re-authenticated",
    "reconfirmed": "re-confirmed",
}


class DuplicateAuditEvent(ImproperlyConfigured):
    """Two modules registered the same audit action name."""


class UnknownAuditAction(LookupError):
    """An action name that no module registered."""


@dataclass(frozen=True)
class EventType:
    """One registered audit action.

    ``template`` is a sentence with ``{placeholders}``: ``actor`` and ``target`` (labels), every key
    of the event's ``changes`` (its new value) and ``<key>_old`` (its old value), and every key of
    ``details``. Missing values render as an ellipsis rather than failing.
    """

    name: str
    template: str
    category: str

    @property
    def label(self) -> str:
        """The action's human name, derived from its dotted name: ``sso.enforcement_scheduled`` reads "SSO
        enforcement scheduled", ``auth.signed_in`` "Signed in", ``key.rotated`` "API key rotated"."""
        prefix, _, rest = self.name.partition(".")
        rest_words = [_WORDS.get(word, word) for word in rest.split("_")]
        words = " ".join(part for part in (_PREFIX_WORDS.get(prefix, prefix), *rest_words) if part)
        return words[:1].upper() + words[1:]

    def render(self, *, actor: str, target: str, changes: Mapping[str, Any], details: Mapping[str, Any]) -> str:
        values: dict[str, Any] = {"actor": actor or "Someone", "target": target or "…"}
        for key, value in (details or {}).items():
            values[key] = _text(value)
        for key, pair in (changes or {}).items():
            if isinstance(pair, list | tuple) and len(pair) == 2:
                values[f"{key}_old"], values[key] = _text(pair[0]), _text(pair[1])
        # format_map looks names up in the mapping (C speed: exports render a sentence per row).
        return self.template.format_map(_Lenient(values))


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "…"


def _text(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value) or "(none)"
    return str(value)


_REGISTRY: dict[str, EventType] = {}


def register(name: str, template: str, category: str) -> EventType:
    """Register an audit action. Raises DuplicateAuditEvent for a name already taken and
    ImproperlyConfigured for a category outside CATEGORIES or a name without a dot."""
    if name in _REGISTRY:
        raise DuplicateAuditEvent(f"Audit action {name!r} is registered twice.")
    if category not in CATEGORIES:
        raise ImproperlyConfigured(f"Audit action {name!r} has unknown category {category!r}.")
    if "." not in name or name != name.strip().lower():
        raise ImproperlyConfigured(f"Audit action {name!r} must be a lower-case dotted name like 'sso.enforced'.")
    event_type = EventType(name=name, template=template, category=category)
    _REGISTRY[name] = event_type
    return event_type


def get(name: str) -> EventType:
    """Return the registered EventType for ``name``; raises UnknownAuditAction."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownAuditAction(
            f"Audit action {name!r} is not registered; add it to an audit_events module."
        ) from None


def all_events() -> list[EventType]:
    """Every registered action, sorted by name."""
    return sorted(_REGISTRY.values(), key=lambda event: event.name)


def label_for(action: str) -> str:
    """The human name of ``action`` (``EventType.label``); an action no longer registered reads as its raw name."""
    event_type = _REGISTRY.get(action)
    return event_type.label if event_type is not None else action


def grouped_by_category() -> list[tuple[str, str, list[EventType]]]:
    """Every registered action grouped by theme: ``(category, title, events sorted by label)`` in CATEGORIES
    order, categories without a registered action left out."""
    groups = []
    for category in CATEGORIES:
        members = sorted((event for event in _REGISTRY.values() if event.category == category), key=lambda e: e.label)
        if members:
            groups.append((category, CATEGORY_TITLES.get(category, category.title()), members))
    return groups


def sentence_for(
    action: str, *, actor: str, target: str, changes: Mapping[str, Any], details: Mapping[str, Any]
) -> str:
    """The human sentence of a recorded event; an action no longer registered shows its raw name."""
    event_type = _REGISTRY.get(action)
    if event_type is None:
        return f"{actor or 'Someone'}: {action}"
    return event_type.render(actor=actor, target=target, changes=changes, details=details)
