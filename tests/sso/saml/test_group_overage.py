"""Microsoft Entra ID's group overage in real signed SAML answers (issue 14 item 13; OIDC: tests/sso/oidc/).

When a person is in too many groups, Entra leaves the groups out and says so: SAML sends the attribute
``http://schemas.microsoft.com/claims/groups.link``, OIDC names ``groups`` in ``_claim_names`` (a distributed
claim, OIDC Core §5.6.2) or sends ``hasgroups: true``. The groups are then unknown, not empty: the test run, its
audit event and its page say so, and a member's sign-in changes nothing that depends on groups.
"""

from __future__ import annotations

import html

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgsecurity.models import Membership
from sso.connections import actions as sso_actions
from sso.models import SSOTestRun
from tests.helpers.saml import connect, finish_in, post_to_acs, start
from tests.sso.saml.idp import TestIdP, redirect_message
from tests.sso.saml.test_acs import answer, link

ENTRA_GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
GROUPS_LINK = "http://schemas.microsoft.com/claims/groups.link"
GRAPH = "https://graph.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/users/6a2e1d9e/getMemberObjects"
WARNING = "The IdP did not send this person's groups."


def page_of(browser: Client, url: str) -> str:
    return html.unescape(browser.get(url).content.decode())


# --- SAML ---------------------------------------------------------------------------------------------------


@pytest.fixture
def entra_saml(org, owner, sp):
    idp = TestIdP()
    connection = connect(org, owner, idp)
    sso_actions.update_connection(
        connection, actor=owner, attribute_map={"email": "mail", "display_name": "displayName", "groups": ENTRA_GROUPS}
    )
    return idp, connection


def saml_test_run(browser, idp, sp, connection, attributes) -> tuple[SSOTestRun, str]:
    response = browser.post(f"/orgs/acme/settings/security/sso/{connection.pk}/test/")
    request_id = redirect_message(response["Location"])[1]["RelayState"][0]
    result = finish_in(browser, post_to_acs(answer(idp, sp, request_id, name_id="adam", attributes=attributes)))
    return SSOTestRun.objects.get(connection=connection), page_of(browser, result["Location"])


def test_a_saml_test_run_says_the_groups_were_not_sent(entra_saml, sp, client_for, admin):
    idp, connection = entra_saml
    attributes = {"mail": ["admin@acme.test"], GROUPS_LINK: [GRAPH]}
    run, page = saml_test_run(client_for(admin), idp, sp, connection, attributes)
    assert run.result == "success"
    assert run.details["mapped"]["groups"] is None  # unknown, never mapped as an empty list
    assert GROUPS_LINK in run.details["groups_not_sent"] and "group overage" in run.details["groups_not_sent"]
    assert WARNING in page and "configure group filtering at Microsoft Entra ID" in page and "app roles" in page
    assert "(not sent: group overage, see above)" in page
    event = AuditEvent.objects.filter(action="sso.tested").latest("seq")
    assert GROUPS_LINK in event.details["groups_not_sent"]


def test_a_saml_test_run_with_the_groups_maps_them_and_warns_of_nothing(entra_saml, sp, client_for, admin):
    idp, connection = entra_saml
    attributes = {"mail": ["admin@acme.test"], ENTRA_GROUPS: ["g-1", "g-2"]}
    run, page = saml_test_run(client_for(admin), idp, sp, connection, attributes)
    assert run.details["mapped"]["groups"] == ["g-1", "g-2"] and not run.details["groups_not_sent"]
    assert WARNING not in page and "groups_not_sent" not in AuditEvent.objects.filter(action="sso.tested").get().details


def test_a_member_with_too_many_groups_signs_in_and_keeps_their_role(entra_saml, sp, member):
    idp, connection = entra_saml
    link(connection, member, "mia-123")
    role = Membership.objects.get(user=member).role
    browser = Client()
    request_id = start(browser)
    attributes = {"mail": ["member@acme.test"], GROUPS_LINK: [GRAPH]}
    assert (
        finish_in(browser, post_to_acs(answer(idp, sp, request_id, attributes=attributes)))["Location"] == "/orgs/acme/"
    )
    assert browser.get("/orgs/acme/").status_code == 200
    assert Membership.objects.get(user=member).role == role
