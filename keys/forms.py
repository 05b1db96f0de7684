"""Forms of the keys pages: issue, rotate, revoke, the key policy, service accounts and workloads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms

from keys import scopes as api_scopes
from keys.actions import KEY_MANAGERS, MAX_CIDRS, MAX_LIFETIME_DAYS
from keys.models import APIKey, KeyPolicy, ServiceAccount, Workload
from orgsecurity.accessors import OrgContext
from orgsecurity.models import Project, Team
from orgsecurity.roles import Role
from orgsecurity.text import validate_plain_text

PERSONAL = "me"


class CreateKeyForm(forms.Form):
    """Issue a key. Owners and admins choose between a personal key and a service account's key; members get
    read-only personal keys and see only their own teams and those teams' projects."""

    name = forms.CharField(
        max_length=100, validators=[validate_plain_text], help_text="What uses it, e.g. 'nightly export'."
    )
    owner = forms.ChoiceField(label="Owner")
    permission = forms.ChoiceField(choices=APIKey.Permission.choices, initial=APIKey.Permission.READ)
    teams = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    projects = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    workloads = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Requests must declare one of these in the X-Workload header.",
    )
    allowed_cidrs = forms.CharField(
        label="Allowed networks",
        required=False,
        max_length=MAX_CIDRS * 50,  # room for MAX_CIDRS of the longest IPv6 blocks and separators
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "203.0.113.0/24\n2001:db8::/32"}),
        help_text="CIDR ranges or addresses, one per line or comma-separated. Empty: any network.",
    )
    expires_in_days = forms.IntegerField(
        label="Expires in (days)", required=False, min_value=1, max_value=MAX_LIFETIME_DAYS
    )
    scopes = forms.MultipleChoiceField(
        label="Admin API scopes",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may do under /api/v1/orgs/…/. None: it reaches only whoami and projects.",
    )

    def __init__(self, *args: Any, org: OrgContext, policy: KeyPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        organization = org.organization
        manager = org.role in KEY_MANAGERS
        owners = [(PERSONAL, f"Me ({org.membership.user.email})")]
        if manager:
            owners += [
                (f"sa:{account.pk}", str(account))
                for account in ServiceAccount.objects.filter(organization=organization)
            ]
        self.fields["owner"].choices = owners
        teams = Team.objects.filter(organization=organization)
        projects = Project.objects.filter(organization=organization).select_related("team")
        if not manager:
            teams = teams.filter(members=org.membership)
            projects = projects.filter(team__members=org.membership)
            self.fields["permission"].choices = [(APIKey.Permission.READ, APIKey.Permission.READ.label)]
            self.fields["projects"].help_text = "Members' keys are read-only and reach only their own teams."
        self.fields["teams"].choices = [(str(team.pk), team.name) for team in teams]
        self.fields["projects"].choices = [
            (str(project.pk), f"{project.name} ({project.team.name})") for project in projects
        ]
        # Write scopes only for owners' and admins' own keys, and on service accounts' keys only when an owner
        # issues them (keys.scopes.scope_refusal judges again when the key is issued).
        scope_choices = [(name, f"{name}: {phrase}") for name, phrase in api_scopes.SCOPES.items()]
        if not manager:
            scope_choices = [choice for choice in scope_choices if choice[0] not in api_scopes.WRITE_SCOPES]
        self.fields["scopes"].choices = scope_choices
        self.fields["workloads"].choices = [
            (workload.name, workload.name) for workload in Workload.objects.filter(organization=organization)
        ]
        if policy.max_lifetime_days:
            self.fields["expires_in_days"].required = True
            self.fields["expires_in_days"].help_text = f"Policy: at most {policy.max_lifetime_days} days."
            self.fields["expires_in_days"].initial = policy.max_lifetime_days
        elif policy.require_expiry:
            self.fields["expires_in_days"].required = True
            self.fields["expires_in_days"].help_text = "Policy: every key must expire."
        else:
            self.fields["expires_in_days"].help_text = "Empty: never expires (the stale report lists such keys)."

    def service_account_id(self) -> int | None:
        owner = self.cleaned_data["owner"]
        return None if owner == PERSONAL else int(owner.removeprefix("sa:"))

    def cidr_list(self) -> list[str]:
        return self.cleaned_data["allowed_cidrs"].replace(",", "\n").splitlines()

    def lifetime(self) -> timedelta | None:
        days = self.cleaned_data.get("expires_in_days")
        return timedelta(days=days) if days else None


OVERLAP_CHOICES = [
    (0, "No overlap: the old secret stops now"),
    (3600, "1 hour"),
    (24 * 3600, "1 day"),
    (3 * 24 * 3600, "3 days"),
    (7 * 24 * 3600, "7 days"),
]


class RotateForm(forms.Form):
    """Choose how long the old secret keeps working after a rotation (0 to 7 days)."""

    overlap_seconds = forms.TypedChoiceField(
        label="Keep the old secret working for",
        choices=OVERLAP_CHOICES,
        coerce=int,
        initial=24 * 3600,
        help_text="Time to deploy the new secret everywhere the old one is used.",
    )


class RevokeForm(forms.Form):
    """Why the key is revoked (required; kept with the key and in the audit log)."""

    reason = forms.CharField(
        max_length=200, validators=[validate_plain_text], help_text="Kept with the key and in the audit log."
    )


class APISecurityChangesForm(forms.Form):
    """The owners' switch "allow security changes through the API" (``keys.actions.set_api_security_changes``)."""

    allow_api_security_changes = forms.BooleanField(
        label="Allow security changes through the API",
        required=False,
        help_text=(
            "On: keys with the security:write scope may change security settings. Off (the default): no key can, "
            "whatever its scopes."
        ),
    )


class PolicyForm(forms.Form):
    """The organization's key policy (owners)."""

    require_expiry = forms.BooleanField(label="Every key must have an expiry date", required=False)
    max_lifetime_days = forms.IntegerField(
        label="Maximum lifetime (days)",
        required=False,
        min_value=1,
        max_value=MAX_LIFETIME_DAYS,
        help_text="Empty: no maximum. A maximum also means every key must expire.",
    )
    allow_unrestricted = forms.BooleanField(
        label="Allow keys that are not restricted to teams, projects or workloads", required=False
    )


class NamedForm(forms.Form):
    """A slug-like name and a description: for service accounts and workloads."""

    name = forms.CharField(
        max_length=50,
        validators=[validate_plain_text],
        help_text="Lower-case letters, digits and hyphens, e.g. 'batch-export'.",
    )
    description = forms.CharField(max_length=200, validators=[validate_plain_text], required=False)


def may_hold_keys(role: str) -> bool:
    """Billing and auditor roles hold no API keys."""
    return role in KEY_MANAGERS or role == Role.MEMBER
