"""Proof that no lockout is reachable: random sequences of what admins (and time) do to an organization's SSO rollout
never leave it with no owner able to sign in, and every refused step says why.

A hypothesis state machine drives the real action functions: status moves, tests that pass or fail, enforcement now
or scheduled (acknowledging the owners and admins it would lock out, or not; time passes, the lazy scheduled decision
runs), fallback policy changes, members added, removed and re-roled, recovery accounts designated, removed and used,
the IdP certificate expiring or rotated (through the protocol's validation hook), rollback. After every step it
checks the invariant:

    while SSO is enforced, at least one owner can still sign in: through the connection (linked, the connection
    validates, its last finished test passed), as a recovery account with unused codes, or as a confirmed exception.
    (Not enforced: everyone keeps password sign-in.)

EXAMPLES sequences of up to STEPS steps run in CI (derandomized, so a failure reproduces).
"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from orgsecurity import actions as org_actions
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership, User
from orgsecurity.roles import Role
from sso.assertion import AssertedIdentity
from sso.connections import actions
from sso.connections.actions import EnforcementRefused
from sso.errors import SSOSignInRefused
from sso.models import RecoveryAccount, SSOConnection, SSOIdentity, SSOTestPlanItem, SSOTestRun
from sso.protocols import HANDLERS
from sso.recovery import accounts as recovery
from sso.rollout import readiness
from sso.rollout import scheduling as rollout
from sso.rollout.readiness import sign_in_allowed
from tests.helpers.core import make_org, make_user

EXAMPLES = 60  # sequences per CI run
STEPS = 30  # steps per sequence at most
PEOPLE = 5  # person 0 creates the organization as its owner; 1-3 join at the start; 4 is outside; all come and go
STARTING_ROLES = {1: Role.ADMIN, 2: Role.MEMBER, 3: Role.MEMBER}
ROLES = [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.AUDITOR]


class ModelIdP:
    """The protocol handler as far as the rollout sees it: its validation hook reports an expired IdP certificate
    when the machine expires it, and nothing after a rotation."""

    create_url_name = ""

    def __init__(self) -> None:
        self.certificate_expired = False

    def start_login(self, *args, **kwargs):  # pragma: no cover - the machine never starts a browser sign-in
        raise AssertionError("not used by the state machine")

    def validation_problems(self, connection: SSOConnection) -> list[str]:
        return ["The IdP signing certificate expired."] if self.certificate_expired else []


people = st.integers(min_value=0, max_value=PEOPLE - 1)


class RolloutMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.clock = timezone.now()
        self._clock = mock.patch.object(timezone, "now", lambda: self.clock)
        self._clock.start()
        self.idp = ModelIdP()
        self._handlers = mock.patch.dict(HANDLERS, {"saml": self.idp})
        self._handlers.start()
        self.people = [make_user(f"p{index}@acme.test") for index in range(PEOPLE)]
        self.org = make_org("acme", self.people[0])
        for index, role in STARTING_ROLES.items():
            org_actions.add_member(self.org, actor=None, user=self.people[index], role=role, via="machine")
        self.connection = actions.create_connection(
            self.org, actor=self.people[0], protocol="saml", attribute_map={"email": "mail"}
        )
        self.codes: dict[int, list[str]] = {}  # user id → unused recovery codes they hold
        self.refused_steps = 0

    def teardown(self) -> None:
        self._handlers.stop()
        self._clock.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers -------------------------------------------------------------------------------------------

    def membership(self, index: int) -> Membership | None:
        return Membership.objects.filter(organization=self.org, user=self.people[index]).first()

    def manager(self, pick: int) -> User:
        """One of the current owners and admins (the views let only them act); there is always an owner."""
        managers = list(
            Membership.objects.filter(organization=self.org, role__in=readiness.MANAGER_ROLES)
            .order_by("user_id")
            .values_list("user_id", flat=True)
        )
        return User.objects.get(pk=managers[pick % len(managers)])

    def member(self, pick: int) -> Membership:
        """One of the current members, any role."""
        members = list(Membership.objects.filter(organization=self.org).select_related("user").order_by("user_id"))
        return members[pick % len(members)]

    def attempt(self, step, *args, **kwargs):
        """Run one step; a refusal must say why (and an enforcement refusal list each reason)."""
        try:
            return step(*args, **kwargs)
        except EnforcementRefused as exc:
            assert exc.problems and all(problem.message.strip() for problem in exc.problems), exc
        except (ActionRefused, SSOSignInRefused) as exc:
            assert exc.message.strip(), f"{step.__name__} was refused without a reason"
        self.refused_steps += 1
        return None

    def identity_of(self, user: User) -> AssertedIdentity:
        # As their IdP answers: with their own email, so linking needs no confirmation.
        return AssertedIdentity(
            issuer="https://idp.test",
            subject=f"sub-{user.pk}",
            subject_format="persistent",
            attributes={"mail": [user.email]},
        )

    # --- where a sequence starts ----------------------------------------------------------------------------

    @initialize(start=st.sampled_from(["fresh", "ready", "enforced", "scheduled"]))
    def starting_point(self, start):
        """Start from a fresh connection, or one whose checklist is done, already enforced, or scheduled: so most
        sequences spend their steps where a lockout could happen."""
        if start == "fresh":
            return
        self.everything_on_the_checklist(0, then_enforce=start == "enforced")
        if start == "scheduled":
            self.schedule(0, days=1)  # due at the first "time passes"

    # --- what admins do ------------------------------------------------------------------------------------

    @rule(who=people, status=st.sampled_from(["off", "testing", "on"]))
    def move(self, who, status):
        self.attempt(actions.set_status, self.connection, actor=self.manager(who), status=status)

    def lockouts(self, acknowledge: bool) -> list[int]:
        """What the confirmation page lets an admin acknowledge: every owner and admin enforcement would lock out
        (when ``acknowledge``), or nobody."""
        connection = SSOConnection.objects.get(pk=self.connection.pk)
        return [membership.user_id for membership in readiness.locked_out_managers(connection)] if acknowledge else []

    @rule(who=people, acknowledge=st.booleans())
    def enforce(self, who, acknowledge=False):
        """An admin enforces SSO (turning it to testing first if it is off, as the page leads them to), having
        acknowledged on the confirmation page everyone it locks out, or not."""
        actor = self.manager(who)
        if SSOConnection.objects.get(pk=self.connection.pk).status == SSOConnection.Status.OFF:
            self.attempt(actions.set_status, self.connection, actor=actor, status="testing")
        acknowledged = self.lockouts(acknowledge)
        self.attempt(actions.set_status, self.connection, actor=actor, status="enforced", acknowledged=acknowledged)

    @rule(who=people, to=st.sampled_from(["testing", "off"]))
    def roll_back(self, who, to):
        self.attempt(actions.rollback, self.connection, actor=self.manager(who), to=to)

    @rule(who=people, passed=st.booleans())
    def test_sso(self, who, passed):
        """ "Test SSO": a passing test links the admin, as sso.identity does; a failing one shows the error."""
        actor = self.manager(who)
        run = actions.start_test_run(self.connection, actor=actor)
        passed = passed and not self.idp.certificate_expired  # an expired certificate fails every real test
        if passed and not SSOIdentity.objects.filter(connection=self.connection, user=actor).exists():
            self.attempt(actions.link_identity, self.connection, actor, self.identity_of(actor), actor=actor, via="t")
        actions.finish_test_run(run, actor=actor, success=passed, details={}, error="" if passed else "Bad signature.")

    @rule(who=people)
    def signs_in_through_sso(self, who):
        """Someone signs in through the IdP: only when SSO is open to them and the connection validates."""
        membership = self.member(who)
        connection = SSOConnection.objects.get(pk=self.connection.pk)
        if self.idp.certificate_expired or not sign_in_allowed(connection, membership.user):
            return
        user = membership.user
        if not SSOIdentity.objects.filter(connection=connection, user=user).exists():
            self.attempt(actions.link_identity, connection, user, self.identity_of(user), actor=user, via="sign-in")
        SSOIdentity.objects.filter(connection=connection, user=user).update(last_login_at=timezone.now())

    @rule(who=people, in_group=st.booleans())
    def choose_test_group(self, who, in_group):
        members = Membership.objects.filter(organization=self.org).exclude(role__in=readiness.MANAGER_ROLES)
        chosen = list(members) if in_group else []
        self.attempt(rollout.set_test_group, self.connection, actor=self.manager(who), memberships=chosen, teams=[])

    @rule()
    def admin_owner_ticks_the_test_plan(self):
        connection = SSOConnection.objects.select_related("admin_owner").get(pk=self.connection.pk)
        if connection.admin_owner is not None:
            for item in SSOTestPlanItem.Item.values:
                self.attempt(rollout.tick_test_plan_item, connection, item, actor=connection.admin_owner, note="seen")

    @rule(who=people, owner=people)
    def name_admin_owner(self, who, owner):
        admin_owner = self.member(owner).user  # refused unless an owner or admin
        self.attempt(actions.update_connection, self.connection, actor=self.manager(who), admin_owner=admin_owner)

    @rule(who=people)
    def confirm_fallback_policy(self, who):
        self.attempt(rollout.confirm_fallback_policy, self.connection, actor=self.manager(who))

    @rule(who=people, person=people, add=st.booleans())
    def change_exceptions(self, who, person, add):
        actor, membership = self.manager(who), self.member(person)
        if add:
            self.attempt(
                rollout.add_password_exception, self.connection, actor=actor, membership=membership, reason="x"
            )
        elif exception := self.connection.password_exceptions.filter(membership=membership).first():
            self.attempt(rollout.remove_password_exception, exception, actor=actor)

    @rule(who=people, days=st.integers(min_value=1, max_value=10), acknowledge=st.booleans())
    def schedule(self, who, days, acknowledge=True):
        when = timezone.now() + timedelta(days=days)
        actor = self.manager(who)
        self.attempt(
            rollout.schedule_enforcement,
            self.connection,
            actor=actor,
            enforce_at=when,
            support_contact="h@x",
            acknowledged=self.lockouts(acknowledge),
        )

    @rule(days=st.integers(min_value=1, max_value=9))
    def time_passes(self, days):
        self.time_passes_to(self.clock + timedelta(days=days))

    def time_passes_to(self, moment):
        self.clock = moment
        rollout.apply_due_enforcements()  # what the next request or sign-in does
        connection = SSOConnection.objects.get(pk=self.connection.pk)
        if connection.enforcement_postponed_at is not None:
            assert connection.enforcement_postponed_reasons, "a postponement must say why"

    @rule()
    def the_scheduled_date_arrives(self):
        connection = SSOConnection.objects.get(pk=self.connection.pk)
        if connection.enforce_at is not None:
            self.time_passes_to(max(self.clock, connection.enforce_at) + timedelta(minutes=1))

    @rule()
    def certificate_expires(self):
        self.idp.certificate_expired = True

    @rule()
    def certificate_rotated(self):
        self.idp.certificate_expired = False

    # --- members and recovery accounts ---------------------------------------------------------------------

    @rule(person=people, role=st.sampled_from(ROLES))
    def add_member(self, person, role):
        if self.membership(person) is None:  # someone not in the organization joins
            org_actions.add_member(self.org, actor=None, user=self.people[person], role=role, via="machine")

    @rule(who=people, person=people)
    def remove_member(self, who, person):
        self.attempt(org_actions.remove_member, self.member(person), actor=self.manager(who))

    @rule(who=people, person=people, role=st.sampled_from(ROLES))
    def change_role(self, who, person, role):
        self.attempt(org_actions.change_role, self.member(person), actor=self.manager(who), role=role)

    @rule(who=people, person=people)
    def designate_recovery_account(self, who, person):
        self.attempt(recovery.designate, self.org, actor=self.manager(who), membership=self.member(person))

    @rule(pick=people)
    def generate_recovery_codes(self, pick):
        accounts = list(RecoveryAccount.objects.filter(organization=self.org).select_related("membership__user"))
        if accounts:
            account = accounts[pick % len(accounts)]
            user = account.membership.user
            self.codes[user.pk] = recovery.generate_codes(account, actor=user)

    @rule(who=people, pick=people)
    def remove_recovery_account(self, who, pick):
        accounts = list(RecoveryAccount.objects.filter(organization=self.org))
        if accounts:
            self.attempt(recovery.remove, accounts[pick % len(accounts)], actor=self.manager(who))

    @rule(pick=people)
    def recovery_sign_in(self, pick):
        holders = sorted(pk for pk, codes in self.codes.items() if codes)
        if holders:
            user = User.objects.get(pk=holders[pick % len(holders)])
            redeemed = recovery.redeem(user, self.codes[user.pk].pop())
            if redeemed is not None and redeemed.new_codes:
                self.codes[user.pk] = redeemed.new_codes

    @rule(who=people, then_enforce=st.booleans())
    def everything_on_the_checklist(self, who, then_enforce):
        """An admin works through the whole checklist in one go (and maybe enforces), so sequences reach enforcement
        often; the steps themselves are the rules above."""
        actor = self.manager(who)
        self.move(who, "testing")
        self.test_sso(who, True)
        self.attempt(actions.update_connection, self.connection, actor=actor, admin_owner=actor)
        self.admin_owner_ticks_the_test_plan()
        owners = Membership.objects.filter(organization=self.org, role=Role.OWNER).select_related("user")
        for owner in owners:
            if not RecoveryAccount.objects.filter(membership=owner).exists():
                self.attempt(recovery.designate, self.org, actor=owners[0].user, membership=owner)
        for account in RecoveryAccount.objects.filter(organization=self.org).select_related("membership__user"):
            self.codes[account.membership.user_id] = recovery.generate_codes(account, actor=account.membership.user)
        self.choose_test_group(who, True)
        for person in range(PEOPLE):
            self.signs_in_through_sso(person)
        self.confirm_fallback_policy(who)
        if then_enforce:
            self.enforce(who)

    # --- the invariant -------------------------------------------------------------------------------------

    def owner_can_sign_in(self, owner: Membership, connection: SSOConnection) -> bool:
        usable = readiness.usable_recovery_accounts(self.org).filter(membership=owner).exists()
        if usable or readiness.confirmed_exception(connection, owner):
            return True
        last_test = SSOTestRun.objects.filter(connection=connection, finished_at__isnull=False).order_by("-pk").first()
        return (
            not self.idp.certificate_expired
            and last_test is not None
            and last_test.result == SSOTestRun.Result.SUCCESS
            and SSOIdentity.objects.filter(connection=connection, user=owner.user).exists()
        )

    @invariant()
    def an_owner_can_still_sign_in(self):
        connection = SSOConnection.objects.get(pk=self.connection.pk)
        owners = list(Membership.objects.filter(organization=self.org, role=Role.OWNER).select_related("user"))
        assert owners, "the organization has no owner"
        if connection.status != SSOConnection.Status.ENFORCED:
            return  # password sign-in works for everyone
        event("reached: enforced")
        assert any(self.owner_can_sign_in(owner, connection) for owner in owners), "no owner can sign in"


MACHINE_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_no_sequence_of_admin_actions_locks_the_owners_out(db):
    run_state_machine_as_test(RolloutMachine, settings=MACHINE_SETTINGS)


def test_the_machine_finds_a_lockout_when_the_guards_are_off(db, monkeypatch):
    """The proof can fail: with the guards of enforcement switched off, some sequence enforces SSO with no owner
    able to get in, and the invariant says so."""
    monkeypatch.setattr(readiness, "enforcement_problems", lambda connection, **kwargs: [])
    monkeypatch.setattr(rollout, "refuse_unacknowledged_lockouts", lambda connection, acknowledged: None)
    without_shrinking = settings(MACHINE_SETTINGS, phases=[Phase.explicit, Phase.generate])
    with pytest.raises(AssertionError, match="no owner can sign in"):
        run_state_machine_as_test(RolloutMachine, settings=without_shrinking)
