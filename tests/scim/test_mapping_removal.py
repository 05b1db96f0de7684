"""Removing a SCIM group mapping shows who changes role first (issue 20): the mappings page's Remove button goes
through a confirmation page listing the members whose role would change (``scim.actions.preview_mapping(...,
removing=True)``), with its CSV, when there are any; a removal that changes nobody's role is done at once."""

from __future__ import annotations

import html
import re

from orgsecurity.models import Membership
from orgsecurity.roles import Role
from orgsecurity.versions import VERSION_FIELD
from scim.actions import save_mapping
from scim.models import GroupMapping
from tests.helpers.scim import GROUP_SCHEMA, user_body

MAPPINGS = "/orgs/acme/settings/security/scim/mappings/"
REFUSED = "These settings were changed since you opened this page, so nothing was saved."


def provision_in_groups(scim, email: str, *groups: str) -> None:
    user_id = scim.post("Users", user_body(email)).json()["id"]
    for name in groups:
        body = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": user_id}]}
        assert scim.post("Groups", body).status_code == 201


def role_of(org, email: str) -> str:
    return Membership.objects.get(organization=org, user__email=email).role


def remove_button(page: str, mapping: GroupMapping) -> str:
    """The form around the Remove button of ``mapping`` on the mappings page."""
    for form in re.findall(r"<form\b.*?</form>", page, re.S):
        if f'value="{mapping.pk}"' in form and "Remove" in form:
            return form
    raise AssertionError("no Remove button")


def stamp_of(form: str) -> str:
    return html.unescape(re.search(rf'name="{VERSION_FIELD}" value="([^"]+)"', form).group(1))


def test_removing_a_mapping_that_demotes_someone_is_confirmed_first(client_for, owner, org, scim):
    admins = save_mapping(org, actor=owner, group_ref="Admins", role=Role.ADMIN)
    save_mapping(org, actor=owner, group_ref="Everyone", role=Role.MEMBER)
    provision_in_groups(scim, "bea@acme.test", "Admins", "Everyone")
    assert role_of(org, "bea@acme.test") == Role.ADMIN
    browser = client_for(owner)
    button = remove_button(browser.get(MAPPINGS).content.decode(), admins)
    assert 'method="get"' in button and "1 member changes role" in button
    # The button opens the confirmation page: who changes role, and the CSV of the same list.
    confirm = browser.get(MAPPINGS, {"remove": admins.pk, VERSION_FIELD: stamp_of(button)})
    page = html.unescape(confirm.content.decode())
    assert confirm.status_code == 200 and "Remove the mapping of the SCIM group 'Admins'?" in page
    assert "bea@acme.test" in page and "Admin → Member" in page
    csv = browser.get(MAPPINGS, {"remove": admins.pk, "format": "csv"}).content.decode()
    assert "bea@acme.test" in csv and "Admin → Member" in csv
    assert GroupMapping.objects.filter(pk=admins.pk).exists() and role_of(org, "bea@acme.test") == Role.ADMIN
    # Confirming removes it, and bea's role follows her other group.
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.content.decode()))
    assert fields["delete"] == str(admins.pk) and fields["confirmed"] == "1" and fields[VERSION_FIELD]
    done = browser.post(MAPPINGS, {name: html.unescape(value) for name, value in fields.items()})
    assert done.status_code == 302 and done["Location"] == MAPPINGS
    assert not GroupMapping.objects.filter(pk=admins.pk).exists()
    assert role_of(org, "bea@acme.test") == Role.MEMBER
    assert "The mapping of Admins was removed" in html.unescape(browser.get(MAPPINGS).content.decode())


def test_a_removal_posted_without_its_confirmation_is_sent_to_it(client_for, owner, org, scim):
    """An old page's Remove button (or a mapping that started to matter meanwhile) still shows who changes role."""
    admins = save_mapping(org, actor=owner, group_ref="Admins", role=Role.ADMIN)
    save_mapping(org, actor=owner, group_ref="Everyone", role=Role.MEMBER)
    provision_in_groups(scim, "bea@acme.test", "Admins", "Everyone")
    answer = client_for(owner).post(MAPPINGS, {"delete": admins.pk})
    assert answer.status_code == 302 and answer["Location"].startswith(f"{MAPPINGS}?remove={admins.pk}")
    assert GroupMapping.objects.filter(pk=admins.pk).exists() and role_of(org, "bea@acme.test") == Role.ADMIN


def test_a_removal_that_changes_nobody_is_done_at_once(client_for, owner, org, scim):
    save_mapping(org, actor=owner, group_ref="Everyone", role=Role.MEMBER)
    unused = save_mapping(org, actor=owner, group_ref="Contractors", role=Role.BILLING)
    provision_in_groups(scim, "bea@acme.test", "Everyone")
    browser = client_for(owner)
    button = remove_button(browser.get(MAPPINGS).content.decode(), unused)
    assert 'method="post"' in button and "change" not in button
    done = browser.post(MAPPINGS, {"delete": unused.pk, VERSION_FIELD: stamp_of(button)})
    assert done.status_code == 302 and done["Location"] == MAPPINGS
    assert not GroupMapping.objects.filter(pk=unused.pk).exists()


def test_a_confirmed_removal_over_a_change_made_meanwhile_is_refused(client_for, owner, org, scim):
    admins = save_mapping(org, actor=owner, group_ref="Admins", role=Role.ADMIN)
    save_mapping(org, actor=owner, group_ref="Everyone", role=Role.MEMBER)
    provision_in_groups(scim, "bea@acme.test", "Admins", "Everyone")
    browser = client_for(owner)
    stamp = stamp_of(remove_button(browser.get(MAPPINGS).content.decode(), admins))
    save_mapping(org, actor=owner, group_ref="Admins", role=Role.AUDITOR)  # another owner, meanwhile
    answer = browser.post(MAPPINGS, {"delete": admins.pk, "confirmed": "1", VERSION_FIELD: stamp})
    assert answer.status_code == 302
    assert REFUSED in html.unescape(browser.get(MAPPINGS).content.decode())
    assert GroupMapping.objects.filter(pk=admins.pk).exists()


def test_only_the_organizations_mappings_are_previewed(client_for, owner, admin, member, org, other_org, scim):
    admins = save_mapping(org, actor=owner, group_ref="Admins", role=Role.ADMIN)
    theirs = save_mapping(other_org, actor=other_org.memberships.get().user, group_ref="Ops", role=Role.ADMIN)
    assert client_for(owner).get(MAPPINGS, {"remove": theirs.pk}).status_code == 404
    assert client_for(owner).get(MAPPINGS, {"remove": "x"}).status_code == 404
    assert client_for(admin).get(MAPPINGS, {"remove": admins.pk}).status_code == 200  # admins see who; owners act
    assert client_for(member).get(MAPPINGS, {"remove": admins.pk}).status_code == 403
    assert client_for(admin).post(MAPPINGS, {"delete": admins.pk, "confirmed": "1"}).status_code == 403
    assert GroupMapping.objects.filter(pk=admins.pk).exists()
