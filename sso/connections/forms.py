"""Forms for the general settings of an SSO connection (protocol settings have their own forms)."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from orgsecurity.models import Membership, Organization, User
from orgsecurity.roles import Role
from orgsecurity.text import validate_plain_text
from sso.assertion import PROFILE_FIELDS
from sso.models import SSOConnection


class ConnectionSettingsForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        validators=[validate_plain_text],
        help_text="What your people call the IdP, e.g. “Okta”.",
    )
    admin_owner = forms.ModelChoiceField(
        queryset=User.objects.none(), help_text="The owner or admin responsible for testing and rollback."
    )
    allow_jit = forms.BooleanField(label="Create members on their first SSO sign-in (JIT provisioning)", required=False)
    jit_default_role = forms.ChoiceField(
        label="Role for members created on first sign-in",
        choices=[(role.value, role.label) for role in Role if role != Role.OWNER],
    )
    attribute_map = forms.CharField(
        label="Attribute mapping",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        required=False,
        help_text="JSON: profile field → attribute or claim name. Fields: " + ", ".join(PROFILE_FIELDS) + ".",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        managers = Membership.objects.active().filter(organization=organization, role__in=[Role.OWNER, Role.ADMIN])
        self.fields["admin_owner"].queryset = User.objects.filter(pk__in=managers.values("user")).order_by("email")

    @classmethod
    def initial_for(cls, connection: SSOConnection) -> dict[str, Any]:
        return {
            "name": connection.name,
            "admin_owner": connection.admin_owner_id,
            "allow_jit": connection.allow_jit,
            "jit_default_role": connection.jit_default_role,
            "attribute_map": json.dumps(connection.attribute_map, indent=2, sort_keys=True),
        }

    def clean_attribute_map(self) -> dict[str, str]:
        raw = self.cleaned_data["attribute_map"].strip() or "{}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"This is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
        except RecursionError:  # nested thousands deep: not a mapping anyone meant
            raise forms.ValidationError('Use an object of names, e.g. {"email": "email"}.') from None
        if not isinstance(value, dict) or not all(
            isinstance(key, str) and isinstance(item, str) for key, item in value.items()
        ):
            raise forms.ValidationError('Use an object of names, e.g. {"email": "email"}.')
        unknown = set(value) - set(PROFILE_FIELDS)
        if unknown:
            raise forms.ValidationError(f"Unknown profile fields: {', '.join(sorted(unknown))}.")
        return {key: item.strip() for key, item in value.items() if item.strip()}


class StatusForm(forms.Form):
    """The connection page's status moves. Not enforcement: that goes through the confirmation page, which lists
    what it does and asks for the typed slug (``sso.rollout.views.enforce``)."""

    status = forms.ChoiceField(
        choices=[choice for choice in SSOConnection.Status.choices if choice[0] != SSOConnection.Status.ENFORCED]
    )
