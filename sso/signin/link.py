"""Completing "Link SSO": link the signed-in person to the identity the IdP asserted, hold the link for their
confirmation when the IdP asserted another email, or refuse it when that email is another member's."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from sso.assertion import AssertedIdentity, map_profile
from sso.connections import actions
from sso.models import SSOIdentity, SSOPendingLink, SSOPendingLogin
from sso.signin import linking
from sso.signin.answer import Outcome, find_identity, refuse


def linking_url(held: SSOPendingLink) -> str:
    """The page where the person confirms or declines a held link."""
    return reverse("sso:confirm_link", args=[held.connection.organization.slug, held.pk])


def complete_link(request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity) -> Outcome:
    """ "Link SSO": link the signed-in person to the identity when the IdP asserted their email; hold it for their
    confirmation when it asserted another (or none); refuse it when it asserted another member's."""
    user = pending.user
    if user is None or not request.user.is_authenticated or request.user.pk != user.pk:
        raise refuse("Sign in first, then link your account again.", "link_other_user")
    connection = pending.connection
    next_url = pending.next_url or f"/orgs/{connection.organization.slug}/"
    unlinked = find_identity(connection, identity) is None
    if unlinked and not SSOIdentity.objects.filter(connection=connection, user=user).exists():
        emails = linking.compare_emails(connection, user, map_profile(identity, connection.attribute_map).email)
        if emails.verdict == linking.DIFFERENT:
            held = linking.hold_link(pending, identity.to_dict(), emails)
            return Outcome("link_held", linking_url(held), user=user)
    # Links when the IdP asserted this person's email; otherwise raises why not (and audits another member's).
    actions.link_identity(connection, user, identity, actor=user, via="confirmed link")
    return Outcome("linked", next_url, user=user)
