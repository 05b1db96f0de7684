"""SSO test helpers: ``ScriptedIdP``, an in-test IdP stand-in for the shared (protocol-neutral) flow, linking
identities, signing in through it, and a connection made ready to enforce (``make_ready``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import HttpResponseRedirect
from django.test import Client

from orgsecurity.models import Membership
from sso.assertion import AssertedIdentity
from sso.connections import actions
from sso.models import SSOConnection, SSOTestPlanItem
from sso.recovery import accounts as recovery
from sso.rollout import scheduling as rollout
from sso.signin import flow

IDP_ISSUER = "https://idp.acme.test/saml"


class ScriptedIdP:
    create_url_name = ""

    def __init__(self) -> None:
        self.started: list = []

    def start_login(self, request, connection, *, purpose, next_url, user=None, test_run=None, force_authn=False):
        key = "_" + secrets.token_hex(16)
        pending = flow.begin(
            request, connection, key=key, purpose=purpose, next_url=next_url, user=user, test_run=test_run
        )
        self.started.append((pending, force_authn))
        return HttpResponseRedirect(f"https://idp.acme.test/sso?request={key}")

    def answer(
        self,
        subject: str,
        *,
        email: str = "",
        verified: bool = True,
        authenticated_at=None,
        key=None,
        attributes: dict | None = None,
        authn_contexts: tuple[str, ...] = (),
    ) -> str:
        """The IdP answers the most recent request (or ``key``): returns the finish URL the browser goes to.
        ``attributes`` are added to the mail attribute; ``authn_contexts`` are SAML AuthnContextClassRef values."""
        pending = self.started[-1][0] if key is None else next(p for p, _ in self.started if p.key == key)
        claimed = flow.claim(pending.connection, pending.key)
        identity = AssertedIdentity(
            issuer=IDP_ISSUER,
            subject=subject,
            subject_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            attributes={**({"mail": [email]} if email else {}), **(attributes or {})},
            email_verified=verified,
            authenticated_at=authenticated_at or datetime.now(UTC),
            authn_contexts=authn_contexts,
        )
        return flow.answer(claimed, identity)


@dataclass
class Ready:
    """A connection that passes every enforcement guard, and the owner's recovery codes."""

    connection: SSOConnection
    codes: list[str]


def sign_in_through_idp(idp: ScriptedIdP, subject: str, org_slug: str = "acme") -> Client:
    """A browser that signed in through the org's IdP as ``subject`` (the shared flow, end to end)."""
    browser = Client()
    response = browser.get(f"/sso/{org_slug}/login/")
    assert response.status_code == 302, response.content
    finished = browser.get(idp.answer(subject))
    assert finished.status_code == 302, finished.content
    return browser


def make_ready(connection: SSOConnection, idp: ScriptedIdP, owner, member) -> Ready:
    """Bring ``connection`` (admin owner: ``owner``) to the point where every guard holds: a passing test by the
    owner, the owner as a recovery account with codes, the member in the test group and signed in through SSO,
    every test plan step ticked by the admin owner, and the fallback policy confirmed."""
    run = actions.start_test_run(connection, actor=owner)
    actions.finish_test_run(run, actor=owner, success=True, details={"subject": "olivia"})
    owner_membership = Membership.objects.get(organization=connection.organization, user=owner)
    member_membership = Membership.objects.get(organization=connection.organization, user=member)
    account = recovery.designate(connection.organization, actor=owner, membership=owner_membership)
    codes = recovery.generate_codes(account, actor=owner)
    rollout.set_test_group(connection, actor=owner, memberships=[member_membership], teams=[])
    link_identity(connection, member, "mia-123")
    sign_in_through_idp(idp, "mia-123")
    for item in SSOTestPlanItem.Item.values:
        rollout.tick_test_plan_item(connection, item, actor=owner, note="seen in the IdP")
    rollout.confirm_fallback_policy(connection, actor=owner)
    return Ready(SSOConnection.objects.get(pk=connection.pk), codes)


def own_identity(
    connection: SSOConnection,
    user,
    subject: str,
    *,
    issuer: str = IDP_ISSUER,
    subject_format: str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
) -> AssertedIdentity:
    """An IdP answer for ``user`` asserting their own email in the connection's email attribute, as their IdP
    would (so linking it needs no confirmation)."""
    attribute = (connection.attribute_map or {}).get("email", "mail")
    return AssertedIdentity(
        issuer=issuer, subject=subject, subject_format=subject_format, attributes={attribute: [user.email]}
    )


def link_identity(connection: SSOConnection, user, subject: str):
    identity = own_identity(connection, user, subject)
    return actions.link_identity(connection, user, identity, actor=user, via="tests")


def refusal_text(response) -> str:
    """What a refused SSO sign-in tells people, unescaped: the page (or JSON) the browser got, followed by the
    technical reason the organization's admins read under its reference (the audit event's message). Members never
    get that reason in the page itself (``sso.signin.refusals.refusal_page``), so a test asserting the exact rule
    that failed reads it here."""
    import html

    page = html.unescape(response.content.decode())
    context = getattr(response, "context", None)
    reason = context.get("technical_reason", "") if context is not None else ""
    return f"{page}\n{reason}"
