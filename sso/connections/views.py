"""Organization pages for SSO: connections, general settings, status, tests, and linking your own account.

Every view goes through the access-check stack of ``orgsecurity.access`` in its order: membership (404), role
(403), then recent re-authentication, so a wrong role gets 403 before being asked to re-authenticate. Views whose
role check depends on the object (a member unlinking their own identity, answering their own held link) decide it
themselves, then call a ``@reauthenticated`` function.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from orgsecurity.access import View, protect_action, protected_action, reauthenticated, require_capability
from orgsecurity.accessors import OrgContext, get_org_object, org_for_member
from orgsecurity.actions import ActionRefused
from orgsecurity.impact_pages import Confirmation, confirmation_page
from orgsecurity.outcomes import act
from orgsecurity.roles import Capability
from orgsecurity.versions import loaded_stamp
from sso.connections import actions, preview, versions
from sso.connections.forms import ConnectionSettingsForm, StatusForm
from sso.errors import SSOSignInRefused
from sso.models import (
    RecoveryAccount,
    SSOConnection,
    SSOIdentity,
    SSOPendingLink,
    SSOPendingLogin,
    SSOSetupLink,
    SSOTestRun,
)
from sso.protocols import HANDLERS, handler_for, status_warnings
from sso.rollout.forms import TestRunForm
from sso.sections import index_sections
from sso.setup_links.actions import SETUP_STATUSES
from sso.setup_links.forms import NewConnectionLinkForm, SetupLinkForm
from sso.setup_links.steps import connection_steps
from sso.signin import flow, linking
from sso.signin.testing import start_test_session

# The status buttons of the connection page, in rollout order; enforcement has its own page with the checklist.
# Moving down to testing from these takes SSO sign-in away from everyone outside the test group: previewed first.
ROLLBACK_FROM = (SSOConnection.Status.ON, SSOConnection.Status.ENFORCED)
STATUS_BUTTONS = [
    (SSOConnection.Status.OFF, "Turn SSO off"),
    (SSOConnection.Status.TESTING, "Move to testing"),
    (SSOConnection.Status.ON, "Turn on for everyone"),
]


def protecting_connection(phrase: str) -> Callable[[View], View]:
    """Decorate a view with ``org_slug`` and ``connection_id`` URL arguments to name the action its
    re-authentication protects with the connection's name: ``phrase`` with ``{connection}`` (e.g. "change the SAML
    options of {connection}" → "… of “Entra ID”"). Place it above ``@require_capability``, whose ``action=`` stays
    the words used when the connection is not found (the view then answers 404 anyway). The name is only shown on
    the re-authentication page, which comes after the membership and role checks."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            connection = SSOConnection.objects.filter(
                organization__slug=kwargs.get("org_slug"), pk=kwargs.get("connection_id")
            ).first()
            if connection is not None and protected_action(request) is None:
                name = connection.name or f"{connection.get_protocol_display()} connection"
                protect_action(request, phrase.format(connection=f"“{name}”"))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _connections(org: OrgContext):
    return SSOConnection.objects.filter(organization=org.organization).select_related("admin_owner")


def linkable_connection(org: OrgContext) -> SSOConnection | None:
    """The connection members link their accounts to: the first one that is not off."""
    return _connections(org).exclude(status=SSOConnection.Status.OFF).first()


