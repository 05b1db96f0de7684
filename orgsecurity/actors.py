"""Non-human actors: programs that act on an organization with a role's rights instead of a signed-in person.

One type, ``ProgramActor``, for every program: a SCIM provisioning token (``scim.provisioning.actor_for``) and an admin
API key (``adminapi.core.delegated``: a person's key with its owner's current role, or a service account's key as
admin). It is passed as ``actor=`` to the action functions: they judge it by its ``role`` exactly as they judge a member
with that role (``orgsecurity.actions.actor_role``), and ``audit`` records it as the actor (type, id, label) as it was
at the time. An identity provider's provisioning (``provisioning=True``) is held back further: owners and named
recovery accounts are never its to change (``orgsecurity.actions.refuse_program_touching_owner``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orgsecurity.roles import Role


@dataclass(frozen=True)
class ProgramActor:
    """A program acting on one organization.

    - ``type``, ``id``, ``label``: how ``audit`` records it: an ``audit.models.ActorType`` value (``"scim_token"``,
      ``"api_key"``), its stable id (text), what people read in the audit log (``scim_ab12cd``, ``API key osk_…``).
    - ``role``: the ``Role`` value whose rights it has (a SCIM token and a service account's key act as admin, a
      personal API key with its owner's current role).
    - ``user_id``: the person behind it (a personal API key's owner), None when there is none (a service account's
      key, a SCIM token). It is also the actor's ``pk``, so "is the actor this member?" reads as for a user; with
      None it is never "the member leaving".
    - ``provisioning``: an identity provider's provisioning (a SCIM token). Whatever its role, it never grants,
      demotes, suspends or removes an owner (409 ``owner_protected``) and never demotes or removes a named recovery
      account (409 ``recovery_account``): owners manage those in the dashboard.

    Raises ValueError for a ``role`` that is not a ``Role`` value.
    """

    type: str
    id: str
    label: str
    role: str
    user_id: int | None = None
    provisioning: bool = False

    def __post_init__(self) -> None:
        if self.role not in Role.values:
            raise ValueError(f"ProgramActor.role must be a role, not {self.role!r}.")

    @property
    def pk(self) -> int | None:
        """The person behind it (``user_id``), so comparisons with a membership's ``user_id`` read as for a user."""
        return self.user_id

    @property
    def email(self) -> str:
        """What messages that name the actor by email show."""
        return self.label

    def __str__(self) -> str:
        return self.label


def is_program(actor: Any) -> bool:
    """Whether ``actor`` is a ``ProgramActor`` (judged by its ``role``, not by a membership)."""
    return isinstance(actor, ProgramActor)


def is_provisioning(actor: Any) -> bool:
    """Whether ``actor`` is an identity provider's provisioning (a ``ProgramActor`` with ``provisioning``), which
    never changes owners or named recovery accounts."""
    return isinstance(actor, ProgramActor) and actor.provisioning
