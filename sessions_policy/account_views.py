"""Account pages of the sessions app: re-authentication (and resuming an interrupted form), and the person's
own list of sessions. These are not organization pages, so ``live_session_required`` applies the rules."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from orgsecurity import signin_state, throttle
from sessions_policy import actions, clock, resume
from sessions_policy.decorators import live_session_required
from sessions_policy.enforcement import LAST_SEEN_INTERVAL, rules_of_each_organization
from sessions_policy.listing import session_states
from sessions_policy.models import AuthMethod, UserSession
from sessions_policy.reauth import FACTOR_REAUTH, PROVIDERS, action_from, mark_reauthenticated
from sessions_policy.rules import SessionRules


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True})
    )


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts=set()) and candidate.startswith("/"):
        return candidate
    return "/"


@require_http_methods(["GET", "POST"])
@live_session_required
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Ask the signed-in person to prove who they are again, then continue to ``next``; ``action`` (from
    ``sessions_policy.reauth.sign_action``) names what it is for. The password is checked
    under the same lockout as sign-in (``orgsecurity.throttle``): while it holds, the answer is the lockout page
    (429) whether the password is right or wrong."""
    next_url = _safe_next(request)
    method = signin_state.auth_method(request) or AuthMethod.PASSWORD
    # ?method=password: an SSO session proving the account's own password (to open another organization).
    password_asked = (request.POST.get("method") or request.GET.get("method")) == AuthMethod.PASSWORD
    if method in PROVIDERS and not password_asked:
        return PROVIDERS[method](request, next_url)
    signed_action = request.POST.get("action") or request.GET.get("action") or ""
    for start in FACTOR_REAUTH:  # an account with a second factor proves itself with it (twofactor)
        response = start(request, next_url, signed_action if action_from(signed_action) else "")
        if response is not None:
            return response
    action = action_from(signed_action)
    context = {
        "next": next_url,
        "method": method,
        "password_asked": password_asked,
        "action": action,
        "signed_action": signed_action if action else "",
    }
    if not request.user.has_usable_password():
        # An SSO-only account whose IdP has no forced-login flow registered: a fresh sign-in is the way.
        return render(request, "sessions_policy/reauthenticate.html", {**context, "form": None}, status=403)
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data["password"]
        try:
            matches = throttle.verify(
                request,
                form="re-authentication",
                signing_in=False,
                email=request.user.email,
                check=lambda: request.user.is_active and request.user.check_password(password),
            )
        except throttle.LockedOut as exc:
            return throttle.lockout_response(request, exc=exc)
        if matches:
            mark_reauthenticated(request)
            signin_state.mark_password_proven(request)
            actions.record_reauthentication(request.user, method=AuthMethod.PASSWORD)
            return redirect(next_url)
        form.add_error("password", "That is not your password.")
    status = 400 if request.method == "POST" else 200
    return render(request, "sessions_policy/reauthenticate.html", {**context, "form": form}, status=status)


@require_safe
@live_session_required
def resume_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """After re-authenticating: show the interrupted form and let the person send it, or not."""
    suspended = resume.find_suspended(request, token)
    if suspended is None:
        return render(request, "sessions_policy/resume_gone.html", status=410)
    context = {"suspended": suspended, "resume_field": resume.RESUME_FIELD}
    return render(request, "sessions_policy/resume_confirm.html", context)


@require_POST
@live_session_required
def resume_cancel(request: HttpRequest, token: str) -> HttpResponse:
    """Throw a stashed form away and go back to the page it came from."""
    suspended = resume.discard_suspended(request, token)
    messages.info(request, "The form was not sent.")
    return redirect(suspended.form_page if suspended is not None else "home")


# --- your sessions -----------------------------------------------------------------------------------------


@require_safe
@live_session_required
def sessions(request: HttpRequest) -> HttpResponse:
    """The person's active sessions: device, IP, sign-in method, last seen; end any or all others."""
    # Leave out sessions that no organization of the person would still accept (idle or too old everywhere).
    every = rules_of_each_organization(request.user.pk) or [SessionRules.defaults()]
    now = clock.now()
    idle = max(rules.idle_timeout_s for rules in every) + LAST_SEEN_INTERVAL
    absolute = max(rules.absolute_timeout_s for rules in every)
    active = UserSession.objects.filter(
        user=request.user,
        revoked_at=None,
        last_seen_at__gte=now - timedelta(seconds=idle),
        authenticated_at__gt=now - timedelta(seconds=absolute),
    ).select_related("organization")
    current_key = request.session.session_key
    rows = [
        {"session": session, "current": session.session_key == current_key, "test_until": test_until}
        for session, test_until in session_states(active)
    ]
    rows.sort(key=lambda row: (not row["current"], -row["session"].last_seen_at.timestamp()))
    return render(request, "sessions_policy/account_sessions.html", {"rows": rows, "others": len(rows) - 1})


@require_POST
@live_session_required
def end_session(request: HttpRequest, session_id: int) -> HttpResponse:
    """End one of your sessions everywhere; ending the current one signs you out."""
    session = UserSession.objects.filter(pk=session_id, user=request.user, revoked_at=None).first()
    if session is None:
        raise Http404("No such session.")
    current = session.session_key == request.session.session_key
    actions.end_own_sessions(request.user, current_session_key=request.session.session_key, session=session)
    if current:
        logout(request)
        return redirect("login")
    messages.success(request, f"The session on {session.device} has ended.")
    return redirect("account_sessions")


@require_POST
@live_session_required
def end_other_sessions(request: HttpRequest) -> HttpResponse:
    """End every session of yours except this one."""
    count = actions.end_own_sessions(request.user, current_session_key=request.session.session_key)
    messages.success(
        request, f"{count} other session{'s' if count != 1 else ''} ended." if count else "No other sessions."
    )
    return redirect("account_sessions")