@require_safe
@require_capability(None, reauthenticate=False)
def index(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Everyone in the org sees whether their account is linked; owners and admins also manage connections."""
    return _index_page(request, org_for_member(request, org_slug))


def _index_page(request: HttpRequest, org: OrgContext, *, status: int = 200) -> HttpResponse:
    can_manage = org.can(Capability.MANAGE_SECURITY)
    linkable = linkable_connection(org)
    own_identities = SSOIdentity.objects.filter(connection__organization=org.organization, user=request.user)
    context = {
        "org": org,
        "can_manage": can_manage,
        "connections": _with_warnings(_connections(org)) if can_manage else [],
        "protocols": [(name, getattr(handler, "create_url_name", "")) for name, handler in sorted(HANDLERS.items())],
        "linkable": linkable,
        "own_identities": own_identities.select_related("connection"),
        "to_review": linking.identities_for_review(org.organization) if can_manage else [],
        "new_connection_link_form": NewConnectionLinkForm(),
        "setup_links": SSOSetupLink.objects.filter(connection__organization=org.organization).select_related(
            "created_by", "connection"
        )[:20]
        if can_manage
        else [],
        "extra_sections": index_sections(request, org),
        **_policy_context(org),
    }
    return render(request, "sso/index.html", context, status=status)


def _with_warnings(connections) -> list[SSOConnection]:
    """The connections, each with ``warnings``: what the dashboard says about it (``sso.protocols.status_warnings``),
    and ``enforcement_pending``: its scheduled enforcement is due and the worker has not decided it yet."""
    result = list(connections)
    now = timezone.now()
    for connection in result:
        connection.warnings = status_warnings(connection)
        connection.enforcement_pending = bool(
            connection.enforce_at and connection.enforcement_postponed_at is None and connection.enforce_at <= now
        )
    return result


def _policy_context(org: OrgContext) -> dict:
    """The fallback login policy shown to everyone while SSO is enforced: recovery accounts and listed exceptions."""
    enforced = _connections(org).filter(status=SSOConnection.Status.ENFORCED).first()
    if enforced is None:
        return {"enforced": None}
    return {
        "enforced": enforced,
        "recovery_accounts": RecoveryAccount.objects.filter(organization=org.organization).select_related(
            "membership__user"
        ),
        "exceptions": enforced.password_exceptions.select_related("membership__user"),
    }


def _connection_page(
    request: HttpRequest, org: OrgContext, connection: SSOConnection, *, form=None, status: int = 200, error: str = ""
) -> HttpResponse:
    """The connection page, re-rendered with ``status``; ``error`` (a sentence) is shown above it."""
    if error:
        messages.error(request, error)
    handler = HANDLERS.get(connection.protocol)
    config_context = handler.config_context(request, connection) if hasattr(handler, "config_context") else {}
    context = {
        "org": org,
        "connection": connection,
        "settings_form": form
        or ConnectionSettingsForm(
            initial=ConnectionSettingsForm.initial_for(connection), organization=org.organization
        ),
        "status_choices": [
            (status, label)
            for status, label in STATUS_BUTTONS
            if status in actions.ALLOWED_MOVES.get(connection.status, set())
        ],
        "general_version": loaded_stamp(versions.general_values(connection)),
        "preset_version": loaded_stamp(versions.attribute_map_values(connection)),
        "test_runs": connection.test_runs.select_related("actor", "setup_link")[:10],
        "identities": connection.identities.select_related("user").order_by("user__email"),
        "config_template": f"sso/{connection.protocol}/_config.html" if config_context else "",
        "step_sp_template": f"sso/{connection.protocol}/_step_sp.html" if config_context else "",
        "advanced_template": f"sso/{connection.protocol}/_advanced.html" if config_context else "",
        "test_form": TestRunForm(),
        "steps": connection_steps(connection),
        "setup_links": connection.setup_links.select_related("created_by", "connection"),
        "setup_link_form": SetupLinkForm(),
        "can_make_setup_link": connection.status in SETUP_STATUSES,
        **config_context,
    }
    return render(request, "sso/connection.html", context, status=status)


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def connection_detail(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(org, SSOConnection, pk=connection_id)
    return _connection_page(request, org, connection)


@require_POST
@protecting_connection("change the general settings of the SSO connection {connection}")
@require_capability(Capability.MANAGE_SECURITY, action="change an SSO connection's general settings")
def connection_settings(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(org, SSOConnection, pk=connection_id)
    stale = versions.refused_if_changed(
        request, connection, versions.general_values(connection), versions.general_labels()
    )
    if stale is not None:
        return stale
    form = ConnectionSettingsForm(request.POST, organization=org.organization)
    if not form.is_valid():
        return _connection_page(request, org, connection, form=form, status=400)
    return act(
        request,
        lambda: actions.update_connection(connection, actor=request.user, **form.cleaned_data),
        success=lambda changes: "Settings saved." if changes else "Nothing changed.",
        to=reverse("sso:connection", args=[org_slug, connection.pk]),
    )


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def connection_status(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """GET ``?status=off`` (the "Turn SSO off" buttons): who loses SSO sign-in and who has no password
    (``sso.connections.preview.preview_status_change``), with its CSV. POST (after a recent re-authentication):
    move the connection to ``status`` and go back to the page the form was on."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(org, SSOConnection.objects.select_related("organization"), pk=connection_id)
    data = request.POST if request.method == "POST" else request.GET
    back_to_rollout = data.get("back") == "rollout"  # the page the form was on
    back = reverse("sso:rollout" if back_to_rollout else "sso:connection", args=[org_slug, connection.pk])
    form = StatusForm(data)
    if not form.is_valid():
        return _connection_page(request, org, connection, status=400, error="Choose one of the listed statuses.")
    status = form.cleaned_data["status"]
    if request.method == "POST":
        protect_action(request, f"set SSO connection “{connection.name or connection}” to {status}")
        return _set_status(request, connection=connection, status=status, back=back)
    rolling_back = status == SSOConnection.Status.TESTING and connection.status in ROLLBACK_FROM
    page = Confirmation(
        title=f"Turn SSO off for “{connection.name or connection.get_protocol_display()}”?"
        if status == SSOConnection.Status.OFF
        else f"Move “{connection.name or connection.get_protocol_display()}” to {SSOConnection.Status(status).label}?",
        intro="Only the test group may sign in through SSO afterwards; password sign-in works for everyone who has "
        "a password."
        if rolling_back
        else "Members who sign in through this connection lose SSO sign-in; password sign-in works for everyone "
        "who has a password.",
        button="Turn SSO off" if status == SSOConnection.Status.OFF else "Change the status",
        cancel_url=back,
        hidden={"status": status, "back": "rollout" if back_to_rollout else ""},
        filename=f"{org_slug}-sso-{status}",
    )
    impact = (
        preview.preview_rollback(connection, status)
        if rolling_back
        else preview.preview_status_change(connection, status)
    )
    return confirmation_page(request, org, impact, page)


@reauthenticated
def _set_status(request: HttpRequest, *, connection: SSOConnection, status: str, back: str) -> HttpResponse:
    def move() -> SSOConnection:
        moved = actions.set_status(connection, actor=request.user, status=status)
        _warn_of_other_open_connections(request, moved)
        return moved

    return act(request, move, success=lambda moved: f"SSO is now {moved.get_status_display()}.", to=back)


def _warn_of_other_open_connections(request: HttpRequest, connection: SSOConnection) -> None:
    """Say so when another connection of the organization is also open to sign-in: /sso/<org>/login/ uses one."""
    if connection.status == SSOConnection.Status.OFF:
        return
    others = (
        SSOConnection.objects.filter(organization_id=connection.organization_id)
        .exclude(pk=connection.pk)
        .exclude(status=SSOConnection.Status.OFF)
    )
    names = [f"“{other.name or other.get_protocol_display()}” ({other.get_status_display()})" for other in others]
    if names:
        messages.warning(
            request,
            f"Also open to SSO sign-in: {', '.join(names)}. Members sign in through one connection at a time; "
            "turn the others off once you have chosen.",
        )


@require_POST
@protecting_connection("test SSO sign-in through {connection}")
# a test session links the tester's account when it has no IdP identity
@require_capability(Capability.MANAGE_SECURITY, action="test SSO sign-in")
def start_test(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """Run a real SP-initiated sign-in marked as a test; the result page shows what came back. With a test session
    (``session_seconds``), the admin is also signed in through SSO for that long (the rollout's test plan)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(org, SSOConnection, pk=connection_id)
    form = TestRunForm(request.POST)
    if not form.is_valid():
        return _connection_page(request, org, connection, status=400, error="Choose one of the listed test sessions.")
    run = actions.start_test_run(connection, actor=request.user, session_seconds=form.cleaned_data["session_seconds"])
    try:
        return handler_for(connection).start_login(
            request,
            connection,
            purpose=SSOPendingLogin.Purpose.TEST,
            next_url=actions.test_run_url(run),
            user=request.user,
            test_run=run,
        )
    except SSOSignInRefused as exc:
        actions.finish_test_run(run, actor=request.user, success=False, details={}, error=exc.message)
        return redirect(actions.test_run_url(run))


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def open_test_run(request: HttpRequest, org_slug: str, connection_id: int, run_id: int) -> HttpResponse:
    """The URL an admin API key's test run answers with (``actions.start_test_run(requested_by=...)``): GET shows
    what it is and a button; POST (after a recent re-authentication) makes the signed-in owner or admin its tester
    (``actions.claim_test_run``) and sends them to the IdP, as "Test SSO" does. A finished run goes to its result."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(org, SSOConnection, pk=connection_id)
    run = get_object_or_404(connection.test_runs.select_related("actor"), pk=run_id)
    if run.result != SSOTestRun.Result.PENDING:
        return redirect(actions.test_run_url(run))
    if request.method == "POST":
        protect_action(request, f"test SSO through “{connection.name or connection}”")
        return _open_test_run(request, connection=connection, run=run)
    mine = run.actor_id == request.user.pk
    context = {"org": org, "connection": connection, "run": run, "can_open": mine or actions.awaits_tester(run)}
    return render(request, "sso/open_test_run.html", context)


@reauthenticated
def _open_test_run(request: HttpRequest, *, connection: SSOConnection, run: SSOTestRun) -> HttpResponse:
    try:
        run = actions.claim_test_run(run, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect(actions.test_run_url(run))
    try:
        return handler_for(connection).start_login(
            request,
            connection,
            purpose=SSOPendingLogin.Purpose.TEST,
            next_url=actions.test_run_url(run),
            user=request.user,
            test_run=run,
        )
    except SSOSignInRefused as exc:
        actions.finish_test_run(run, actor=request.user, success=False, details={}, error=exc.message)
        return redirect(actions.test_run_url(run))


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def test_run(request: HttpRequest, org_slug: str, connection_id: int, run_id: int) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(org, SSOConnection, pk=connection_id)
    run = get_object_or_404(connection.test_runs.select_related("actor"), pk=run_id)
    held = linking.held_for_test_run(run.pk)
    context = {
        "org": org,
        "connection": connection,
        "run": run,
        "held": held,
        "held_open": held is not None and linking.is_open(held) and held.user_id == request.user.pk,
    }
    return render(request, "sso/test_run.html", context)


@require_POST
# a linked IdP identity is a standing way into the account, like a password
@require_capability(None, action="link your account to your identity provider")
def start_link(request: HttpRequest, org_slug: str) -> HttpResponse:
    """A signed-in member confirms linking their account to their IdP identity, then signs in at the IdP."""
    org = org_for_member(request, org_slug)
    connection = linkable_connection(org)
    if connection is None:
        messages.error(request, "Single sign-on is not turned on for this organization yet.")
        return redirect("sso:index", org_slug)
    try:
        return handler_for(connection).start_login(
            request,
            connection,
            purpose=SSOPendingLogin.Purpose.LINK,
            next_url=f"/orgs/{org_slug}/settings/security/sso/",
            user=request.user,
        )
    except SSOSignInRefused as exc:
        messages.error(request, exc.message)
        return redirect("sso:index", org_slug)


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(None, reauthenticate=False)
def unlink(request: HttpRequest, org_slug: str, identity_id: int) -> HttpResponse:
    """Owners unlink anyone's identity, admins anyone's but an owner's; members unlink their own (anyone else's is
    404, before any re-authentication). GET: who loses SSO sign-in (``sso.connections.preview.preview_unlink``), with
    its CSV; POST: unlink it."""
    org = org_for_member(request, org_slug)
    queryset = SSOIdentity.objects.filter(connection__organization=org.organization).select_related(
        "user", "connection__organization"
    )
    if not org.can(Capability.MANAGE_SECURITY):
        queryset = queryset.filter(user=request.user)
    linked = queryset.filter(pk=identity_id).first()
    if linked is None:
        return render(request, "404.html", status=404)
    back = _unlink_back(request, org_slug, linked)
    if request.method == "POST":
        protect_action(request, f"unlink {linked.user.email} from {linked.subject}")
        return _unlink(request, linked=linked, back=back)
    own = linked.user_id == request.user.pk
    whose = "your account" if own else f"{linked.user.email}'s account"
    page = Confirmation(
        title="Unlink your SSO identity?" if own else f"Unlink {linked.user.email}'s SSO identity?",
        intro=f"{linked.subject} at {linked.connection.name or linked.connection.get_protocol_display()} stops "
        f"opening {whose}.",
        button="Unlink",
        cancel_url=back,
        hidden={"back": "connection" if "connection" in request.GET.get("back", "") else ""},
        filename=f"{org_slug}-unlink-{linked.user.email}",
    )
    return confirmation_page(request, org, preview.preview_unlink(linked), page)


def _unlink_back(request: HttpRequest, org_slug: str, linked: SSOIdentity) -> str:
    """The page the unlink came from: the connection page (``back=connection``) or the SSO page."""
    data = request.POST if request.method == "POST" else request.GET
    if data.get("back") == "connection":
        return reverse("sso:connection", args=[org_slug, linked.connection_id])
    return reverse("sso:index", args=[org_slug])


@reauthenticated
def _unlink(request: HttpRequest, *, linked: SSOIdentity, back: str) -> HttpResponse:
    return act(
        request,
        lambda: actions.unlink_identity(linked, actor=request.user),
        success=f"{linked.user.email} is no longer linked to {linked.subject}.",
        to=back,
    )


@require_http_methods(["GET", "POST"])
@require_capability(None, reauthenticate=False)
def confirm_link(request: HttpRequest, org_slug: str, link_id: int) -> HttpResponse:
    """The page where someone whose IdP answer asserted another email than their account's (or none) sees both
    side by side and confirms or declines linking it (``sso.signin.linking``). Only the person who started the round
    trip sees it, in the browser that started it, once, until it expires; POST answers it and redirects."""
    org = org_for_member(request, org_slug)
    held = get_object_or_404(
        SSOPendingLink.objects.select_related("connection__organization", "user", "test_run"),
        pk=link_id,
        connection__organization=org.organization,
        user=request.user,
    )
    if not flow.bound_to_browser(request, held.browser_binding):
        return _link_gone(request, org, "This link was started in another browser. Start it again from this one.")
    if request.method == "POST":
        return _answer_held_link(request, org_slug=org_slug, org=org, held=held)
    if not linking.is_open(held):
        return _link_gone(request, org, _gone_message(held))
    context = {"org": org, "held": held, "account_email": request.user.email}
    return render(request, "sso/confirm_link.html", context)


def _gone_message(held: SSOPendingLink) -> str:
    if held.outcome:
        return f"This confirmation was already answered: {held.get_outcome_display().lower()}."
    return "This confirmation expired and nothing was linked. Start again."


def _link_gone(request: HttpRequest, org: OrgContext, message: str) -> HttpResponse:
    return render(request, "sso/confirm_link_gone.html", {"org": org, "message": message}, status=410)


@reauthenticated  # a linked IdP identity is a standing way into the account, like a password
def _answer_held_link(request: HttpRequest, *, org_slug: str, org: OrgContext, held: SSOPendingLink) -> HttpResponse:
    done_url = actions.test_run_url(held.test_run) if held.test_run else f"/orgs/{org_slug}/settings/security/sso/"
    try:
        if request.POST.get("answer") != "link":
            actions.decline_held_link(held, actor=request.user)
            messages.info(request, "Nothing was linked.")
            return redirect(done_url)
        actions.confirm_held_link(held, actor=request.user)
    except ActionRefused as exc:
        return _link_gone(request, org, exc.message)
    except SSOSignInRefused as exc:
        messages.error(request, exc.message)
        return redirect(done_url)
    messages.success(request, f"Your account {request.user.email} is now linked to {held.subject}.")
    if held.test_run is not None and held.test_run.session_seconds:
        start_test_session(request, held.test_run)
    return redirect(done_url if held.test_run else (held.next_url or done_url))
