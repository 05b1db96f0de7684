"""Act on a validated, browser-bound IdP answer according to its pending login's purpose: one module per
purpose (``login``, ``link``, ``testing``, ``reauthentication``), each returning an ``Outcome``."""

from __future__ import annotations

import logging

from django.http import HttpRequest

from sso.assertion import AssertedIdentity, map_profile, mfa_evidence, mfa_satisfied
from sso.errors import SSOSignInRefused
from sso.models import SSOConnection, SSOPendingLogin
from sso.setup_links.completion import complete_setup_link_test, is_setup_link_test
from sso.signin.answer import Outcome
from sso.signin.link import complete_link
from sso.signin.login import complete_login
from sso.signin.reauthentication import complete_reauthentication
from sso.signin.testing import complete_test

logger = logging.getLogger(__name__)


def complete(request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity) -> Outcome:
    """Act on a validated, browser-bound IdP answer according to the pending login's purpose.

    Raises ``sso.errors.SSOSignInRefused`` (nothing changed) when the answer cannot be used: e.g. the identity
    is not linked and cannot be provisioned, is linked to someone else, the person is no longer a member, or a
    re-authentication did not come from the same person with a fresh login.
    """
    connection = pending.connection
    profile = map_profile(identity, connection.attribute_map)
    if identity.groups_not_sent:
        logger.warning("Connection %s: the IdP did not send groups (%s)", connection.pk, identity.groups_not_sent)
    if is_setup_link_test(pending):
        return complete_setup_link_test(request, pending, identity, profile)
    if pending.purpose == SSOPendingLogin.Purpose.TEST:
        return complete_test(request, pending, identity, profile)
    require_idp_mfa(connection, identity)
    if pending.purpose == SSOPendingLogin.Purpose.LINK:
        return complete_link(request, pending, identity)
    if pending.purpose == SSOPendingLogin.Purpose.REAUTH:
        return complete_reauthentication(request, pending, identity)
    return complete_login(request, pending, identity, profile)


def require_idp_mfa(connection: SSOConnection, identity: AssertedIdentity) -> None:
    """With "require MFA at the IdP" on, refuse (``idp_mfa_missing``, 403) an answer that carries none of the
    connection's accepted values (``sso.assertion.mfa_satisfied``): the person must sign in at the IdP again with
    multi-factor authentication."""
    if not connection.require_idp_mfa:
        return
    if mfa_satisfied(identity, accepted=list(connection.idp_mfa_values), attribute=connection.idp_mfa_attribute):
        return
    got = ", ".join(mfa_evidence(identity, connection.idp_mfa_attribute)[:5]) or "nothing"
    raise SSOSignInRefused(
        f"{connection.organization.name} requires multi-factor authentication at your identity provider, and this "
        f"sign-in did not use it (the IdP reported: {got}). Sign in again and complete the IdP's second step; if it "
        "never asks for one, ask your IdP administrator to require MFA for this application.",
        code="idp_mfa_missing",
        status=403,
    )
