"""Forms for OpenID Connect connections. The client secret field never shows a stored value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from orgsecurity.actions import ActionRefused
from orgsecurity.text import validate_plain_text
from sso.models import OIDCSettings
from sso.oidc import actions
from sso.oidc.discovery import SIGNING_ALGORITHMS
from sso.oidc.presets import DEFAULT_PRESET, preset_choices


def _via(cleaner: Callable[[Any], Any], value: Any) -> Any:
    try:
        return cleaner(value)
    except ActionRefused as exc:
        raise forms.ValidationError(exc.message) from None


class OIDCConnectionForm(forms.Form):
    """Create a connection: the provider's issuer (discovered server-side), our client there, scopes, mapping."""

    name = forms.CharField(
        max_length=100,
        required=False,
        validators=[validate_plain_text],
        help_text="What your people call the IdP, e.g. “Okta”.",
    )
    issuer = forms.CharField(
        label="Issuer URL",
        max_length=1024,
        help_text="The provider's issuer, e.g. https://acme.okta.com or https://login.microsoftonline.com/<tenant "
        "ID>/v2.0. Its /.well-known/openid-configuration is read from there.",
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    client_id = forms.CharField(
        label="Client ID", max_length=255, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    client_secret = forms.CharField(
        label="Client secret",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text="Stored encrypted and never shown again.",
    )
    scopes = forms.CharField(
        max_length=500, initial=actions.DEFAULT_SCOPES, help_text="Space-separated; must include openid."
    )
    preset = forms.ChoiceField(
        label="Claim mapping",
        choices=preset_choices(),
        initial=DEFAULT_PRESET,
        help_text="You can edit the mapping later.",
    )

    def clean_client_id(self) -> str:
        return _via(actions.clean_client_id, self.cleaned_data["client_id"])

    def clean_client_secret(self) -> str:
        return _via(actions.clean_client_secret, self.cleaned_data["client_secret"])

    def clean_scopes(self) -> str:
        return _via(actions.clean_scopes, self.cleaned_data["scopes"])


class OIDCSettingsForm(forms.Form):
    """Change a connection's OIDC settings. Discovery runs again when the issuer changes or when asked."""

    issuer = forms.CharField(
        label="Issuer URL", max_length=1024, widget=forms.URLInput(attrs={"spellcheck": "false", "autocomplete": "off"})
    )
    refresh_discovery = forms.BooleanField(
        label="Read the provider's discovery document again (new endpoints or signing algorithms)", required=False
    )
    client_id = forms.CharField(
        label="Client ID", max_length=255, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    client_secret = forms.CharField(
        label="New client secret",
        max_length=1024,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text="Leave empty to keep the stored secret.",
    )
    scopes = forms.CharField(max_length=500, help_text="Space-separated; must include openid.")
    allowed_algorithms = forms.MultipleChoiceField(
        label="Allowed ID token signing algorithms",
        choices=[(alg, alg) for alg in SIGNING_ALGORITHMS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Shared-secret (HS*) and unsigned tokens are always refused.",
    )
    accept_missing_email_verified = forms.BooleanField(
        label="Trust the email claim for JIT provisioning even when the provider sends no email_verified claim",
        required=False,
        help_text="Only for providers that manage every email they assert (e.g. Microsoft Entra ID). An explicit "
        "email_verified: false is never trusted.",
    )
    rp_initiated_logout = forms.BooleanField(
        label="Signing out here also signs out at the provider (RP-initiated logout)",
        required=False,
        help_text="Sends the browser to the provider's end_session_endpoint with id_token_hint and "
        "post_logout_redirect_uri; register that URI at the provider.",
    )
    preset = forms.ChoiceField(
        label="Replace the claim mapping with a preset",
        choices=[("", "Keep the current mapping"), *preset_choices()],
        required=False,
    )

    def __init__(self, *args: Any, configured: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not configured:
            self.fields["client_secret"].required = True
            self.fields["client_secret"].label = "Client secret"
            self.fields["client_secret"].help_text = "Stored encrypted and never shown again."

    @classmethod
    def initial_for(cls, oidc: OIDCSettings | None) -> dict[str, Any]:
        if oidc is None:
            return {"scopes": actions.DEFAULT_SCOPES, "allowed_algorithms": ["RS256", "ES256"]}
        return {
            "issuer": oidc.issuer,
            "client_id": oidc.client_id,
            "scopes": oidc.scopes,
            "allowed_algorithms": oidc.allowed_algorithms,
            "accept_missing_email_verified": oidc.accept_missing_email_verified,
            "rp_initiated_logout": oidc.rp_initiated_logout,
        }

    def clean_client_id(self) -> str:
        return _via(actions.clean_client_id, self.cleaned_data["client_id"])

    def clean_client_secret(self) -> str:
        secret = self.cleaned_data["client_secret"]
        return _via(actions.clean_client_secret, secret) if secret.strip() else ""

    def clean_scopes(self) -> str:
        return _via(actions.clean_scopes, self.cleaned_data["scopes"])

    def clean_allowed_algorithms(self) -> list[str]:
        return _via(actions.clean_algorithms, self.cleaned_data["allowed_algorithms"])
