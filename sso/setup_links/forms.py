"""The form that makes an IdP set-up link (on the connection page)."""

from __future__ import annotations

from django import forms

from sso.models import SSOConnection
from sso.setup_links import actions


class SetupLinkForm(forms.Form):
    """Make a set-up link: for whom (shown in the list and the audit log) and for how many days (1-7)."""

    recipient = forms.CharField(
        label="Recipient", max_length=100, required=False, help_text="Who gets it, e.g. “Jane, Contoso IT”."
    )
    days = forms.TypedChoiceField(
        label="Valid for",
        coerce=int,
        choices=[(day, f"{day} day{'s' if day > 1 else ''}") for day in range(1, actions.MAX_DAYS + 1)],
        initial=actions.DEFAULT_DAYS,
    )


class NewConnectionLinkForm(SetupLinkForm):
    """Make a connection whose IdP details are not known yet, and a set-up link for the IdP admin to enter them."""

    protocol = forms.ChoiceField(label="Protocol", choices=SSOConnection.Protocol.choices)
    name = forms.CharField(label="Connection name", max_length=100, required=False, help_text="e.g. “Okta”.")
    field_order = ["protocol", "name", "recipient", "days"]
