"""Public sign-in pages shaped by SSO: email-first sign-in at /accounts/login/ and break-glass recovery sign-in at
/accounts/recovery/.

Email-first: the person enters an email; when its domain is verified by an organization that enforces SSO (or tests
it and the person is in the test group) they go straight to that organization's IdP, otherwise the password field is
shown. The answer depends on the domain, never on whether the address has an account. A correct password is still
refused when every organization of the account enforces SSO; the page then offers "Sign in with SSO".
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from audit.recorder import record_throttled
from orgsecurity import throttle
from orgsecurity.auth import begin_sign_in, sign_in_options
from orgsecurity.forms import EmailAuthenticationForm
from sso.recovery import accounts as recovery
from sso.rollout.enforcement import (
    enforced_connection,
    password_refused_by,
    route_for_email,
    sso_login_url,
)
from sso.rollout.forms import EmailStepForm, RecoverySignInForm
from sso.rollout.views import show_codes_once


class EmailFirstSignInView(LoginView):
    """/accounts/login/: email first, then the IdP or the password (django-axes still counts password failures;
    password posts are under the lockout of ``orgsecurity.throttle``)."""

    form_class = EmailAuthenticationForm
    template_name = "sso/sign_in.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if "step" not in context:
            context["step"] = "password"
        context["recovery_url"] = reverse("sso_recovery_sign_in")
        context["sign_in_options"] = sign_in_options()  # e.g. "Sign in with a passkey" (twofactor)
        return context

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.GET.get("method") == "password":
            return super().get(request, *args, **kwargs)
        return self.render_to_response(self.get_context_data(form=EmailStepForm(), step="email"))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "password" not in request.POST:
            return self._email_step(request)
        try:
            return super().post(request, *args, **kwargs)
        except throttle.LockedOut as exc:
            return throttle.lockout_response(request, exc=exc)

    def _email_step(self, request: HttpRequest) -> HttpResponse:
        form = EmailStepForm(request.POST)
        if not form.is_valid():
            context = self.get_context_data(form=form, step="email")
            return self.response_class(request, self.get_template_names(), context, status=400)
        email = form.cleaned_data["username"]
        route = route_for_email(email)
        if route.required:
            return redirect(sso_login_url(route.connection.organization, self.get_redirect_url()))
        password_form = EmailAuthenticationForm(request, initial={"username": email})
        context = self.get_context_data(form=password_form, step="password", offer=route.connection)
        return self.render_to_response(context)

    def form_valid(self, form: EmailAuthenticationForm) -> HttpResponse:
        user = form.get_user()
        refusing = password_refused_by(user)
        if not refusing:
            # Signed in now, or first asked for a second factor (orgsecurity.auth.begin_sign_in).
            url = begin_sign_in(
                self.request, user, method="password", backend=user.backend, next_url=self.get_success_url()
            )
            return redirect(url)
        for organization in refusing:
            record_throttled(
                "sso.password_sign_in_refused",
                throttle_key=f"{organization.pk}:{user.pk}",
                organization=organization,
                actor=user,
                target=user,
            )
        next_url = self.get_redirect_url()
        choices = [(organization, sso_login_url(organization, next_url)) for organization in refusing]
        context = self.get_context_data(form=form, step="refused", sso_choices=choices)
        return self.response_class(self.request, self.get_template_names(), context, status=403)


FAILED_RECOVERY = "The email, password or recovery code is not right. Check all three and try again."


@sensitive_post_parameters("password", "recovery_code")
@never_cache
@require_http_methods(["GET", "POST"])
def recovery_sign_in(request: HttpRequest) -> HttpResponse:
    """Break-glass sign-in for recovery accounts: email + password + one single-use recovery code. Works while SSO is
    enforced and the IdP is down (nothing here talks to the IdP). The password and code are checked together under
    the lockout every password form shares (``orgsecurity.throttle``): a wrong password or a wrong code is one
    failure, and while a lockout holds no code is used up. Every use is audited and emailed to the owners."""
    form = RecoverySignInForm(request.POST or None)
    if request.method == "GET":
        return render(request, "sso/recovery_sign_in.html", {"form": form})
    if not form.is_valid():
        return render(request, "sso/recovery_sign_in.html", {"form": form}, status=400)
    email, password, code = (form.cleaned_data[name] for name in ("username", "password", "recovery_code"))

    def check() -> tuple[Any, recovery.Redeemed] | None:
        user = throttle.password_user(request, email, password)
        redeemed = recovery.redeem(user, code) if user is not None else None
        return (user, redeemed) if redeemed is not None else None

    try:
        checked = throttle.verify(request, form="recovery", email=email, signing_in=True, check=check)
    except throttle.LockedOut as exc:
        return throttle.lockout_response(request, exc=exc)
    if checked is None:
        form.add_error(None, FAILED_RECOVERY)
        return render(request, "sso/recovery_sign_in.html", {"form": form}, status=400)
    user, redeemed = checked
    organization, remaining = redeemed.account.organization, redeemed.remaining
    # Outside the organization's IP allowlist only its allowlist page opens: land there (it says why), not on a 403.
    landing = recovery.restricted_landing(request, organization)
    if landing is None:
        connection = enforced_connection(organization)
        landing = reverse("sso:rollout", args=[organization.slug, connection.pk]) if connection else None
    landing = landing or reverse("sso:index", args=[organization.slug])
    codes_url = None
    if redeemed.new_codes:
        # The last code was just used: the new set goes to the one-time stash of this session and is shown once as
        # soon as the sign-in finishes (after the second factor, if one is asked; signing in keeps the session data).
        shown = show_codes_once(request, organization, redeemed.new_codes, regenerated=True, continue_url=landing)
        codes_url = shown.url
    # Signed in now, or first asked for the account's second factor (orgsecurity.auth.begin_sign_in).
    url = begin_sign_in(
        request,
        user,
        method="recovery",
        backend=user.backend,
        next_url=codes_url or landing,
        recovery_organization_id=redeemed.account.organization_id,
    )
    if codes_url:
        return redirect(url)
    messages.warning(
        request,
        f"You signed in to {organization.name} with a recovery code ({remaining} left). Every owner was emailed.",
    )
    return redirect(url)
