"""The API keys section of the support console (registered in ``keys.apps``): an organization's key policy and
keys, read-only, and the console's search by key prefix. Never a secret: keys appear by their public prefix."""

from __future__ import annotations

from django.utils import timezone

from audit.support import SearchHit
from keys.models import APIKey, KeyPolicy
from keys.tokens import KEY_ID_LENGTH, PREFIX
from orgsecurity.models import Organization

SHOWN_KEYS = 50


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"


def describe(key: APIKey) -> str:
    """One line about ``key`` for support: state, permission, owner, expiry and last use."""
    now = timezone.now()
    if key.revoked_at is not None:
        state = f"revoked {_when(key.revoked_at)}"
    elif key.is_expired(now):
        state = f"expired {_when(key.expires_at)}"
    else:
        state = "active" + (f", expires {_when(key.expires_at)}" if key.expires_at else ", no expiry")
    flagged = f" · flagged for review: {key.flagged_reason}" if key.flagged_at else ""
    return (
        f"{state} · {key.get_permission_display()} · owner {key.owner_label or '(deleted account)'} · "
        f"last used {_when(key.last_used_at)}{flagged}"
    )


def settings_rows(organization: Organization) -> list[tuple[str, str]]:
    """The key policy, then the organization's keys not revoked (newest first, at most ``SHOWN_KEYS``)."""
    policy = KeyPolicy.for_organization(organization)
    rows = [
        ("Expiry", "required" if policy.require_expiry or policy.max_lifetime_days else "optional"),
        ("Maximum lifetime", f"{policy.max_lifetime_days} days" if policy.max_lifetime_days else "none"),
        ("Unrestricted keys", "allowed" if policy.allow_unrestricted else "not allowed"),
    ]
    keys = list(
        APIKey.objects.filter(organization=organization, revoked_at=None).order_by("-created_at")[: SHOWN_KEYS + 1]
    )
    rows += [(f"{key.prefix} ({key.name})", describe(key)) for key in keys[:SHOWN_KEYS]]
    if not keys:
        rows.append(("Keys", "none"))
    elif len(keys) > SHOWN_KEYS:
        rows.append(("…", f"only the newest {SHOWN_KEYS} keys are listed"))
    return rows


def search(query: str) -> list[SearchHit]:
    """Keys whose prefix starts with ``query`` (``osk_`` and at least 4 characters of the key ID); a whole token
    pasted by mistake finds its key by the key ID alone."""
    if not query.startswith(PREFIX) or len(query) < len(PREFIX) + 4:
        return []
    key_id = query[len(PREFIX) : len(PREFIX) + KEY_ID_LENGTH]
    found = APIKey.objects.filter(key_id__startswith=key_id).select_related("organization").order_by("key_id")
    return [SearchHit("API key", f"{key.prefix} ({key.name})", key.organization, describe(key)) for key in found[:50]]
