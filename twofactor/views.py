"""Account pages of two-factor authentication (under /accounts/2fa/): the factors page, authenticator app set-up,
backup codes, passkeys; the second sign-in step; sign in with a passkey; re-authentication with a factor."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from orgsecurity import auth, secrets_stash, signin_state, throttle
from orgsecurity.access import protect_action, protecting, reauthenticated
from orgsecurity.actions import ActionRefused
from orgsecurity.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret
from orgsecurity.errors import json_error
from orgsecurity.jsonbody import NotJSON, parse_json
from sessions_policy import actions as session_actions
from sessions_policy.decorators import live_session_required
from sessions_policy.reauth import action_from, mark_reauthenticated
from sso.rollout.enforcement import password_refused_by
from twofactor import actions, backup_codes, enforcement, factors, totp, webauthn_rp
from twofactor.models import WebAuthnCredential

TOTP_SETUP_SESSION_KEY = "twofactor.totp_setup"  # the pending authenticator-app secret, encrypted
TWO_FACTOR_FORM = "two-factor"  # the throttle's form name (orgsecurity.throttle.verify), shown in the audit log


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app, or a backup code",
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
    )


class SetupCodeForm(forms.Form):
    code = forms.CharField(
        label="Code the app shows", max_length=12, widget=forms.TextInput(attrs={"autocomplete": "one-time-code"})
    )


class PasswordAndCodeForm(CodeForm):
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    field_order = ["password", "code"]


def _safe_next(request: HttpRequest, default: str = "/") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts=set()) and candidate.startswith("/"):
        return candidate
    return default


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = parse_json(request.body or b"{}")
    except NotJSON:
        return {}
    return body if isinstance(body, dict) else {}


def _refused_json(exc: ActionRefused) -> JsonResponse:
    return json_error(exc.code, exc.message, exc.status)


def _code_check(user: Any, code: str) -> Any:
    return lambda: check_code(user, code)


def check_code(user: Any, code: str) -> bool:
    """A code from the authenticator app (once per time step) or an unused backup code of ``user``."""
    if backup_codes.looks_like_backup_code(code):
        return actions.use_backup_code(user, code)
    return actions.use_totp(user, code)


# --- the factors page --------------------------------------------------------------------------------------------


@require_safe
@live_session_required
def account(request: HttpRequest) -> HttpResponse:
    """The account's second factors: passkeys and security keys, the authenticator app, backup codes."""
    user = request.user
    context = {
        "credentials": WebAuthnCredential.objects.filter(user=user),
        "totp": getattr(user, "totp_device", None) if factors.has_totp(user) else None,
        "backup_codes_left": factors.unused_backup_codes(user),
        "passkeys_unavailable": webauthn_rp.unavailable_reason(),
        "requiring": factors.requiring_organizations(user),
        "next": _safe_next(request, ""),
    }
    return render(request, "twofactor/account.html", context)


def _after_first_factor(request: HttpRequest, *, next_url: str) -> HttpResponse:
    """Right after a factor is added: give the first set of backup codes (once), else go on."""
    if factors.unused_backup_codes(request.user) == 0:
        codes = actions.regenerate_backup_codes(request.user, actor=request.user)
        ticket = secrets_stash.stash(request, "backup_codes", "\n".join(codes), next=next_url)
        return redirect(f"{reverse('twofactor:backup_codes')}?{urlencode({'ticket': ticket})}")
    return redirect(next_url or reverse("twofactor:account"))


# --- authenticator app --------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@live_session_required
def totp_setup(request: HttpRequest) -> HttpResponse:
    """POST (no code): start setting up an authenticator app (a new secret, kept encrypted in the session). GET: its
    QR code and the confirmation form. POST with a code: confirm it (re-authentication first)."""
    next_url = _safe_next(request, "")
    if request.method == "POST" and "code" not in request.POST:
        request.session[TOTP_SETUP_SESSION_KEY] = encrypt_secret(totp.new_secret())
        return redirect(f"{reverse('twofactor:totp_setup')}?{urlencode({'next': next_url})}")
    try:
        secret = decrypt_secret(request.session.get(TOTP_SETUP_SESSION_KEY) or "")
    except SecretDecryptionError:
        secret = ""
    if not secret:
        messages.info(request, "Start again: choose “Set up an authenticator app”.")
        return redirect("twofactor:account")
    if request.method == "POST":
        protect_action(request, "add an authenticator app")
        return _confirm_totp(request, secret=secret, next_url=next_url)
    return _totp_page(request, secret, SetupCodeForm(), next_url)


def _totp_page(request: HttpRequest, secret: str, form: forms.Form, next_url: str, status: int = 200) -> HttpResponse:
    uri = totp.provisioning_uri(secret, request.user.email)
    context = {"qr_svg": totp.qr_svg(uri), "secret": secret, "form": form, "next": next_url}
    response = render(request, "twofactor/totp_setup.html", context, status=status)
    add_never_cache_headers(response)
    return response


