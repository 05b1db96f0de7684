"""The answer a person gets when an SSO sign-in is refused (``sso.errors.SSOSignInRefused``,
``sso.saml.response.SAMLResponseRejected``): audited per connection, client and reason, then rendered by the one
refusal renderer, ``orgsecurity.errors.render_refusal`` (the SSO refusal page, or JSON for programs)."""

from __future__ import annotations

import logging
import uuid

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from audit.recorder import Target, record_throttled, throttled_request_id
from orgsecurity.client_ip import client_ip
from orgsecurity.errors import render_refusal
from orgsecurity.models import Membership
from orgsecurity.refusals import Refusal
from orgsecurity.roles import Role
from sso.models import SSOConnection

logger = logging.getLogger("sso.signin")

# Refusals whose message is written for the person signing in (what they can do about it): shown as they are.
# Every other refusal (the IdP's answer broke a protocol rule) gets a plain sentence, and its own message goes to
# the "details for your admin" part of the page.
MEMBER_CODES = frozenset(
    {
        "sso_off",
        "not_linked",
        "not_linked_privileged",
        "no_jit",
        "no_email",
        "no_jit_domain",
        "no_jit_testing",
        "inactive",
        "not_member",
        "not_in_test_group",
        "other_browser",
        "expired",
        "too_many_sign_in_starts",
        "sso_unavailable",
        "unknown_request",
        "email_of_other_member",
        "replayed",
        "bad_token",
        "race",
        "link_other_user",
        "test_other_user",
        "linked_to_other",
        "already_linked",
        "email_not_confirmed",
        "email_changed",
        "reauth_no_connection",
        "reauth_other_user",
        "reauth_not_fresh",
        # OIDC error answers explained for the person (sso.oidc.views.PROVIDER_ERRORS); "provider_error" carries the
        # provider's own description, which is for admins.
        "provider_access_denied",
        "provider_login_required",
        "provider_interaction_required",
        "provider_consent_required",
        "provider_account_selection_required",
        "provider_temporarily_unavailable",
        "provider_server_error",
    }
)
UNREACHABLE_CODES = frozenset({"provider_unreachable"})
# Refusals of a single logout message (SAML SLO), which is no sign-in.
LOGOUT_CODES = frozenset({"saml_slo_invalid", "saml_slo_unsolicited"})


def member_message(refusal: Refusal, organization_name: str) -> str:
    """What the person is told, in plain words: the refusal's own message when it is written for them
    (``MEMBER_CODES``), "we could not reach the IdP" for ``UNREACHABLE_CODES``, otherwise that the IdP's answer
    could not be accepted (never the protocol rule that failed)."""
    whose = f"{organization_name}'s" if organization_name else "your organization's"
    if refusal.code in MEMBER_CODES:
        return refusal.message
    if refusal.code in LOGOUT_CODES:
        return (
            f"A sign-out message from {whose} sign-in service (your identity provider) could not be accepted, so it "
            "changed nothing here. To be sure you are signed out, use Sign out here and at your identity provider."
        )
    if refusal.code in UNREACHABLE_CODES:
        return (
            f"We could not reach {whose} sign-in service (your identity provider) just now, so you were not "
            "signed in. This is not a problem with your account: try again in a few minutes."
        )
    return (
        f"{whose[0].upper()}{whose[1:]} sign-in service sent an answer we could not accept, so you were not "
        "signed in and nothing was changed. Try again; if it keeps happening, contact your admin and quote the "
        "reference below."
    )


def sees_details(request: HttpRequest, connection: SSOConnection | None) -> bool:
    """Whether the signed-in person may read the technical reason: platform staff, and owners and admins of the
    connection's organization (who fix the IdP set-up)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    if connection is None:
        return False
    return (
        Membership.objects.active()
        .filter(organization_id=connection.organization_id, user=user, role__in=[Role.OWNER, Role.ADMIN])
        .exists()
    )


def refusal_page(request: HttpRequest, refusal: Refusal, connection: SSOConnection | None = None) -> HttpResponse:
    """The answer to a refused SSO sign-in: what went wrong and what to do, never the product. With ``connection``
    (the one the round trip was for) the refusal is audited as ``sso.sign_in_refused`` (throttled per connection,
    client IP and code). SSO refusals carry ``sso.errors.SSO_REFUSAL_TEMPLATE``, so browsers get that page with
    the refusal's status and programs ``{"error": {"code", "message"}}``.

    The page tells the person in plain words (``member_message``), with the time (UTC), the organization's support
    contact and a reference ID: the request ID of the audit event that records the refusal (the audit log's
    "Request ID" filter and the support console's search find it), also named by the platform log's "SSO sign-in
    refused" line. A repeat within the throttle window (no event of its own) gets the reference of the event
    recorded for the same connection, address and reason, and the log line names both IDs. The technical reason
    is shown to owners, admins and staff (``sees_details``) only: for everyone else it is not in the answer at all
    (neither the page nor the JSON), since it may name the organization's IdP set-up; support staff find it by the
    reference."""
    request_id = getattr(request, "request_id", "") or uuid.uuid4().hex
    reference = request_id
    organization = connection.organization if connection is not None else None
    if connection is not None:
        throttle_key = f"{connection.pk}:{client_ip(request)}:{refusal.code}"
        recorded = record_throttled(
            "sso.sign_in_refused",
            throttle_key=throttle_key,
            organization=connection.organization,
            actor=None,
            target=Target("sso.ssoconnection", str(connection.pk), str(connection)),
            details={"reason": refusal.code, "message": refusal.message},
        )
        if recorded is None:
            # A repeat within the throttle window has no audit event of its own: its reference is the request ID of
            # the event that records this refusal (same connection, address and reason), so support finds it.
            reference = throttled_request_id("sso.sign_in_refused", throttle_key) or request_id
    logger.warning(
        "SSO sign-in refused: reference=%s request=%s organization=%s connection=%s code=%s message=%s",
        reference,
        request_id,
        organization.slug if organization else "-",
        connection.pk if connection else "-",
        refusal.code,
        refusal.message,
    )
    plain = member_message(refusal, organization.name if organization else "")
    show_details = sees_details(request, connection)
    technical = refusal.code not in MEMBER_CODES
    refusal.context = {
        **refusal.context,
        "member_message": plain,
        "reference": reference,
        "refused_at": timezone.now(),
        "support_contact": connection.support_contact if connection is not None else "",
        "show_details": show_details,
        "technical": technical,
        # The technical reason goes into the answer only for those who fix the set-up (``sees_details``).
        "details": refusal.message if technical and show_details else "",
        # Never rendered: what the audit event and the platform log line carry (tests read it from the context).
        "technical_reason": refusal.message,
    }
    if technical and not show_details:
        refusal = _for_members(refusal, plain)
    return render_refusal(request, refusal)


def _for_members(refusal: Refusal, plain: str) -> Refusal:
    """A copy of ``refusal`` whose message is ``plain`` (the member's words), so that no rendering of it (page or
    JSON) carries the technical reason."""
    return Refusal(
        refusal.code,
        plain,
        refusal.status,
        redirect_to=refusal.redirect_to,
        template=refusal.template,
        context=refusal.context,
    )
