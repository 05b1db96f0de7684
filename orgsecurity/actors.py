"""Non-human actors: programs that act on an organization with a role's rights (e.g. a SCIM provisioning token).

A ``ProgramActor`` is passed as ``actor=`` to the member actions (``orgsecurity.actions.change_role``,
``remove_member``, the team actions and ``orgsecurity.lifecycle``): they judge it by ``acts_as`` instead of a
membership, and ``audit`` records it as the actor (type, id, label) as it was at the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orgsecurity.roles import Role


@dataclass(frozen=True)
class ProgramActor:
    """A program acting on one organization: ``type`` an audit actor type (e.g. ``"scim_token"``), ``id`` its
    stable id (text), ``label`` what people read in the audit log (e.g. the token's prefix), ``acts_as`` the role
    whose rights it has (a ``Role`` value; a SCIM token acts as ``Role.ADMIN``, so it never grants, demotes,
    suspends or removes an owner). It has no user: ``pk`` is None, so it is never "the member leaving"."""

    type: str
    id: str
    label: str
    acts_as: str = Role.ADMIN

    pk = None  # not a user: comparisons with a membership's user_id never match

    def __post_init__(self) -> None:
        if self.acts_as not in Role.values:
            raise ValueError(f"ProgramActor.acts_as must be a role, not {self.acts_as!r}.")

    @property
    def email(self) -> str:
        """What messages that name the actor by email show."""
        return self.label

    def __str__(self) -> str:
        return self.label


def is_program(actor: Any) -> bool:
    """Whether ``actor`` is a ``ProgramActor`` (judged by ``acts_as``, not by a membership)."""
    return isinstance(actor, ProgramActor)
