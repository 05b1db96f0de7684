"""The sign-in decision as a table: each row a situation (what the IdP asserted and what is stored) and the action
and reason ``sso.signin.decision.decide`` must give. No database: ``decide`` is a pure function."""

import pytest

from orgsecurity.roles import Role
from sso.signin.decision import EMAIL_LINKABLE_ROLES, Action, Decision, Situation, decide

ON, OFF, TESTING, ENFORCED = "on", "off", "testing", "enforced"


def situation(**changes) -> Situation:
    """A linked, active member signing in through a connection that is on, with a verified email in a verified
    domain; each row changes what it is about."""
    values = {
        "status": ON,
        "allow_jit": False,
        "email": "ann@acme.test",
        "email_verified": True,
        "verified_domain": True,
        "linked": True,
        "account": True,
        "active": True,
        "role": Role.MEMBER,
        "may_sign_in": True,
    }
    return Situation(**(values | changes))


UNLINKED = {"linked": False}
NOBODY = {"linked": False, "account": False, "role": None, "allow_jit": True}

ROWS = [
    # (situation, action, reason)
    ("linked member", {}, Action.SIGN_IN, "linked"),
    ("linked member, enforced", {"status": ENFORCED}, Action.SIGN_IN, "linked"),
    ("linked owner", {"role": Role.OWNER}, Action.SIGN_IN, "linked"),
    ("linked tester while testing", {"status": TESTING}, Action.SIGN_IN, "linked"),
    ("connection off", {"status": OFF}, Action.DENY, "sso_off"),
    ("connection off, nobody linked", {"status": OFF, **NOBODY}, Action.DENY, "sso_off"),
    ("linked, deactivated", {"active": False}, Action.DENY, "inactive"),
    ("linked, no longer a member", {"role": None}, Action.DENY, "not_member"),
    ("linked, deactivated and not a member", {"active": False, "role": None}, Action.DENY, "inactive"),
    ("linked, outside the test group", {"status": TESTING, "may_sign_in": False}, Action.DENY, "not_in_test_group"),
    ("unlinked member, verified email in a verified domain", UNLINKED, Action.LINK, "verified domain"),
    ("unlinked auditor, verified", {**UNLINKED, "role": Role.AUDITOR}, Action.LINK, "verified domain"),
    ("unlinked member, IdP does not vouch", {**UNLINKED, "email_verified": False}, Action.DENY, "not_linked"),
    ("unlinked member, domain not verified", {**UNLINKED, "verified_domain": False}, Action.DENY, "not_linked"),
    ("unlinked owner", {**UNLINKED, "role": Role.OWNER}, Action.DENY, "not_linked_privileged"),
    ("unlinked admin", {**UNLINKED, "role": Role.ADMIN}, Action.DENY, "not_linked_privileged"),
    (
        "unlinked admin, domain not verified",
        {**UNLINKED, "role": Role.ADMIN, "verified_domain": False},
        Action.DENY,
        "not_linked_privileged",
    ),
    ("unlinked account, not a member here", {**UNLINKED, "role": None}, Action.DENY, "not_linked"),
    (
        "unlinked member, enforced",
        {**UNLINKED, "status": ENFORCED, "verified_domain": False},
        Action.DENY,
        "not_linked",
    ),
    ("unlinked member linkable, deactivated", {**UNLINKED, "active": False}, Action.DENY, "inactive"),
    (
        "unlinked member linkable, outside the test group",
        {**UNLINKED, "status": TESTING, "may_sign_in": False},
        Action.DENY,
        "not_in_test_group",
    ),
    (
        "unlinked account, JIT on: still never created twice",
        {**UNLINKED, "allow_jit": True},
        Action.LINK,
        "verified domain",
    ),
    ("nobody, JIT on, verified email in a verified domain", NOBODY, Action.ENROLL, "jit"),
    ("nobody, JIT on, enforced", {**NOBODY, "status": ENFORCED}, Action.ENROLL, "jit"),
    ("nobody, JIT off", {**NOBODY, "allow_jit": False}, Action.DENY, "no_jit"),
    ("nobody, JIT off and no email", {**NOBODY, "allow_jit": False, "email": ""}, Action.DENY, "no_jit"),
    ("nobody, no email", {**NOBODY, "email": "", "verified_domain": False}, Action.DENY, "no_email"),
    ("nobody, email not vouched for", {**NOBODY, "email_verified": False}, Action.DENY, "no_email"),
    ("nobody, domain not verified", {**NOBODY, "verified_domain": False}, Action.DENY, "no_jit_domain"),
    ("nobody, while testing", {**NOBODY, "status": TESTING}, Action.DENY, "no_jit_testing"),
]


@pytest.mark.parametrize(("changes", "action", "reason"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_decide(changes, action, reason):
    assert decide(situation(**changes)) == Decision(action, reason)


def test_only_roles_without_sso_management_link_by_email():
    assert Role.OWNER not in EMAIL_LINKABLE_ROLES
    assert Role.ADMIN not in EMAIL_LINKABLE_ROLES
    assert Role.MEMBER in EMAIL_LINKABLE_ROLES
