"""Forms of the streaming page: add a destination, and the audit retention period."""

from __future__ import annotations

from typing import Any

from django import forms

from audit import retention
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
        max_length=500,
        required=False,
        label="HEC token",
        help_text="Splunk HEC only.",
        widget=forms.PasswordInput(render_value=False),
    )
    ca_pem = forms.CharField(
        required=False,
        label="CA certificate to trust (PEM)",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Leave empty to trust the usual public certificate authorities.",
    )
    batch_size = forms.IntegerField(min_value=MIN_BATCH_SIZE, max_value=MAX_BATCH_SIZE, initial=100)


class RetentionForm(forms.Form):
    """Keep audit events forever or N days. The period is checked by ``audit.retention.retention_problem``, the rule
    ``set_retention`` applies, so the preview never accepts a value that saving refuses."""

    keep = forms.ChoiceField(choices=[("forever", "Keep forever"), ("days", "Keep for a number of days")])
    days = forms.IntegerField(required=False, label="Days")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["days"].widget.attrs.update(min=retention.minimum_days(), max=retention.MAX_RETENTION_DAYS)

    def retention_days(self) -> int | None:
        """The chosen period in days, or None for forever (call after ``is_valid``)."""
        if self.cleaned_data["keep"] == "forever":
            return None
        return self.cleaned_data.get("days")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("keep") == "days":
            if data.get("days") is None:
                if "days" not in self.errors:
                    self.add_error("days", "Enter the number of days to keep audit events.")
            elif problem := retention.retention_problem(data["days"]):
                self.add_error("days", problem)
        return data
