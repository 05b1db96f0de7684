"""Forms of the SSO rollout pages, recovery sign-in, verified domains and email-first sign-in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from orgsecurity.models import Membership, Organization, Team, normalize_email
from orgsecurity.roles import Role
from orgsecurity.text import validate_plain_text
from sso.models import SSOConnection

TEST_SESSION_CHOICES = [
    ("0", "Only check what the IdP sends"),
    ("120", "Also sign me in through SSO for 2 minutes (to see logout and the session timeout)"),
    ("600", "Also sign me in through SSO for 10 minutes"),
]


class _MemberChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return f"{obj.user.email} ({obj.get_role_display()})"


class _OneMember(forms.ModelChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return f"{obj.user.email} ({obj.get_role_display()})"


def _memberships(organization: Organization, roles: tuple[str, ...] | None = None):
    queryset = (
        Membership.objects.active().filter(organization=organization).select_related("user").order_by("user__email")
    )
    return queryset.filter(role__in=roles) if roles else queryset


class TestGroupForm(forms.Form):
    members = _MemberChoice(queryset=Membership.objects.none(), required=False, label="Members")
    teams = forms.ModelMultipleChoiceField(queryset=Team.objects.none(), required=False, label="Teams")

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = _memberships(organization)
        self.fields["teams"].queryset = Team.objects.filter(organization=organization).order_by("name")


class ScheduleForm(forms.Form):
    enforce_at = forms.DateTimeField(
        label="Enforce from (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text="Members are emailed this date; a banner shows it until then.",
    )
    support_contact = forms.CharField(
        max_length=254,
        label="Support contact",
        help_text="Where members get help: an email address or an https:// URL.",
    )

    def clean_enforce_at(self) -> datetime:
        value = self.cleaned_data["enforce_at"]
        # The field says UTC; read it as UTC whatever the server's time zone.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def clean_support_contact(self) -> str:
        value = self.cleaned_data["support_contact"].strip()
        try:
            (URLValidator(schemes=["https"]) if value.startswith("https://") else EmailValidator())(value)
        except ValidationError:
            raise ValidationError("Enter an email address or an https:// URL.") from None
        return value


class ConfirmEnforcementForm(ScheduleForm):
    """The confirmation of enforcement, now or at ``enforce_at`` (``scheduled``): the support contact members are
    emailed, each owner or admin who would be locked out acknowledged by name (``blockers``: the blocking items of
    ``sso.rollout.scheduling.preview_enforcement``, refs are user ids), and the organization's slug typed by the person
    confirming. ``cleaned_data["acknowledge"]``: the acknowledged user ids."""

    acknowledge = forms.MultipleChoiceField(
        choices=[],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Owners and admins who would be locked out",
        help_text="Tick each person you accept to lose access, or link them or make them a recovery account first.",
    )
    confirm_slug = forms.CharField(
        max_length=100,
        label="Type the organization's slug to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}),
    )

    def __init__(
        self, *args: Any, organization: Organization, blockers: list[Any], scheduled: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.slug = organization.slug
        if not scheduled:
            del self.fields["enforce_at"]
        self.fields["acknowledge"].choices = [
            (item.ref, f"I accept that {item.name} is locked out") for item in blockers
        ]
        self.fields["confirm_slug"].help_text = f"Type {self.slug} exactly."

    def clean_confirm_slug(self) -> str:
        value = self.cleaned_data["confirm_slug"].strip()
        if value != self.slug:
            raise ValidationError(f"Type the organization's slug, {self.slug}, exactly to confirm.")
        return value

    def clean_acknowledge(self) -> list[int]:
        return [int(value) for value in self.cleaned_data["acknowledge"]]


class RollbackForm(forms.Form):
    to = forms.ChoiceField(
        choices=[(SSOConnection.Status.TESTING, "Testing"), (SSOConnection.Status.OFF, "Off")], initial="testing"
    )


class ExceptionForm(forms.Form):
    membership = _OneMember(queryset=Membership.objects.none(), label="Member")
    reason = forms.CharField(
        max_length=200,
        validators=[validate_plain_text],
        help_text="Why they keep password sign-in, e.g. “outside contractor”.",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["membership"].queryset = _memberships(organization)


class TickForm(forms.Form):
    note = forms.CharField(max_length=500, help_text="What you saw and how, e.g. “timed out after 15 min in Okta”.")


class TestRunForm(forms.Form):
    session_seconds = forms.TypedChoiceField(
        choices=TEST_SESSION_CHOICES, coerce=int, initial="0", required=False, empty_value=0, label="Test session"
    )


class DesignateForm(forms.Form):
    membership = _OneMember(queryset=Membership.objects.none(), label="Owner or admin")

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["membership"].queryset = _memberships(organization, (Role.OWNER, Role.ADMIN)).filter(
            recovery_account__isnull=True
        )


class DomainForm(forms.Form):
    domain = forms.CharField(max_length=253, help_text="e.g. example.com")


class SupportVerifyForm(forms.Form):
    note = forms.CharField(max_length=300, help_text="How ownership was checked, e.g. the ticket number.")


class RecoverySignInForm(forms.Form):
    # Named "username" like the password form (the lockout of orgsecurity.throttle counts failures per email).
    username = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True})
    )
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    recovery_code = forms.CharField(
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
        help_text="One of the codes you saved when you generated them, e.g. abcd-efgh-ijkl-mnop.",
    )

    def clean_username(self) -> str:
        return normalize_email(self.cleaned_data["username"])


class EmailStepForm(forms.Form):
    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    def clean_username(self) -> str:
        return normalize_email(self.cleaned_data["username"])
