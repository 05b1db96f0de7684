"""SCIM set-up forms behave (issue 20): the provisioning settings and the group mappings carry the version they were
loaded at, so saving over a change made meanwhile is refused with what changed; refused changes and done ones answer
post/redirect/get with a sentence on the page (nothing renders at the POST URL)."""

from __future__ import annotations

import html
import re

from orgsecurity.roles import Role
from orgsecurity.versions import VERSION_FIELD
from scim import actions
from scim.models import GroupMapping, ProvisioningSettings, ScimToken

SSO_PAGE = "/orgs/acme/settings/security/sso/"
SETTINGS = "/orgs/acme/settings/security/scim/settings/"
MAPPINGS = "/orgs/acme/settings/security/scim/mappings/"


def _stamp(page: str, form_id: str) -> str:
    form = re.search(rf'<form[^>]*id="{form_id}"[^>]*>(.*?)</form>', page, re.S).group(1)
    return html.unescape(re.search(rf'name="{VERSION_FIELD}" value="([^"]+)"', form).group(1))


def _shown(client, url: str) -> str:
    return html.unescape(client.get(url).content.decode())


def test_provisioning_settings_saved_over_a_change_are_refused(client_for, owner, org, connection):
    client = client_for(owner)
    stamp = _stamp(client.get(SSO_PAGE).content.decode(), "scim-settings")
    actions.update_settings(org, actor=owner, default_role=Role.AUDITOR)  # another owner, meanwhile
    answer = client.post(
        SETTINGS, {"default_role": Role.BILLING, f"link_{connection.pk}": "subject", VERSION_FIELD: stamp}
    )
    assert answer.status_code == 302 and answer["Location"] == f"{SSO_PAGE}#scim"
    page = _shown(client, SSO_PAGE)
    assert "changed since you opened this page" in page
    assert "Role of members in no mapped group: member → auditor" in page
    assert ProvisioningSettings.objects.get(organization=org).default_role == Role.AUDITOR
    # Loaded afresh, it saves, and says so.
    stamp = _stamp(client.get(SSO_PAGE).content.decode(), "scim-settings")
    client.post(SETTINGS, {"default_role": Role.BILLING, f"link_{connection.pk}": "subject", VERSION_FIELD: stamp})
    assert "Provisioning settings saved." in _shown(client, SSO_PAGE)
    assert ProvisioningSettings.objects.get(organization=org).default_role == Role.BILLING


def test_a_refused_setting_redirects_with_the_reason(client_for, owner, org, connection):
    client = client_for(owner)
    answer = client.post(SETTINGS, {"default_role": "owner"})
    assert answer.status_code == 302
    assert "Choose a role other than owner as the default." in _shown(client, SSO_PAGE)


def test_a_mapping_saved_over_a_change_is_refused_with_what_changed(client_for, owner, org, connection):
    client = client_for(owner)
    stamp = _stamp(client.get(MAPPINGS).content.decode(), "mapping-form")
    actions.save_mapping(org, actor=owner, group_ref="Ops", role=Role.AUDITOR)  # meanwhile
    preview = client.get(MAPPINGS, {"group_ref": "Ops", "role": "admin", VERSION_FIELD: stamp})
    carried = html.unescape(re.search(rf'name="{VERSION_FIELD}" value="([^"]+)"', preview.content.decode()).group(1))
    assert carried == stamp
    answer = client.post(MAPPINGS, {"group_ref": "Ops", "role": "admin", VERSION_FIELD: carried})
    assert answer.status_code == 302 and answer["Location"] == MAPPINGS
    page = _shown(client, MAPPINGS)
    assert "changed since you opened this page" in page
    assert "Mapping of Ops: (none) → role auditor; teams (none)" in page
    assert GroupMapping.objects.get().role == Role.AUDITOR


def test_removing_a_mapping_changed_meanwhile_is_refused(client_for, owner, org, connection):
    mapping = actions.save_mapping(org, actor=owner, group_ref="Ops", role=Role.AUDITOR)
    client = client_for(owner)
    stamp = _stamp(client.get(MAPPINGS).content.decode(), "mapping-form")
    actions.save_mapping(org, actor=owner, group_ref="Ops", role=Role.ADMIN)
    client.post(MAPPINGS, {"delete": mapping.pk, VERSION_FIELD: stamp})
    assert "Mapping of Ops: role auditor; teams (none) → role admin; teams (none)" in _shown(client, MAPPINGS)
    assert GroupMapping.objects.filter(pk=mapping.pk).exists()
    stamp = _stamp(client.get(MAPPINGS).content.decode(), "mapping-form")
    client.post(MAPPINGS, {"delete": mapping.pk, VERSION_FIELD: stamp})
    assert "The mapping of Ops was removed" in _shown(client, MAPPINGS)
    assert not GroupMapping.objects.exists()


def test_a_refused_mapping_redirects_with_the_reason(client_for, owner, connection):
    client = client_for(owner)
    answer = client.post(MAPPINGS, {"group_ref": "Ops", "role": "owner"})
    assert answer.status_code == 302 and answer["Location"] == MAPPINGS
    assert "No group maps to the owner role" in _shown(client, MAPPINGS)


def test_revoking_a_token_says_so(client_for, owner, scim):
    token = ScimToken.objects.get()
    client = client_for(owner)
    client.post(f"/orgs/acme/settings/security/scim/tokens/{token.pk}/revoke/")
    assert f"The SCIM token {token.prefix} was revoked" in _shown(client, SSO_PAGE)


def test_a_refused_token_redirects_with_the_reason(client_for, owner, connection):
    client = client_for(owner)
    answer = client.post("/orgs/acme/settings/security/scim/tokens/", {"connection": "0"})
    assert answer.status_code == 302 and answer["Location"] == f"{SSO_PAGE}#scim"
    assert "Choose the SSO connection of the IdP that provisions." in _shown(client, SSO_PAGE)


def test_an_owner_provisioned_by_scim_is_not_called_managed_by_it(client_for, owner, scim, org):
    from orgsecurity.actions import change_role
    from tests.helpers.scim import user_body

    scim.post("Users", user_body("bea@acme.test"))
    scim.post("Users", user_body("cid@acme.test"))
    change_role(org.memberships.get(user__email="bea@acme.test"), actor=owner, role=Role.OWNER)
    page = client_for(owner).get("/orgs/acme/members/").content.decode()
    rows = {
        email: row for row in re.findall(r"<tr>.*?</tr>", page, re.S) for email in re.findall(r"\w+@acme\.test", row)
    }
    assert "Provisioned by SCIM: as an owner, managed here" in html.unescape(rows["bea@acme.test"])
    assert "Managed by SCIM" not in rows["bea@acme.test"]
    assert "Managed by SCIM: the IdP overwrites manual role changes and removals" in rows["cid@acme.test"]
