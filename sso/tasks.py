"""SSO's periodic jobs on the worker (``orgsecurity.jobs``; README "Operations").

- ``sso.apply_due_enforcements`` (every minute): decide each scheduled enforcement whose date has come
  (``sso.rollout.scheduling.apply_due_enforcements``: enforce, or postpone with the reasons; audited, emailed).
  No request path does this: until the worker decides, the stored status applies and the banner says the
  enforcement is pending.
- ``sso.purge_expired`` (every 5 minutes): pending logins that can no longer be used
  (``sso.signin.flow.purge_expired_pending_logins``), held links past ``sso.signin.linking.KEEP_RESOLVED`` and
  SAML replay records past their expiry.
- ``sso.certificate_expiry_notices`` (hourly): SAML certificates (IdP signing, our SP) expiring within 30, 14, 7 and
  1 days are emailed to the connection's admin owner and the organization's owners, once per threshold
  (``sso.saml.expiry``).
- ``sso.refresh_metadata`` (hourly; each connection once a day): connections imported from a metadata URL fetch it
  again (conditional GET, the SSRF rules) and apply what changed through the action functions (``sso.saml.refresh``).
"""

from __future__ import annotations

from datetime import datetime

from orgsecurity.jobs import crontab, periodic
from sso.models import SAMLConsumedAssertion, SSOPendingLink
from sso.rollout.scheduling import apply_due_enforcements
from sso.saml.expiry import send_due_notices
from sso.saml.refresh import refresh_all
from sso.signin.flow import purge_expired_pending_logins
from sso.signin.linking import KEEP_RESOLVED


@periodic("sso.apply_due_enforcements", crontab(), every="every minute")
def apply_due(now: datetime) -> str:
    """Enforce (or postpone, with the reasons) each scheduled SSO enforcement whose date has come."""
    decided = apply_due_enforcements(now)
    enforced = sum(connection.status == connection.Status.ENFORCED for connection in decided)
    return f"{enforced} enforced, {len(decided) - enforced} postponed"


def purge_expired_sign_in_state(now: datetime) -> dict[str, int]:
    """Delete SSO rows past use as of ``now`` (UTC): pending logins, held links, SAML replay records. Returns how
    many of each went. Idempotent."""
    links, _ = SSOPendingLink.objects.filter(expires_at__lt=now - KEEP_RESOLVED).delete()
    assertions, _ = SAMLConsumedAssertion.objects.filter(expires_at__lt=now).delete()
    return {"pending_logins": purge_expired_pending_logins(now), "held_links": links, "replay_records": assertions}


@periodic("sso.purge_expired", crontab(minute="*/5"), every="every 5 minutes")
def purge_expired(now: datetime) -> str:
    """Delete expired SSO pending logins, held links and SAML replay records."""
    deleted = purge_expired_sign_in_state(now)
    return ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in deleted.items()) + " deleted"


@periodic("sso.certificate_expiry_notices", crontab(minute="7"), every="hourly, at :07")
def certificate_expiry_notices(now: datetime) -> str:
    """Email SAML certificate expiry notices (IdP signing and SP certificates; 30, 14, 7, 1 days; once each)."""
    return f"{send_due_notices(now)} notices sent"


@periodic("sso.refresh_metadata", crontab(minute="37"), every="hourly at :37; each connection once a day")
def refresh_metadata(now: datetime) -> str:
    """Fetch each SAML connection's metadata URL again and apply added or removed certificates and endpoints."""
    outcomes = refresh_all(now)
    counts = {result: sum(outcome.result == result for outcome in outcomes) for result in ("updated", "failed")}
    return f"{len(outcomes)} refreshed: {counts['updated']} updated, {counts['failed']} failed"
