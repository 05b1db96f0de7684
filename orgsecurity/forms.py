"""Forms of the core app, and the form renderer that puts each error next to its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.forms.renderers import TemplatesSetting
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from orgsecurity import throttle
from orgsecurity.models import Organization, User, normalize_email
from orgsecurity.roles import Role
from orgsecurity.text import validate_plain_text


class FormRenderer(TemplatesSetting):
    """Renders ``{{ form.field.as_field_group }}`` as label, input, help and errors in Pico's markup."""

    field_template_name = "orgsecurity/forms/field.html"
    form_template_name = "orgsecurity/forms/form.html"


class EmailAuthenticationForm(AuthenticationForm):
    """Email and password sign-in; the email is trimmed and lower-cased before authenticating. The password is
    checked under the lockout (``orgsecurity.throttle.verify``): ``is_valid()`` raises ``throttle.LockedOut``."""

    username = forms.CharField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The email or password is not right. Check both and try again.",
    }

    def clean_username(self) -> str:
        return normalize_email(self.cleaned_data["username"])

    @sensitive_variables("password")
    def clean(self) -> dict[str, Any]:
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if email is not None and password:
            self.user_cache = throttle.verify(
                self.request,
                form="password",
                signing_in=True,
                email=email,
                check=lambda: throttle.password_user(self.request, email, password),
            )
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's password change form, with the old password checked under the lockout: ``is_valid()`` raises
    ``throttle.LockedOut`` while one holds for this account and network."""

    def __init__(self, user: User, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    @sensitive_variables("old_password")
    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        matches = throttle.verify(
            self.request,
            form="password change",
            signing_in=False,
            email=self.user.email,
            check=lambda: self.user.check_password(old_password),
        )
        if not matches:
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args: Any, assignable: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role.value, role.label) for role in assignable]

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class BillingForm(forms.Form):
    billing_email = forms.EmailField(max_length=254, required=False, help_text="Where invoices are sent.")
    plan_name = forms.ChoiceField(label="Plan", choices=Organization.Plan.choices)
    tax_id = forms.CharField(
        label="Tax ID",
        validators=[validate_plain_text],
        max_length=50,
        required=False,
        help_text="VAT or other tax number.",
    )


class SignupForm(forms.Form):
    """Create an account to accept an invitation (the email comes from the invitation)."""

    name = forms.CharField(max_length=150, validators=[validate_plain_text], required=False)
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords are different.")
        elif first:
            from orgsecurity.models import User

            try:
                password_validation.validate_password(first, User(email=self.email, name=cleaned.get("name", "")))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned
