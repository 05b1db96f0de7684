"""Deciding what an SSO sign-in answer does, before anything is done (in the manner of authentik's source flow
manager): ``decide`` is a pure function from a ``Situation`` (what the IdP asserted and what is stored: the link,
the account with the asserted email and its role here, the connection's status and JIT rule) to a ``Decision``:

- ``SIGN_IN``: the identity is linked; sign its person in.
- ``LINK``: nobody is linked, but the account with the asserted email may be linked by verified email alone (it is a
  member here in one of ``EMAIL_LINKABLE_ROLES``, the IdP vouches for the email, and its domain is verified by this
  organization), or the IdP's directory provisioned it for this identity (``provisioned``, same roles); link it,
  then sign it in.
- ``ENROLL``: nobody has the asserted email; create the account and membership (JIT provisioning), link, sign in.
- ``DENY``: refuse, for the ``reason`` given (a stable refusal code, e.g. ``not_linked_privileged``).

``sso.signin.login`` gathers the situation, calls ``decide`` and runs one handler per action.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from orgsecurity.roles import Capability, Role, has_capability, roles_assignable_by
from sso.models import SSOConnection
from sso.protocols import SIGN_IN_STATUSES

# Roles whose accounts an SSO answer may link by verified email alone. Whoever configures a connection (owners and
# admins) controls what its IdP asserts, so an answer must not hand them an account that they could not already
# act for: never an owner (only owners grant owner), and never a fellow SSO manager. Those link themselves while
# signed in ("Link SSO" or the connection test), proving who they are first.
EMAIL_LINKABLE_ROLES = frozenset(
    role for role in roles_assignable_by(Role.ADMIN) if not has_capability(role, Capability.MANAGE_SECURITY)
)


class Action(enum.Enum):
    """What to do with an SSO sign-in answer (see the module docstring)."""

    LINK = "link"
    SIGN_IN = "sign_in"
    ENROLL = "enroll"
    DENY = "deny"


@dataclass(frozen=True)
class Situation:
    """What ``decide`` decides from: the answer and the stored state it names.

    - ``status``, ``allow_jit``: the connection's status (``SSOConnection.Status``) and JIT rule.
    - ``email``, ``email_verified``: the mapped email ("" when none) and whether the IdP vouches for it.
    - ``verified_domain``: the email is in a domain this organization verified (False without an email).
    - ``linked``: the identity is linked to an account at this connection (the account below is that one).
    - ``account``: a person's account is known (the linked one, else the one whose email is ``email``).
    - ``active``: that account is active; ``role``: its role in this organization (None: not a member).
    - ``provisioned``: the account is the one the IdP's directory provisioned for this identity (SCIM
      ``externalId`` matched: ``sso.signin.provisioned``); it is linked on first sign-in unless it is an owner's or
      an admin's.
    - ``may_sign_in``: the connection's status lets that account sign in (on or enforced; while testing, it is in
      the test group or is signing in again right after its own test session timed out).
    """

    status: str
    allow_jit: bool
    email: str
    email_verified: bool
    verified_domain: bool
    linked: bool
    account: bool
    active: bool = True
    role: str | None = None
    may_sign_in: bool = True
    provisioned: bool = False


@dataclass(frozen=True)
class Decision:
    """The ``action`` to take and why: ``reason`` is a refusal code for ``DENY`` and says how the account was
    found otherwise ("linked", "verified domain", "jit")."""

    action: Action
    reason: str


def decide(situation: Situation) -> Decision:
    """What to do with an SSO sign-in answer in ``situation``; a pure function (no database, no request).

    Refusals come in this order: the connection is off (``sso_off``); an unlinked account with the email that may
    not be linked by email (``not_linked_privileged`` for owners and admins, else ``not_linked``); no account and
    no JIT (``no_jit``, ``no_email``, ``no_jit_domain``, ``no_jit_testing``); then, for the account to sign in,
    ``inactive``, ``not_member`` and ``not_in_test_group``.
    """
    s = situation
    if s.status not in SIGN_IN_STATUSES:
        return Decision(Action.DENY, "sso_off")
    if s.linked:
        return _admit(s, Decision(Action.SIGN_IN, "linked"))
    if s.account:
        if s.provisioned and s.role in EMAIL_LINKABLE_ROLES:
            return _admit(s, Decision(Action.LINK, "directory"))
        if s.email_verified and s.verified_domain and s.role in EMAIL_LINKABLE_ROLES:
            return _admit(s, Decision(Action.LINK, "verified domain"))
        if s.role in {Role.OWNER, Role.ADMIN}:
            return Decision(Action.DENY, "not_linked_privileged")
        return Decision(Action.DENY, "not_linked")
    if not s.allow_jit:
        return Decision(Action.DENY, "no_jit")
    if not s.email or not s.email_verified:
        return Decision(Action.DENY, "no_email")
    if not s.verified_domain:
        return Decision(Action.DENY, "no_jit_domain")
    if s.status == SSOConnection.Status.TESTING:
        return Decision(Action.DENY, "no_jit_testing")
    return Decision(Action.ENROLL, "jit")


def _admit(s: Situation, decision: Decision) -> Decision:
    """``decision`` when the account may sign in here; otherwise the refusal that says why not."""
    if not s.active:
        return Decision(Action.DENY, "inactive")
    if s.role is None:
        return Decision(Action.DENY, "not_member")
    if not s.may_sign_in:
        return Decision(Action.DENY, "not_in_test_group")
    return decision
