"""One-line status of this security theme for the organization dashboard."""

from orgsecurity.accessors import OrgContext
from sessions_policy.models import SessionPolicy
from sessions_policy.rules import SessionRules, format_duration


def status(org: OrgContext) -> str:
    """What the dashboard says about session rules for ``org``, e.g. "Signed out after 30 minutes idle or
    12 hours; re-authentication after 15 minutes; one session per member" (prefixed "Defaults: " when the
    organization has not saved a policy)."""
    policy = SessionPolicy.objects.filter(organization=org.organization).first()
    rules = policy.to_rules() if policy is not None else SessionRules.defaults()
    idle, absolute = format_duration(rules.idle_timeout_s), format_duration(rules.absolute_timeout_s)
    text = (
        f"Signed out after {idle} idle or {absolute}; re-authentication after {format_duration(rules.reauth_max_age_s)}"
    )
    if rules.single_session:
        text += "; one session per member"
    return text if policy is not None else f"Defaults: {text}"
