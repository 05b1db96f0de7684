"""JIT provisioning and first-sign-in linking under the rollout rules: only for emails in the org's verified domains."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgsecurity.models import Membership, User
from sso.connections import actions
from sso.models import SSOIdentity
from tests.helpers.core import make_user


def sso_sign_in(idp, subject: str, **answer):
    browser = Client()
    assert browser.get("/sso/acme/login/").status_code == 302
    return browser, browser.get(idp.answer(subject, **answer))


def test_jit_creates_accounts_only_in_verified_domains(idp, connection, owner, acme_domain):
    actions.update_connection(connection, actor=owner, allow_jit=True)
    _, response = sso_sign_in(idp, "outsider-1", email="someone@gmail.test")
    assert response.status_code == 403
    assert b"only for email addresses in its verified domains" in response.content
    assert not User.objects.filter(email="someone@gmail.test").exists()
    _, response = sso_sign_in(idp, "newbie", email="newbie@acme.test")
    assert response.status_code == 302
    assert Membership.objects.get(user__email="newbie@acme.test").role == "member"


def test_jit_waits_until_testing_is_over(idp, connection, owner, acme_domain):
    actions.update_connection(connection, actor=owner, allow_jit=True)
    actions.set_status(connection, actor=owner, status="testing")
    _, response = sso_sign_in(idp, "newbie", email="newbie@acme.test")
    assert response.status_code == 403 and b"does not create accounts yet" in response.content
    assert not User.objects.filter(email="newbie@acme.test").exists()


def test_a_member_is_linked_on_first_sign_in_by_a_verified_email(idp, connection, member, acme_domain):
    browser, response = sso_sign_in(idp, "mia-idp-id", email="Member@Acme.test")
    assert response.status_code == 302
    assert SSOIdentity.objects.get(user=member).subject == "mia-idp-id"
    assert browser.get("/orgs/acme/").status_code == 200
    event = AuditEvent.objects.get(action="sso.identity_linked")
    assert event.details["via"] == "verified domain"


def test_no_link_without_a_verified_domain_or_a_vouched_email(idp, connection, member, org, owner):
    from sso.domains import verification as domains

    domains.claim(org, actor=owner, domain="acme.test")  # claimed only
    _, response = sso_sign_in(idp, "mia-idp-id", email=member.email)
    assert response.status_code == 403 and b"is not linked to this IdP identity yet" in response.content
    assert not SSOIdentity.objects.exists()


def test_no_link_when_the_idp_does_not_vouch_for_the_email(idp, connection, member, acme_domain):
    _, response = sso_sign_in(idp, "mia-idp-id", email=member.email, verified=False)
    assert response.status_code == 403
    assert not SSOIdentity.objects.exists()


def test_no_link_for_an_account_that_is_not_a_member(idp, connection, acme_domain):
    make_user("former@acme.test")
    _, response = sso_sign_in(idp, "former", email="former@acme.test")
    assert response.status_code == 403
    assert not SSOIdentity.objects.exists()


def test_a_domain_verified_by_another_org_does_not_link_here(idp, connection, member, other_org):
    from sso.domains import verification as domains

    staff = make_user("staff@platform.test", is_staff=True)
    outsider = other_org.memberships.get().user
    domains.verify_by_support(domains.claim(other_org, actor=outsider, domain="acme.test"), staff=staff, note="t")
    _, response = sso_sign_in(idp, "mia-idp-id", email=member.email)
    assert response.status_code == 403
    assert not SSOIdentity.objects.exists()


def test_under_enforcement_an_unlinked_member_is_told_to_ask_an_admin(enforced, idp, billing_user):
    _, response = sso_sign_in(idp, "bill-idp", email=billing_user.email)
    assert response.status_code == 403
    assert b"requires single sign-on. Ask an admin" in response.content


def test_under_enforcement_an_unlinked_admin_is_told_how_to_link(enforced, idp, admin):
    _, response = sso_sign_in(idp, "adam-idp", email=admin.email)
    assert response.status_code == 403
    assert "ask an owner to list you as a password exception" in response.content.decode()


@pytest.mark.parametrize("role_fixture", ["billing_user", "auditor"])
def test_members_below_admin_are_linked_by_a_verified_email(request, idp, connection, acme_domain, role_fixture):
    user = request.getfixturevalue(role_fixture)
    browser, response = sso_sign_in(idp, f"{role_fixture}-idp-id", email=user.email)
    assert response.status_code == 302
    assert SSOIdentity.objects.get(user=user).subject == f"{role_fixture}-idp-id"
    assert browser.get("/orgs/acme/").status_code == 200


@pytest.mark.parametrize("role_fixture", ["owner", "admin"])
def test_owners_and_admins_are_never_linked_by_email_alone(request, idp, connection, acme_domain, role_fixture):
    """Whoever configures the connection controls what its IdP asserts: an answer naming an owner's or an admin's
    email must not become their session. They link themselves while signed in."""
    user = request.getfixturevalue(role_fixture)
    browser, response = sso_sign_in(idp, "whoever-the-idp-says", email=user.email)
    assert response.status_code == 403
    assert "Owners and admins link their own SSO identity" in response.content.decode()
    assert not SSOIdentity.objects.filter(user=user).exists()
    assert "_auth_user_id" not in browser.session
    assert AuditEvent.objects.filter(action="sso.sign_in_refused", details__reason="not_linked_privileged").exists()


@pytest.mark.parametrize("spelling", ["newbie@acme.test.", "newbie@xn--acme-.test", "member@acme.test."])
def test_another_spelling_of_a_verified_domain_is_not_in_it(idp, connection, owner, member, acme_domain, spelling):
    """ "acme.test." is the same mailbox domain as "acme.test" under another account name: no JIT account, no link."""
    actions.update_connection(connection, actor=owner, allow_jit=True)
    _, response = sso_sign_in(idp, "look-alike", email=spelling)
    assert response.status_code == 403
    assert not User.objects.filter(email=spelling).exists()
    assert not SSOIdentity.objects.exists()


def test_an_international_verified_domain_accepts_its_unicode_spelling(idp, connection, owner, org):
    from sso.domains import verification as domains
    from tests.helpers.core import make_user

    staff = make_user("staff@platform.test", is_staff=True)
    domains.verify_by_support(domains.claim(org, actor=owner, domain="bücher.test"), staff=staff, note="t")
    actions.update_connection(connection, actor=owner, allow_jit=True)
    for email in ("anna@bücher.test", "ben@xn--bcher-kva.test"):
        _, response = sso_sign_in(idp, email, email=email)
        assert response.status_code == 302, email
        assert User.objects.filter(email=email).exists()
