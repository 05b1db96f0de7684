"""Every change that can cut people or programs off outside SSO has a public ``preview_<change>(organization, …) ->
Impact`` beside its action (issue 20), the one computation the confirmation page, its CSV, a later admin API and the
tests share; a preview is refused for another organization's object."""

from __future__ import annotations

import inspect

import pytest

from allowlist import preview as allowlist_preview
from keys import preview as keys_preview
from keys.actions import create_api_key
from orgsecurity import actions as core_actions
from orgsecurity.actions import ActionRefused
from orgsecurity.impact import Impact
from orgsecurity.models import Membership
from sessions_policy import preview as sessions_preview

PREVIEWS = {
    "enabling or widening what the IP allowlist covers": allowlist_preview.preview_settings,
    "narrowing the IP allowlist": allowlist_preview.preview_remove_entries,
    "tightening the session policy": sessions_preview.preview_session_policy,
    "revoking a key": keys_preview.preview_revoke_key,
    "changing the key policy": keys_preview.preview_key_policy,
    "removing a member": core_actions.preview_remove_member,
}


@pytest.mark.parametrize("change", list(PREVIEWS))
def test_each_preview_takes_the_organization_first_and_returns_an_impact(change):
    function = PREVIEWS[change]
    assert function.__name__.startswith("preview_") and function.__doc__
    parameters = list(inspect.signature(function).parameters.values())
    assert parameters[0].name == "organization", change
    assert inspect.signature(function).return_annotation in (Impact, "Impact"), change


def test_each_answers_for_its_organization(org, owner, member, outsider, other_org):
    key, _ = create_api_key(org, actor=owner, name="deploy", permission="read")
    membership = Membership.objects.get(organization=org, user=member)
    impacts = [
        allowlist_preview.preview_settings(org, enabled=True, scope="dashboard"),
        allowlist_preview.preview_remove_entries(org, []),
        sessions_preview.preview_session_policy(
            org, idle_timeout_s=600, absolute_timeout_s=3600, reauth_max_age_s=300, single_session=True
        ),
        keys_preview.preview_revoke_key(org, key),
        keys_preview.preview_key_policy(org, require_expiry=True, max_lifetime_days=30, allow_unrestricted=False),
        core_actions.preview_remove_member(org, membership),
    ]
    assert all(isinstance(impact, Impact) and impact.as_dict()["change"] for impact in impacts)
    with pytest.raises(ActionRefused) as refused:
        keys_preview.preview_revoke_key(other_org, key)
    assert refused.value.status == 404
    with pytest.raises(ActionRefused) as refused:
        core_actions.preview_remove_member(other_org, membership)
    assert refused.value.status == 404
