"""The connection page as the four set-up steps (issue 21), each done or next from what is stored."""

from __future__ import annotations

import html

from django.utils import timezone

from sso.connections import actions as sso_actions
from sso.models import SSOTestRun
from sso.setup_links.actions import create_link
from sso.setup_links.steps import connection_steps
from tests.helpers.saml import connect


def states(connection) -> list[str]:
    return [step.state for step in connection_steps(connection)]


def test_steps_follow_the_stored_state(org, owner, test_idp):
    connection = connect(org, owner, test_idp, status="off")
    assert states(connection) == ["next", "done", "to do", "to do"]
    # A passing test through a set-up link shows the IdP knows us, but the test step waits for an owner or admin.
    link, _url = create_link(connection, actor=owner)
    SSOTestRun.objects.create(
        connection=connection,
        setup_link=link,
        result="success",
        finished_at=timezone.now(),
        details={"subject": "x"},
    )
    steps = connection_steps(connection)
    assert [step.state for step in steps] == ["done", "done", "next", "to do"]
    assert "an owner or admin still tests" in steps[2].summary
    SSOTestRun.objects.create(connection=connection, actor=owner, result="success", finished_at=timezone.now())
    assert states(connection) == ["done", "done", "done", "next"]
    sso_actions.set_status(connection, actor=owner, status="testing")
    connection.refresh_from_db()
    assert "Testing" in connection_steps(connection)[3].summary


def test_the_connection_page_shows_the_steps_and_keeps_every_form(org, owner, test_idp, client_for):
    connection = connect(org, owner, test_idp, status="off")
    page = html.unescape(client_for(owner).get(f"/orgs/acme/settings/security/sso/{connection.pk}/").content.decode())
    for title in (
        "Step 1. Give the IdP our details",
        "Step 2. Enter the IdP's details",
        "Step 3. Test a sign-in",
        "Step 4. Roll out",
        'aria-current="step"',
        "Make a set-up link",
        "Advanced settings",
    ):
        assert title in page, title
    base = f"/orgs/acme/settings/security/sso/{connection.pk}"
    for action in (
        f"{base}/settings/",
        f"{base}/status/",
        f"{base}/test/",
        f"/orgs/acme/settings/security/sso/saml/{connection.pk}/idp/",
        f"/orgs/acme/settings/security/sso/saml/{connection.pk}/options/",
        f"/orgs/acme/settings/security/sso/saml/{connection.pk}/preset/",
    ):
        assert f'action="{action}"' in page, action
    assert page.index("Step 1.") < page.index("Step 2.") < page.index("Step 3.") < page.index("Step 4.")
    assert page.index("Step 4.") < page.index("General settings")  # folded away under the steps
