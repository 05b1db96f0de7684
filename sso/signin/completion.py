"""Act on a validated, browser-bound IdP answer according to its pending login's purpose: one module per
purpose (``login``, ``link``, ``testing``, ``reauthentication``), each returning an ``Outcome``."""

from __future__ import annotations

import logging

from django.http import HttpRequest

from sso.assertion import AssertedIdentity, map_profile
from sso.models import SSOPendingLogin
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
    if pending.purpose == SSOPendingLogin.Purpose.LINK:
        return complete_link(request, pending, identity)
    if pending.purpose == SSOPendingLogin.Purpose.REAUTH:
        return complete_reauthentication(request, pending, identity)
    return complete_login(request, pending, identity, profile)
