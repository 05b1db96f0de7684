"""Role checks cannot race role changes (PostgreSQL: real connections, real row locks)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from orgsecurity import actions
from orgsecurity.models import Invitation, Membership
from orgsecurity.roles import Role


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_invitation_sent_while_its_sender_is_demoted_does_not_survive(org, owner, admin, monkeypatch):
    checked, go = threading.Event(), threading.Event()
    real_actor_membership = actions._actor_membership

    def actor_membership_then_pause(organization, actor):
        membership = real_actor_membership(organization, actor)
        if actor == admin:  # the inviter's role was read; now the owner demotes them
            checked.set()
            go.wait(timeout=10)
        return membership

    monkeypatch.setattr(actions, "_actor_membership", actor_membership_then_pause)
    errors: list[BaseException] = []

    def run(function) -> None:
        try:
            function()
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    invite = threading.Thread(
        target=run,
        args=(lambda: actions.invite_member(org, actor=admin, email="new@acme.test", role=Role.ADMIN),),
    )
    invite.start()
    assert checked.wait(timeout=10)
    demoted = Membership.objects.get(organization=org, user=admin)
    demote = threading.Thread(target=run, args=(lambda: actions.change_role(demoted, actor=owner, role=Role.MEMBER),))
    demote.start()
    demote.join(timeout=2)  # with the organization locked by the invitation, the demotion waits for it
    go.set()
    invite.join(timeout=30)
    demote.join(timeout=30)
    assert errors == []
    assert Membership.objects.get(pk=demoted.pk).role == Role.MEMBER
    # A member may not invite: whichever committed first, no invitation of theirs is left pending.
    assert not [invitation for invitation in Invitation.objects.filter(invited_by=admin) if invitation.is_pending]
