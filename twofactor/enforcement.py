"""Where two-factor authentication is asked for and enforced:

- ``second_step`` (registered with ``orgsecurity.auth.register_second_step``): after a correct password or recovery
  code, an account with a factor is asked for it before it is signed in.
- ``setup_landing`` (``register_after_sign_in``): a password sign-in of an account without a factor, in an
  organization that requires one, lands on factor set-up (with a banner during the grace period).
- ``check_two_factor`` (in ``settings.ORG_PIPELINE_CHECKS``): after the grace period, that organization's pages stay
  closed to a password session of an account without a factor, until it sets one up. Reads stored state only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from orgsecurity import signin_state
from orgsecurity.accessors import load_org_context
from orgsecurity.auth import PASSWORD_METHODS
from orgsecurity.refusals import Refusal
from sessions_policy import clock
from twofactor import factors
from twofactor.models import TwoFactorPolicy
from twofactor.webauthn_rp import unavailable_reason

# Sign-ins a second factor applies to: the account's own password (and break-glass recovery). A passkey sign-in is
# already two factors in one; SSO sign-ins are governed by the IdP.
FACTOR_METHODS = frozenset({signin_state.METHOD_PASSWORD, signin_state.METHOD_RECOVERY})


def second_step(request: HttpRequest, user: Any, method: str) -> str | None:
    """The second-factor page for an account with a factor signing in with ``method`` password or recovery."""
    if method in FACTOR_METHODS and factors.has_factor(user):
        return reverse("twofactor:verify")
    return None


def passkey_sign_in_option() -> str | None:
    """The sign-in page's "Sign in with a passkey" button, when passkeys can work here."""
    return None if unavailable_reason() else "twofactor/_passkey_sign_in.html"


def setup_landing(request: HttpRequest, user: Any, method: str, next_url: str) -> str | None:
    """Factor set-up (then ``next_url``) for a password sign-in of an account without a factor in an organization
    that requires one (grace period or not)."""
    if method not in FACTOR_METHODS or factors.has_factor(user) or not factors.requiring_organizations(user):
        return None
    return f"{reverse('twofactor:setup_required')}?{urlencode({'next': next_url})}"


def needs_setup_for(request: HttpRequest, organization: Any) -> TwoFactorPolicy | None:
    """The organization's policy when it requires a factor this session lacks (a password-proven session of an
    account without a factor); None otherwise."""
    try:
        policy = organization.two_factor_policy  # loaded with the membership (settings.ORG_CONTEXT_RELATED)
    except TwoFactorPolicy.DoesNotExist:
        return None
    if not policy.required:
        return None
    if signin_state.auth_method(request) not in PASSWORD_METHODS or factors.has_factor(request.user):
        return None
    return policy


def check_two_factor(request: HttpRequest, org_slug: str) -> Refusal | None:
    """Close the organization's pages to a password session of an account without a factor once the organization
    requires one and its grace period is over; the refusal sends the person to set one up."""
    org = load_org_context(request, org_slug)
    if org is None or not request.user.is_authenticated:
        return None
    policy = needs_setup_for(request, org.organization)
    if policy is None or not policy.enforced(clock.now()):
        return None
    setup = f"{reverse('twofactor:setup_required')}?{urlencode({'next': request.get_full_path()})}"
    return Refusal(
        "two_factor_required",
        f"{org.organization.name} requires two-factor authentication. Set up a passkey or an authenticator app "
        "to open its pages.",
        status=403,
        redirect_to=setup,
    )


def grace_banner(request: HttpRequest) -> list[dict[str, Any]]:
    """For the banner: the organizations that require a factor this session's account lacks, with their grace
    period's end (``{"organization", "grace_ends_at", "enforced"}``)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or signin_state.auth_method(request) not in PASSWORD_METHODS:
        return []
    policies = list(
        TwoFactorPolicy.objects.filter(
            organization__memberships__user=user, organization__memberships__suspended_at__isnull=True, required=True
        )
        .select_related("organization")
        .order_by("organization__name")
    )
    if not policies or factors.has_factor(user):  # one query for everyone whose organizations require nothing
        return []
    now = clock.now()
    return [
        {"organization": policy.organization, "grace_ends_at": policy.grace_ends_at, "enforced": policy.enforced(now)}
        for policy in policies
    ]
