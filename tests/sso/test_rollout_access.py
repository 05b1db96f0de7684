"""Every rollout page and action as a plain member (403), an outsider (404) and anonymous (sent to sign in), with
nothing changed; the owner's successful use of each is tested with its feature. Plus the dashboard line."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgsecurity.models import Membership
from sso.domains import verification as domains
from sso.models import SSOPasswordException
from sso.recovery import accounts as recovery
from sso.rollout import scheduling as rollout


@pytest.fixture
def urls(ready, owner, member, org):
    connection = ready.connection
    base = f"/orgs/acme/settings/security/sso/{connection.pk}/rollout/"
    exception = rollout.add_password_exception(
        connection, actor=owner, membership=Membership.objects.get(user=member), reason="contractor"
    )
    account = Membership.objects.get(user=owner).recovery_account
    claimed = domains.claim(org, actor=owner, domain="acme.test")
    sso = "/orgs/acme/settings/security/sso/"
    post = {
        "enforce": (f"{base}enforce/", {"confirm_slug": "acme", "support_contact": "h@acme.test"}),
        "rollback": (f"{base}rollback/", {"to": "off"}),
        "schedule": (
            f"{base}schedule/",
            {"enforce_at": "2099-01-01T10:00", "support_contact": "h@acme.test", "confirm_slug": "acme"},
        ),
        "unschedule": (f"{base}unschedule/", {}),
        "test group": (f"{base}test-group/", {}),
        "confirm fallback": (f"{base}fallback/confirm/", {}),
        "add exception": (f"{base}fallback/exceptions/", {"membership": exception.membership_id, "reason": "x"}),
        "remove exception": (f"{base}fallback/exceptions/{exception.pk}/remove/", {}),
        "tick": (f"{base}test-plan/login/tick/", {"note": "seen"}),
        "designate": (f"{sso}recovery/designate/", {"membership": account.membership_id}),
        "remove recovery": (f"{sso}recovery/{account.pk}/remove/", {}),
        "codes": (f"{sso}recovery/codes/", {}),
        "claim": (f"{sso}domains/claim/", {"domain": "example.test"}),
        "verify domain": (f"{sso}domains/{claimed.pk}/verify/", {}),
        "remove domain": (f"{sso}domains/{claimed.pk}/remove/", {}),
    }
    confirmation_pages = [f"{base}enforce/", f"{base}schedule/?enforce_at=2099-01-01T10:00&support_contact=h@acme.test"]
    get = [base, f"{sso}recovery/", f"{sso}domains/", *confirmation_pages]
    return get, post


def test_members_get_403_outsiders_404_and_nothing_changes(client_for, urls, member, outsider):
    get, post = urls
    as_member, as_outsider, anonymous = client_for(member), client_for(outsider), client_for(None)
    before = AuditEvent.objects.count()  # after the sign-ins, which are recorded
    for url in get:
        assert as_member.get(url).status_code == 403, url
        assert as_outsider.get(url).status_code == 404, url
        assert anonymous.get(url)["Location"].startswith("/accounts/login/"), url
    for name, (url, data) in post.items():
        assert as_member.post(url, data).status_code == 403, name
        assert as_outsider.post(url, data).status_code == 404, name
        assert anonymous.post(url, data).status_code == 401, name
    assert AuditEvent.objects.count() == before
    assert SSOPasswordException.objects.count() == 1


def test_another_orgs_objects_are_404(client_for, ready, outsider, other_org, owner):
    theirs = domains.claim(other_org, actor=outsider, domain="globex.test")
    account = recovery.designate(other_org, actor=outsider, membership=other_org.memberships.get())
    sso = "/orgs/acme/settings/security/sso/"
    client = client_for(owner)
    assert client.post(f"{sso}domains/{theirs.pk}/remove/").status_code == 404
    assert client.post(f"{sso}recovery/{account.pk}/remove/").status_code == 404
    assert client.get(f"/orgs/globex/settings/security/sso/{ready.connection.pk}/rollout/").status_code == 404


def test_the_dashboard_says_where_sso_stands(client_for, sso_client_for, ready, owner):
    from sso.connections import actions

    page = client_for(owner).get("/orgs/acme/settings/security/").content.decode()
    assert "<td>SAML 2.0: On</td>" in page
    actions.set_status(ready.connection, actor=owner, status="enforced")
    page = sso_client_for(owner, ready.connection).get("/orgs/acme/settings/security/").content.decode()
    assert "Enforced (SSO only) since" in page
