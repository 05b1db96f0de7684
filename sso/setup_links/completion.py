"""Completing a test sign-in started through an IdP set-up link: record what the IdP sent and how it mapped, and
nothing else (no account is linked, nobody is signed in); a pass is shown to the owners and emailed to them."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from audit.locking import audited
from orgsecurity.actions import ActionRefused
from sso.assertion import AssertedIdentity, MappedProfile
from sso.connections import actions as sso_actions
from sso.models import SSOPendingLogin
from sso.setup_links import actions
from sso.signin.answer import Outcome, refuse
from sso.signin.testing import test_details

NOTE = (
    "Nothing was linked and nobody was signed in: a test through a set-up link only checks what the IdP sends. "
    "An owner or admin of the organization still tests before SSO is turned on."
)


def is_setup_link_test(pending: SSOPendingLogin) -> bool:
    """Whether ``pending`` is a test sign-in started through a set-up link."""
    return (
        pending.purpose == SSOPendingLogin.Purpose.TEST
        and pending.test_run is not None
        and pending.test_run.setup_link_id is not None
    )


@audited("pending.connection", attempts=1)
def complete_setup_link_test(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, profile: MappedProfile
) -> Outcome:
    """Record the IdP's validated answer on the link's test run (success), note the pass on the link and email the
    owners once it commits. Raises ``sso.errors.SSOSignInRefused`` when the link was revoked or expired meanwhile,
    or its maker no longer manages the organization (``actions.usable_link``; the run is then finished as failed
    by the caller)."""
    run = pending.test_run
    if run.setup_link is None:
        raise refuse("This set-up link was revoked or has expired. Ask the organization for a new link.", "link_gone")
    try:
        link = actions.usable_link(run.setup_link)
    except ActionRefused as exc:
        raise refuse(exc.message, exc.code, exc.status) from exc
    details = test_details(identity, profile)
    details["link"] = NOTE
    with transaction.atomic():
        sso_actions.finish_test_run(run, actor=actions.link_actor(link), success=True, details=details)
        actions.test_passed(run)
    return Outcome("tested", sso_actions.tester_result_url(run), test_run=run)
