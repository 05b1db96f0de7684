"""Re-authentication page: confirm your password, or go back to your IdP for a fresh login."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from sessions_policy.reauth import PROVIDERS, mark_reauthenticated


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True})
    )


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts=set()) and candidate.startswith("/"):
        return candidate
    return "/"


@login_required
@require_http_methods(["GET", "POST"])
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Ask the signed-in person to prove who they are again, then continue to ``next``."""
    next_url = _safe_next(request)
    method = request.session.get("auth_method", "password")
    if method in PROVIDERS:
        return PROVIDERS[method](request, next_url)
    form = PasswordConfirmForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        user = authenticate(request, username=request.user.email, password=form.cleaned_data["password"])
        if user is not None and user.pk == request.user.pk:
            mark_reauthenticated(request)
            return redirect(next_url)
        form.add_error("password", "That is not your password.")
    if request.method == "POST":
        status = 400
    return render(request, "sessions_policy/reauthenticate.html", {"form": form, "next": next_url}, status=status)
