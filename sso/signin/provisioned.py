"""Accounts an IdP's directory provisioned (SCIM, issue 16) that a first SSO sign-in may link to.

sso names no provisioning app: one registers a resolver from its ``AppConfig.ready()`` with
``register_provisioned_account_resolver(resolver)``; ``resolver(connection, identity)`` returns the account the
directory provisioned for the person this sign-in answer names (e.g. by comparing the answer's subject or object id
with the directory's ``externalId``), or None. ``sso.signin.login.gather`` asks them only when the identity is not
linked yet; ``sso.signin.decision.decide`` then links it, except for owners and admins, who link themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sso.assertion import AssertedIdentity
from sso.models import SSOConnection

ProvisionedAccountResolver = Callable[[SSOConnection, AssertedIdentity], Any]
_RESOLVERS: list[ProvisionedAccountResolver] = []


def register_provisioned_account_resolver(resolver: ProvisionedAccountResolver) -> None:
    """Add ``resolver`` (see the module docstring); registering the same function twice adds it once."""
    if resolver not in _RESOLVERS:
        _RESOLVERS.append(resolver)


def provisioned_account(connection: SSOConnection, identity: AssertedIdentity) -> Any:
    """The account (a ``User``) the first resolver finds for ``identity`` at ``connection``, or None."""
    for resolver in _RESOLVERS:
        found = resolver(connection, identity)
        if found is not None:
            return found
    return None
