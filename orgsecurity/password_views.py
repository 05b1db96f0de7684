"""Changing and resetting a password: Django's own views, with what this product adds around them.

- Every link handed out is built from PUBLIC_BASE_URL, never from the request's Host header (a forged Host would
  otherwise send the reset token to an attacker's domain).
- A change or reset is audited in each of the person's organizations and ends their other sessions.
- Reset emails go only to active accounts that have a password (SSO-only accounts have none); the page says the same
  thing whether or not an account exists, and one email per address and network per 5 minutes at most.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator

from orgsecurity import signin_state, throttle
from orgsecurity.auth import record_for_user_orgs
from orgsecurity.forms import ThrottledPasswordChangeForm
from orgsecurity.models import normalize_email
from sessions_policy.actions import follow_session_key, revoke_user_sessions
from sessions_policy.decorators import live_session_required

RESET_EMAIL_WINDOW_SECONDS = 300


@method_decorator([login_required, live_session_required], name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """/accounts/password/: the old password (under the lockout of ``orgsecurity.throttle``, failures audited),
    then the new one twice (Django's validators apply)."""

    form_class = ThrottledPasswordChangeForm
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("account_sessions")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().post(request, *args, **kwargs)
        except throttle.LockedOut as exc:
            return throttle.lockout_response(request, exc=exc)

    def form_valid(self, form: Any) -> HttpResponse:
        old_key = self.request.session.session_key
        response = super().form_valid(form)  # saves, and keeps this session signed in under a new key
        follow_session_key(old_key, self.request.session.session_key)
        user = form.user
        signin_state.mark_password_proven(self.request)
        revoke_user_sessions(
            user,
            actor=user,
            reason="Password changed.",
            keep_session_key=self.request.session.session_key,
        )
        record_for_user_orgs("auth.password_changed", user, actor=user, details={})
        messages.success(self.request, "Your password is changed. Your other sessions were ended.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """/accounts/password/reset/: ask for a reset link by email."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        email = normalize_email(form.cleaned_data["email"])
        network = throttle.lockout_address(self.request)  # an IPv6 client's whole /64, as for lockouts
        if cache.add(f"password-reset:{email}:{network}", True, RESET_EMAIL_WINDOW_SECONDS):
            base = urlsplit(settings.PUBLIC_BASE_URL)
            form.save(
                domain_override=base.netloc,
                use_https=base.scheme == "https",
                token_generator=self.token_generator,
                from_email=self.from_email,
                email_template_name=self.email_template_name,
                subject_template_name=self.subject_template_name,
                request=self.request,
            )
        return super(auth_views.PasswordResetView, self).form_valid(form)  # the same page either way


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """/accounts/reset/<uidb64>/<token>/: choose a new password; every session of the account ends."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        revoke_user_sessions(user, actor=user, reason="Password reset by email.")
        record_for_user_orgs("auth.password_reset", user, actor=user, details={})
        messages.success(self.request, "Your password is set. Sign in with it now.")
        return response


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"