@reauthenticated
def _confirm_totp(request: HttpRequest, *, secret: str, next_url: str) -> HttpResponse:
    form = SetupCodeForm(request.POST)
    if not form.is_valid():
        return _totp_page(request, secret, form, next_url, status=400)
    try:
        actions.enable_totp(request.user, actor=request.user, secret=secret, code=form.cleaned_data["code"])
    except ActionRefused as exc:
        form.add_error("code", exc.message)
        return _totp_page(request, secret, form, next_url, status=exc.status)
    request.session.pop(TOTP_SETUP_SESSION_KEY, None)
    messages.success(request, "Your authenticator app is set up.")
    return _after_first_factor(request, next_url=next_url)


@require_POST
@live_session_required
def totp_remove(request: HttpRequest) -> HttpResponse:
    protect_action(request, "remove your authenticator app")
    return _totp_remove(request)


@reauthenticated
def _totp_remove(request: HttpRequest) -> HttpResponse:
    try:
        actions.remove_totp(request.user, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("twofactor:account")
    messages.success(request, "Your authenticator app was removed.")
    return redirect("twofactor:account")


# --- backup codes --------------------------------------------------------------------------------------------


@require_POST
@live_session_required
def backup_codes_regenerate(request: HttpRequest) -> HttpResponse:
    protect_action(request, "generate new backup codes")
    return _backup_codes_regenerate(request)


@reauthenticated
def _backup_codes_regenerate(request: HttpRequest) -> HttpResponse:
    if not factors.has_factor(request.user):
        messages.error(request, "Set up a passkey or an authenticator app first: backup codes stand in for one.")
        return redirect("twofactor:account")
    codes = actions.regenerate_backup_codes(request.user, actor=request.user)
    ticket = secrets_stash.stash(request, "backup_codes", "\n".join(codes), next="")
    return redirect(f"{reverse('twofactor:backup_codes')}?{urlencode({'ticket': ticket})}")


@require_safe
@live_session_required
def backup_codes_show(request: HttpRequest) -> HttpResponse:
    """The new backup codes, once (``orgsecurity.secrets_stash``)."""
    taken = secrets_stash.take(request, "backup_codes", request.GET.get("ticket", ""))
    next_url = str(taken.details.get("next") or "") if taken else ""
    if not (next_url.startswith("/") and url_has_allowed_host_and_scheme(next_url, allowed_hosts=set())):
        next_url = reverse("twofactor:account")
    context = {"codes": taken.value.split("\n") if taken else None, "continue_url": next_url}
    response = render(request, "twofactor/backup_codes.html", context)
    add_never_cache_headers(response)
    return response


# --- passkeys ------------------------------------------------------------------------------------------------


def _passkeys_available() -> JsonResponse | None:
    reason = webauthn_rp.unavailable_reason()
    return json_error("passkeys_unavailable", reason, 409) if reason else None


@require_POST
@live_session_required
@protecting("add a passkey")
@reauthenticated
def passkey_register_options(request: HttpRequest) -> HttpResponse:
    """JSON creation options for a new passkey (re-authentication first: JSON 401 otherwise)."""
    refused = _passkeys_available()
    if refused is not None:
        return refused
    return HttpResponse(webauthn_rp.registration_options(request, request.user), content_type="application/json")


@require_POST
@live_session_required
@protecting("add a passkey")
@reauthenticated
def passkey_register(request: HttpRequest) -> HttpResponse:
    """Store the new passkey the browser created (``{"credential": ..., "name": ...}``); answers ``{"redirect"}``."""
    body = _json_body(request)
    try:
        verified = webauthn_rp.verify_registration(request, request.user, body.get("credential") or {})
        actions.add_credential(request.user, actor=request.user, name=str(body.get("name") or ""), **verified)
    except ActionRefused as exc:
        return _refused_json(exc)
    messages.success(request, "Your passkey is added.")
    response = _after_first_factor(request, next_url=_safe_next(request, ""))
    return JsonResponse({"redirect": response["Location"]})


@require_POST
@live_session_required
def passkey_remove(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = WebAuthnCredential.objects.filter(pk=credential_id, user=request.user).select_related("user").first()
    if credential is None:
        raise Http404("No such passkey.")
    protect_action(request, f"remove the passkey {credential.name}")
    return _passkey_remove(request, credential=credential)


@reauthenticated
def _passkey_remove(request: HttpRequest, *, credential: WebAuthnCredential) -> HttpResponse:
    try:
        actions.remove_credential(credential, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("twofactor:account")
    messages.success(request, f"The passkey {credential.name} was removed.")
    return redirect("twofactor:account")


# --- the second sign-in step ---------------------------------------------------------------------------------


def _pending_or_login(request: HttpRequest) -> Any:
    return auth.pending_user(request)


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of a password or recovery sign-in: a passkey (offered first), a code from the authenticator
    app, or a backup code. Nobody is signed in until it succeeds (``orgsecurity.auth.complete_pending_sign_in``).
    Codes are checked under the lockout every password form shares (``orgsecurity.throttle``)."""
    user = _pending_or_login(request)
    if user is None:
        messages.info(request, "Sign in again: that sign-in expired.")
        return redirect("login")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            code = form.cleaned_data["code"]
            try:
                ok = throttle.verify(
                    request,
                    form=TWO_FACTOR_FORM,
                    email=user.email,
                    signing_in=True,
                    check=_code_check(user, code),
                )
            except throttle.LockedOut as exc:
                return throttle.lockout_response(request, exc=exc)
            if ok:
                return redirect(auth.complete_pending_sign_in(request) or "login")
            form.add_error("code", "That code is not right, or was used already.")
        status = 400
    context = {
        "form": form,
        "has_passkey": factors.has_passkey(user) and not webauthn_rp.unavailable_reason(),
        "has_totp": factors.has_totp(user),
        "email": user.email,
    }
    return render(request, "twofactor/verify.html", context, status=status)


@require_POST
def verify_passkey_options(request: HttpRequest) -> HttpResponse:
    """JSON request options for the pending account's passkeys (second step)."""
    user = _pending_or_login(request)
    if user is None:
        return json_error("no_pending_sign_in", "Sign in again: that sign-in expired.", 401)
    refused = _passkeys_available()
    if refused is not None:
        return refused
    options = webauthn_rp.authentication_options(request, webauthn_rp.SECOND_FACTOR, user)
    return HttpResponse(options, content_type="application/json")


def _checked_assertion(request: HttpRequest, user: Any, purpose: str, *, signing_in: bool, form: str) -> Any:
    """Verify the posted assertion for ``user`` under the throttle; returns the credential, or raises
    ``WebAuthnRefused`` / ``throttle.LockedOut``."""
    body = _json_body(request)
    refusal: list[ActionRefused] = []

    def check() -> Any:
        try:
            return webauthn_rp.verify_authentication(request, body.get("credential") or {}, purpose, user)
        except webauthn_rp.WebAuthnRefused as exc:
            refusal.append(exc)
            return None

    checked = throttle.verify(request, form=form, email=user.email, signing_in=signing_in, check=check)
    if checked is None:
        raise refusal[0] if refusal else webauthn_rp.WebAuthnRefused("The passkey was not accepted.")
    credential, sign_count = checked
    actions.record_credential_use(credential, new_sign_count=sign_count)
    return credential


@require_POST
def verify_passkey(request: HttpRequest) -> HttpResponse:
    """Check the passkey assertion of the second step; answers ``{"redirect": url}`` once signed in."""
    user = _pending_or_login(request)
    if user is None:
        return json_error("no_pending_sign_in", "Sign in again: that sign-in expired.", 401)
    try:
        _checked_assertion(request, user, webauthn_rp.SECOND_FACTOR, signing_in=True, form=TWO_FACTOR_FORM)
    except throttle.LockedOut:
        return json_error("locked_out", "Too many failed attempts: wait and try again later.", 429)
    except ActionRefused as exc:
        return _refused_json(exc)
    return JsonResponse({"redirect": auth.complete_pending_sign_in(request) or reverse("login")})


# --- sign in with a passkey ----------------------------------------------------------------------------------


@require_POST
def passkey_sign_in_options(request: HttpRequest) -> HttpResponse:
    """JSON request options for "Sign in with a passkey" (any discoverable credential, user verification
    required)."""
    refused = _passkeys_available()
    if refused is not None:
        return refused
    return HttpResponse(
        webauthn_rp.authentication_options(request, webauthn_rp.SIGN_IN), content_type="application/json"
    )


@require_POST
def passkey_sign_in(request: HttpRequest) -> HttpResponse:
    """Sign in with a passkey alone (it is two factors in one: the device and its user verification). Refused,
    like a password, when every organization of the account enforces SSO."""
    body = _json_body(request)
    owner = webauthn_rp.credential_owner(body.get("credential") or {})
    try:
        if owner is None:  # no such credential: refused (nobody's failure to count)
            webauthn_rp.verify_authentication(request, body.get("credential") or {}, webauthn_rp.SIGN_IN)
            raise webauthn_rp.WebAuthnRefused("This passkey is not registered here.", code="unknown_credential")
        # A failed assertion of a registered passkey counts against its account, like a wrong password.
        credential = _checked_assertion(request, owner, webauthn_rp.SIGN_IN, signing_in=True, form="passkey")
    except throttle.LockedOut:
        return json_error("locked_out", "Too many failed attempts: wait and try again later.", 429)
    except ActionRefused as exc:
        return _refused_json(exc)
    user = credential.user
    if not user.is_active:
        return json_error("inactive", "This account is deactivated.", 403)
    if password_refused_by(user):
        return json_error(
            "sso_required",
            "Your organizations require single sign-on: sign in through your identity provider instead.",
            403,
        )
    signin_state.clear_pending_sign_in(request)
    url = auth.begin_sign_in(
        request,
        user,
        method=signin_state.METHOD_PASSKEY,
        backend="django.contrib.auth.backends.ModelBackend",
        next_url=_safe_next(request, "/"),
    )
    return JsonResponse({"redirect": url})


# --- re-authentication with a factor -------------------------------------------------------------------------


def start_reauthentication(request: HttpRequest, next_url: str, signed_action: str) -> HttpResponse | None:
    """Registered with ``sessions_policy.reauth.register_factor_reauth``: accounts with a factor re-authenticate on
    this app's page (a passkey, else password and a code)."""
    if not factors.has_factor(request.user):
        return None
    query = {"next": next_url, **({"action": signed_action} if signed_action else {})}
    return redirect(f"{reverse('twofactor:reauthenticate')}?{urlencode(query)}")


def _reauthenticated(request: HttpRequest, method: str) -> None:
    mark_reauthenticated(request)
    signin_state.mark_password_proven(request)
    session_actions.record_reauthentication(request.user, method=method)


@sensitive_post_parameters("password", "code")
@never_cache
@require_http_methods(["GET", "POST"])
@live_session_required
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Confirm it is you with a factor: a passkey with user verification for accounts that have one, else the
    password and a code (authenticator app or backup code), both under the shared lockout."""
    user = request.user
    next_url = _safe_next(request)
    signed_action = request.POST.get("action") or request.GET.get("action") or ""
    passkey = factors.has_passkey(user) and not webauthn_rp.unavailable_reason()
    form = PasswordAndCodeForm(request.POST or None) if not passkey else None
    status = 200
    if request.method == "POST" and form is not None:
        status = 400
        if form.is_valid():
            password, code = form.cleaned_data["password"], form.cleaned_data["code"]
            try:
                password_ok = throttle.verify(
                    request,
                    form="re-authentication",
                    email=user.email,
                    signing_in=False,
                    check=lambda: user.is_active and user.check_password(password),
                )
                code_ok = password_ok and throttle.verify(
                    request,
                    form=TWO_FACTOR_FORM,
                    email=user.email,
                    signing_in=False,
                    check=_code_check(user, code),
                )
            except throttle.LockedOut as exc:
                return throttle.lockout_response(request, exc=exc)
            if password_ok and code_ok:
                _reauthenticated(request, "password + second factor")
                return redirect(next_url)
            form.add_error(None, "The password or the code is not right (a code works once).")
    context = {
        "form": form,
        "passkey": passkey,
        "next": next_url,
        "action": action_from(signed_action),
        "signed_action": signed_action,
    }
    return render(request, "twofactor/reauthenticate.html", context, status=status)


@require_POST
@live_session_required
def reauth_passkey_options(request: HttpRequest) -> HttpResponse:
    """JSON request options for re-authenticating with one of the account's passkeys (user verification required)."""
    refused = _passkeys_available()
    if refused is not None:
        return refused
    options = webauthn_rp.authentication_options(request, webauthn_rp.REAUTH, request.user)
    return HttpResponse(options, content_type="application/json")


@require_POST
@live_session_required
def reauth_passkey(request: HttpRequest) -> HttpResponse:
    """Check the re-authentication assertion; answers ``{"redirect": next}``."""
    try:
        _checked_assertion(request, request.user, webauthn_rp.REAUTH, signing_in=False, form="re-authentication")
    except throttle.LockedOut:
        return json_error("locked_out", "Too many failed attempts: wait and try again later.", 429)
    except ActionRefused as exc:
        return _refused_json(exc)
    _reauthenticated(request, "passkey")
    return JsonResponse({"redirect": _safe_next(request)})


# --- set-up an organization requires -------------------------------------------------------------------------


@require_safe
@live_session_required
def setup_required(request: HttpRequest) -> HttpResponse:
    """Where a sign-in without a factor lands when an organization requires one: which, until when, and the way to
    set one up; "Continue" while every requiring organization is still in its grace period."""
    next_url = _safe_next(request)
    if factors.has_factor(request.user):
        return redirect(next_url)
    rows = enforcement.grace_banner(request)
    context = {
        "rows": rows,
        "next": next_url,
        "may_continue": bool(rows) and not any(row["enforced"] for row in rows),
        "passkeys_unavailable": webauthn_rp.unavailable_reason(),
    }
    return render(request, "twofactor/setup_required.html", context)
