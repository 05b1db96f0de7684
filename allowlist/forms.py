"""Forms of the allowlist page. They only shape input; validation of entries happens in ``allowlist.actions``."""

from __future__ import annotations

from django import forms

from allowlist.models import Scope
from allowlist.networks import MAX_LABEL_LENGTH
from orgsecurity.text import validate_plain_text


class SettingsForm(forms.Form):
    enabled = forms.BooleanField(label="Enforce the allowlist", required=False)
    scope = forms.ChoiceField(
        label="What it covers",
        choices=Scope.choices,
        widget=forms.RadioSelect,
        help_text="Dashboard pages are every page of this organization; API keys are requests made with its keys.",
    )


class EntryForm(forms.Form):
    cidr = forms.CharField(
        label="Address or CIDR block",
        max_length=200,
        help_text="An IPv4 or IPv6 address or block, e.g. 203.0.113.0/24 or 2001:db8:1200::/40.",
    )
    label = forms.CharField(
        max_length=MAX_LABEL_LENGTH,
        validators=[validate_plain_text],
        required=False,
        help_text="e.g. Berlin office VPN",
    )


class BulkForm(forms.Form):
    entries = forms.CharField(
        label="Entries",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="One address or CIDR block per line. Text after # becomes that entry's label; blank lines are "
        "ignored. If any line is wrong, nothing is added.",
    )
    label = forms.CharField(
        label="Label for lines without one",
        validators=[validate_plain_text],
        max_length=MAX_LABEL_LENGTH,
        required=False,
    )


class CheckForm(forms.Form):
    ip = forms.CharField(label="IP address", max_length=100, help_text="e.g. 198.51.100.7 or 2001:db8::1")


class SupportDisableForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        validators=[validate_plain_text],
        help_text="The support ticket or why, recorded in the audit log.",
    )
