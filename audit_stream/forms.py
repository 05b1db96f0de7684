"""Forms of the streaming page: add a destination, and the audit retention period."""

from __future__ import annotations

from django import forms

from audit_stream.actions import MAX_BATCH_SIZE, MIN_BATCH_SIZE
from audit_stream.models import Kind
from orgsecurity.text import validate_plain_text


class DestinationForm(forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices)
    name = forms.CharField(max_length=100, required=False, validators=[validate_plain_text])
    url = forms.CharField(
        max_length=500,
        label="URL",
        help_text="https://… for a webhook or Splunk HEC; tls://host:port (default port 6514) for syslog.",
    )
    token = forms.CharField(
        max_length=500, required=False, label="HEC token", widget=forms.PasswordInput(render_value=False)
    )
    ca_pem = forms.CharField(
        required=False,
        label="CA certificate to trust (PEM, optional)",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Leave empty to trust the usual public certificate authorities.",
    )
    batch_size = forms.IntegerField(min_value=MIN_BATCH_SIZE, max_value=MAX_BATCH_SIZE, initial=100)


class RetentionForm(forms.Form):
    keep = forms.ChoiceField(choices=[("forever", "Keep forever"), ("days", "Keep for a number of days")])
    days = forms.IntegerField(required=False, min_value=1, max_value=36500)

    def retention_days(self) -> int | None:
        """The chosen period in days, or None for forever (call after ``is_valid``)."""
        if self.cleaned_data["keep"] == "forever":
            return None
        return self.cleaned_data.get("days")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("keep") == "days" and not data.get("days"):
            self.add_error("days", "Enter the number of days to keep audit events.")
        return data
