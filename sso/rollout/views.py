"""Organization pages of the SSO rollout: the readiness checklist, enforcement (now or scheduled) and rollback,
the test group, the fallback login policy, the test plan; recovery accounts; verified domains.

Every change goes through an action function; refusals come back as the page with the reason and a 4xx status.
Every view goes through the access-check stack of ``orgsecurity.access`` in its order: membership (404), role
(403), then recent re-authentication. Views whose role check depends on more than the capability (only owners
choose recovery accounts; only a recovery account's own person makes its codes) decide it themselves, then call a
``@reauthenticated`` function.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from orgsecurity.access import protect_action, protecting, reauthenticated, require_capability
from orgsecurity.accessors import OrgContext, get_org_object, org_for_member
from orgsecurity.actions import ActionRefused
from orgsecurity.impact import Impact
from orgsecurity.impact_pages import Confirmation, confirmation_page, csv_response, wants_csv
from orgsecurity.models import Membership, Organization
from orgsecurity.outcomes import act
from orgsecurity.roles import Capability, Role
from orgsecurity.secrets_stash import stash, take
from sso.connections import actions
from sso.connections import preview as sso_preview
from sso.connections.actions import EnforcementRefused
from sso.domains import verification as domains
from sso.models import (
    RecoveryAccount,
    SSOConnection,
    SSOPasswordException,
    SSOTestPlanItem,
    VerifiedDomain,
)
from sso.recovery import accounts as recovery
from sso.rollout import readiness
from sso.rollout import scheduling as rollout
from sso.rollout.forms import (
    ConfirmEnforcementForm,
    DesignateForm,
    DomainForm,
    ExceptionForm,
    RollbackForm,
    ScheduleForm,
    TestGroupForm,
    TestRunForm,
    TickForm,
)

# --- the rollout page ------------------------------------------------------------------------------------------


def _rollout_page(
    request: HttpRequest,
    org: OrgContext,
    connection: SSOConnection,
    *,
    status: int = 200,
    error: str = "",
    **forms: Any,
) -> HttpResponse:
    """The rollout page, re-rendered with ``status``; ``error`` (a sentence) is shown above it."""
    if error:
        messages.error(request, error)
    connection.refresh_from_db()
    organization = org.organization
    problems = readiness.enforcement_problems(
        connection, actor=request.user, acknowledged=readiness.acknowledged_lockouts(connection)
    )
    policy = readiness.current_fallback_policy(connection)
    context = {
        "org": org,
        "connection": connection,
        "checklist": readiness.checklist(connection, actor=request.user),
        "problems": problems,
        # Owners and admins who would be locked out are acknowledged on the confirmation page, so they do not
        # keep anyone from it.
        "can_enforce": connection.status in rollout.SCHEDULABLE
        and all(problem.code == readiness.LOCKOUT_CODE for problem in problems),
        "moves": _other_moves(connection),
        "schedulable": connection.status in rollout.SCHEDULABLE,
        "schedule_form": forms.get("schedule_form")
        or ScheduleForm(initial={"support_contact": connection.support_contact, "enforce_at": connection.enforce_at}),
        "test_group_form": forms.get("test_group_form")
        or TestGroupForm(
            organization=organization,
            initial={"members": list(connection.test_members.all()), "teams": list(connection.test_teams.all())},
        ),
        "test_group": readiness.test_group_memberships(connection).select_related("user"),
        "exception_form": forms.get("exception_form") or ExceptionForm(organization=organization),
        "exceptions": connection.password_exceptions.select_related("membership__user", "created_by"),
        "recovery_accounts": RecoveryAccount.objects.filter(organization=organization).select_related(
            "membership__user"
        ),
        "usable_recovery": set(readiness.usable_recovery_accounts(organization).values_list("pk", flat=True)),
        "fallback_confirmed": readiness.fallback_policy_confirmed(connection),
        "fallback_confirmer": readiness.fallback_confirmer(connection) if connection.fallback_confirmed_at else "",
        "fallback_changed": connection.fallback_confirmed_at is not None
        and connection.fallback_confirmed_policy != policy,
        "test_plan": readiness.test_plan_status(connection),
        "is_admin_owner": connection.admin_owner_id == request.user.pk,
        "tick_form": forms.get("tick_form") or TickForm(),
        "test_form": TestRunForm(),
        "rollback_form": RollbackForm(),
        "linked_count": connection.identities.count(),
        "member_count": Membership.objects.active().filter(organization=organization).count(),
    }
    return render(request, "sso/rollout.html", context, status=status)


def _other_moves(connection: SSOConnection) -> list[str]:
    """Status moves offered besides "Enforce" and, from on or enforced, the two rollback buttons."""
    moves = actions.ALLOWED_MOVES.get(connection.status, set()) - {SSOConnection.Status.ENFORCED}
    if connection.status in (SSOConnection.Status.ON, SSOConnection.Status.ENFORCED):
        moves -= set(actions.ROLLBACK_TARGETS)
    return sorted(moves)


def _load(request: HttpRequest, org_slug: str, connection_id: int) -> tuple[OrgContext, SSOConnection]:
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connections = SSOConnection.objects.select_related("organization", "admin_owner")
    return org, get_org_object(org, connections, pk=connection_id)


def _back_url(org_slug: str, connection: SSOConnection, anchor: str = "") -> str:
    """The rollout page's path, at ``anchor`` when given."""
    url = reverse("sso:rollout", args=[org_slug, connection.pk])
    return f"{url}#{anchor}" if anchor else url


def _back(org_slug: str, connection: SSOConnection, anchor: str = "") -> HttpResponse:
    return redirect(_back_url(org_slug, connection, anchor))


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def rollout_page(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """The readiness checklist and everything the rollout needs, for owners and admins."""
    org, connection = _load(request, org_slug, connection_id)
    return _rollout_page(request, org, connection)


# --- confirming enforcement (now or scheduled) ------------------------------------------------------------------


def _confirm_form(
    org: OrgContext, connection: SSOConnection, impact: Impact, *, scheduled: bool, data: Any = None, initial=None
) -> ConfirmEnforcementForm:
    return ConfirmEnforcementForm(
        data,
        organization=org.organization,
        blockers=impact.blocking_items(),
        scheduled=scheduled,
        initial=initial or {"support_contact": connection.support_contact},
    )


def _confirm_page(
    request: HttpRequest,
    org: OrgContext,
    connection: SSOConnection,
    *,
    scheduled: bool,
    form: ConfirmEnforcementForm | None = None,
    impact: Impact | None = None,
    status: int = 200,
    error: str = "",
    initial: dict[str, Any] | None = None,
) -> HttpResponse:
    """The confirmation page of enforcement: what it does (``sso.rollout.scheduling.preview_enforcement``), what
    still stands in its way, and the form (support contact, acknowledgements, the typed slug)."""
    if error:
        messages.error(request, error)
    connection.refresh_from_db()
    impact = impact or rollout.preview_enforcement(connection)
    if wants_csv(request):
        return csv_response(impact, f"{org.organization.slug}-sso-enforce")
    form = form or _confirm_form(org, connection, impact, scheduled=scheduled, initial=initial)
    problems = [
        problem
        for problem in readiness.enforcement_problems(connection, actor=request.user)
        if problem.code != readiness.LOCKOUT_CODE  # the blockers are listed (and acknowledged) with the people
    ]
    context = {
        "org": org,
        "connection": connection,
        "impact": impact,
        "blockers": {item.ref for item in impact.blocking_items()},
        "problems": problems,
        "scheduled": scheduled,
        "schedulable": connection.status in rollout.SCHEDULABLE,
        "form": form,
        "csv_url": f"{request.path}?{_csv_query(request)}",
    }
    response = render(request, "sso/enforce_confirm.html", context, status=status)
    add_never_cache_headers(response)
    return response


def _csv_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def enforce(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """GET: the confirmation page of enforcing SSO now. POST (after a recent re-authentication): enforce it, once
    the slug is typed and every owner or admin it would lock out is acknowledged; refused with every reason that
    still stands."""
    if request.method in ("GET", "HEAD"):
        org, connection = _load(request, org_slug, connection_id)
        return _confirm_page(request, org, connection, scheduled=False)
    return _enforce_now(request, org_slug=org_slug, connection_id=connection_id)


@protecting("enforce SSO")
@reauthenticated
def _enforce_now(request: HttpRequest, *, org_slug: str, connection_id: int) -> HttpResponse:
    org, connection = _load(request, org_slug, connection_id)
    impact = rollout.preview_enforcement(connection)
    form = _confirm_form(org, connection, impact, scheduled=False, data=request.POST)
    if not form.is_valid():
        return _confirm_page(request, org, connection, scheduled=False, form=form, impact=impact, status=400)
    try:
        actions.set_status(
            connection,
            actor=request.user,
            status=SSOConnection.Status.ENFORCED,
            acknowledged=form.cleaned_data["acknowledge"],
            support_contact=form.cleaned_data["support_contact"],
        )
    except EnforcementRefused as exc:
        return _confirm_page(
            request,
            org,
            connection,
            scheduled=False,
            form=form,
            impact=impact,
            status=exc.status,
            error="SSO was not enforced. " + " ".join(problem.message for problem in exc.problems),
        )
    except ActionRefused as exc:
        return _confirm_page(
            request, org, connection, scheduled=False, form=form, impact=impact, status=exc.status, error=exc.message
        )
    messages.success(request, "SSO is now enforced: members sign in through your IdP only. Members were emailed.")
    return _back(org_slug, connection)


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def rollback(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """GET ``?to=testing`` (the rollout page's "Roll back to testing…"): who loses SSO sign-in, who has no password,
    who can no longer be linked at first sign-in, and what else stops (``sso.connections.preview.preview_rollback``),
    with its CSV. POST (after a recent re-authentication, also from a recovery sign-in): roll SSO back to testing
    or off in one step and go back to the rollout page."""
    org, connection = _load(request, org_slug, connection_id)
    form = RollbackForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return _rollout_page(request, org, connection, status=400, error="Choose testing or off.")
    to = form.cleaned_data["to"]
    label = connection.name or connection.get_protocol_display()
    if request.method == "POST":
        protect_action(request, f"roll SSO connection “{label}” back to {SSOConnection.Status(to).label}")
        return _rollback(request, org=org, connection=connection, to=to)
    page = Confirmation(
        title=f"Roll “{label}” back to {SSOConnection.Status(to).label}?",
        intro=(
            "Only the test group may sign in through SSO afterwards; everyone else signs in with their password."
            if to == SSOConnection.Status.TESTING
            else "Nobody can sign in through SSO afterwards; everyone signs in with their password."
        ),
        button=f"Roll back to {SSOConnection.Status(to).label.lower()}",
        cancel_url=_back_url(org_slug, connection),
        hidden={"to": to},
        filename=f"{org_slug}-sso-rollback-{to}",
    )
    return confirmation_page(request, org, sso_preview.preview_rollback(connection, to), page)


@protecting("roll SSO back")
@reauthenticated
def _rollback(request: HttpRequest, *, org: OrgContext, connection: SSOConnection, to: str) -> HttpResponse:
    back = _back_url(org.organization.slug, connection)
    return act(
        request,
        lambda: actions.rollback(connection, actor=request.user, to=to),
        success=lambda moved: f"SSO is rolled back to {moved.get_status_display()}: password sign-in works again.",
        to=back,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def schedule(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """GET (the rollout page's date and support contact): the confirmation page of scheduled enforcement. POST
    (after a recent re-authentication): set the enforcement date and the support contact, with the typed slug and
    every owner or admin it would lock out acknowledged; members are emailed."""
    if request.method in ("GET", "HEAD"):
        org, connection = _load(request, org_slug, connection_id)
        chosen = ScheduleForm(request.GET)
        if not chosen.is_valid():
            return _rollout_page(request, org, connection, status=400, schedule_form=chosen)
        return _confirm_page(request, org, connection, scheduled=True, initial=chosen.cleaned_data)
    return _schedule(request, org_slug=org_slug, connection_id=connection_id)


@protecting("schedule SSO enforcement")
@reauthenticated
def _schedule(request: HttpRequest, *, org_slug: str, connection_id: int) -> HttpResponse:
    org, connection = _load(request, org_slug, connection_id)
    impact = rollout.preview_enforcement(connection)
    form = _confirm_form(org, connection, impact, scheduled=True, data=request.POST)
    if not form.is_valid():
        return _confirm_page(request, org, connection, scheduled=True, form=form, impact=impact, status=400)
    try:
        missing = rollout.schedule_enforcement(
            connection,
            actor=request.user,
            enforce_at=form.cleaned_data["enforce_at"],
            support_contact=form.cleaned_data["support_contact"],
            acknowledged=form.cleaned_data["acknowledge"],
        )
    except ActionRefused as exc:
        return _confirm_page(
            request, org, connection, scheduled=True, form=form, impact=impact, status=exc.status, error=exc.message
        )
    when = form.cleaned_data["enforce_at"]
    messages.success(request, f"Enforcement is scheduled for {when:%Y-%m-%d %H:%M} UTC; members were emailed.")
    if missing:
        messages.warning(
            request,
            f"It takes effect only if {len(missing)} thing(s) listed under “Enforce” are done by then; "
            "otherwise it is postponed and owners are emailed.",
        )
    return _back(org_slug, connection)


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="cancel the scheduled SSO enforcement")
def unschedule(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """Drop the enforcement date (the status stays)."""
    _, connection = _load(request, org_slug, connection_id)
    rollout.cancel_scheduled_enforcement(connection, actor=request.user)
    messages.success(request, "The enforcement date is cancelled.")
    return _back(org_slug, connection)


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="change the SSO test group")
def test_group(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """Choose the members and teams who may sign in through SSO while testing."""
    org, connection = _load(request, org_slug, connection_id)
    form = TestGroupForm(request.POST, organization=org.organization)
    if not form.is_valid():
        return _rollout_page(request, org, connection, status=400, test_group_form=form)
    changes = rollout.set_test_group(
        connection, actor=request.user, memberships=form.cleaned_data["members"], teams=form.cleaned_data["teams"]
    )
    messages.success(request, "Test group saved." if changes else "Nothing changed.")
    return _back(org_slug, connection, "test-group")


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="confirm the SSO fallback login policy")
def confirm_fallback(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """Confirm who keeps password sign-in under enforcement (recovery accounts and listed exceptions)."""
    _, connection = _load(request, org_slug, connection_id)
    rollout.confirm_fallback_policy(connection, actor=request.user)
    messages.success(request, "Fallback login policy confirmed.")
    return _back(org_slug, connection, "fallback")


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="let a member keep password sign-in under SSO")
def add_exception(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """List a member who keeps password sign-in under enforcement, with the reason."""
    org, connection = _load(request, org_slug, connection_id)
    form = ExceptionForm(request.POST, organization=org.organization)
    if not form.is_valid():
        return _rollout_page(request, org, connection, status=400, exception_form=form)
    try:
        rollout.add_password_exception(connection, actor=request.user, **form.cleaned_data)
    except ActionRefused as exc:
        form.add_error(None, exc.message)
        return _rollout_page(request, org, connection, status=exc.status, exception_form=form)
    messages.success(request, "Exception added. Confirm the fallback login policy again for it to take effect.")
    return _back(org_slug, connection, "fallback")


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="take a member's password sign-in away under SSO")
def remove_exception(request: HttpRequest, org_slug: str, connection_id: int, exception_id: int) -> HttpResponse:
    """Take a listed exception's password sign-in away."""
    _, connection = _load(request, org_slug, connection_id)
    exception = _exception_of(connection, exception_id)
    rollout.remove_password_exception(exception, actor=request.user)
    messages.success(request, f"{exception.membership.user.email} no longer keeps password sign-in.")
    return _back(org_slug, connection, "fallback")


def _exception_of(connection: SSOConnection, exception_id: int) -> SSOPasswordException:
    """The listed exception ``exception_id`` of ``connection`` (already loaded through the org accessor); 404."""
    exception = (
        SSOPasswordException.objects.select_related("membership__user")
        .filter(connection=connection, pk=exception_id)
        .first()
    )
    if exception is None:
        raise Http404("No such exception.")
    return exception


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="tick an SSO test plan step")
def tick(request: HttpRequest, org_slug: str, connection_id: int, item: str) -> HttpResponse:
    """The admin owner ticks a test plan step with a note."""
    org, connection = _load(request, org_slug, connection_id)
    if item not in SSOTestPlanItem.Item.values:
        raise Http404("No such test plan step.")
    form = TickForm(request.POST)
    if not form.is_valid():
        return _rollout_page(request, org, connection, status=400, tick_form=form)
    return act(
        request,
        lambda: rollout.tick_test_plan_item(connection, item, actor=request.user, note=form.cleaned_data["note"]),
        success=f"{SSOTestPlanItem.Item(item).label} ticked.",
        to=_back_url(org_slug, connection, "test-plan"),
    )


# --- recovery accounts -----------------------------------------------------------------------------------------


def _recovery_page(request: HttpRequest, org: OrgContext, *, status: int = 200, form=None) -> HttpResponse:
    organization = org.organization
    accounts = RecoveryAccount.objects.filter(organization=organization).select_related("membership__user")
    unused = {
        account.pk: account.codes.filter(used_at__isnull=True).count()
        for account in accounts  # a handful of accounts per organization
    }
    context = {
        "org": org,
        "accounts": [(account, unused[account.pk]) for account in accounts],
        "is_owner": org.role == Role.OWNER,
        "form": form or DesignateForm(organization=organization),
        "own_account": accounts.filter(membership__user=request.user).first(),
        "enforced": SSOConnection.objects.filter(
            organization=organization, status=SSOConnection.Status.ENFORCED
        ).exists(),
    }
    return render(request, "sso/recovery.html", context, status=status)


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def recovery_accounts(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Recovery accounts and their unused codes; owners add and remove them, holders make their codes."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    return _recovery_page(request, org)


@require_POST
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def designate_recovery(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Owners make an owner or admin a recovery account (admins get 403 before any re-authentication)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    if org.role != Role.OWNER:
        messages.error(request, "Only owners can choose recovery accounts.")
        return _recovery_page(request, org, status=403)
    return _designate_recovery(request, org_slug=org_slug, org=org)


@protecting("choose a recovery account")
@reauthenticated
def _designate_recovery(request: HttpRequest, *, org_slug: str, org: OrgContext) -> HttpResponse:
    form = DesignateForm(request.POST, organization=org.organization)
    if not form.is_valid():
        return _recovery_page(request, org, status=400, form=form)
    try:
        account = recovery.designate(org.organization, actor=request.user, membership=form.cleaned_data["membership"])
    except ActionRefused as exc:
        form.add_error(None, exc.message)
        return _recovery_page(request, org, status=exc.status, form=form)
    messages.success(
        request, f"{account.membership.user.email} is a recovery account. They now generate their recovery codes here."
    )
    return redirect("sso:recovery", org_slug)


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="remove a recovery account")
def remove_recovery(request: HttpRequest, org_slug: str, account_id: int) -> HttpResponse:
    """Owners take break-glass access away (not the last owner's while enforced)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    account = get_org_object(org, RecoveryAccount.objects.select_related("membership__user"), pk=account_id)
    return act(
        request,
        lambda: recovery.remove(account, actor=request.user),
        success=f"{account.membership.user.email} is no longer a recovery account.",
        to=reverse("sso:recovery", args=[org_slug]),
    )


@require_POST
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def generate_codes(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The recovery account's own person gets new codes, shown once after a redirect and never again (anyone
    else gets 403 before any re-authentication)."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    account = RecoveryAccount.objects.filter(organization=org.organization, membership=org.membership).first()
    if account is None:
        messages.error(request, "You are not a recovery account of this organization.")
        return _recovery_page(request, org, status=403)
    return _generate_codes(request, org_slug=org_slug, org=org, account=account)


@protecting("make new recovery codes")
@reauthenticated
def _generate_codes(request: HttpRequest, *, org_slug: str, org: OrgContext, account: RecoveryAccount) -> HttpResponse:
    codes = recovery.generate_codes(account, actor=request.user)
    return show_codes_once(request, org.organization, codes)


RECOVERY_CODES_KIND = "recovery_codes"


def show_codes_once(
    request: HttpRequest,
    organization: Any,
    codes: list[str],
    *,
    regenerated: bool = False,
    continue_url: str | None = None,
) -> HttpResponse:
    """Put freshly generated recovery ``codes`` in the one-time stash (``orgsecurity.secrets_stash``) and redirect
    to the page that shows them once (``show_codes``); its "I saved them" button goes to ``continue_url`` (the
    recovery accounts page by default). The codes are never rendered at the POST URL nor put in a URL."""
    ticket = stash(
        request,
        RECOVERY_CODES_KIND,
        "\n".join(codes),
        organization_id=organization.pk,
        regenerated=regenerated,
        continue_url=continue_url or reverse("sso:recovery", args=[organization.slug]),
    )
    return redirect("sso_recovery_codes", ticket=ticket)


@require_safe
def show_codes(request: HttpRequest, ticket: str) -> HttpResponse:
    """/accounts/recovery/codes/<ticket>/: the recovery codes from the one-time stash on the first load, with copy,
    "Download .txt" (the same text, made in the page: nothing is fetched again) and "Print"; any later load
    (reload, back, another session) says they were shown once (410). Never cached."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    taken = take(request, RECOVERY_CODES_KIND, ticket)
    organization = None
    if taken is not None:
        organization = Organization.objects.filter(pk=taken.details.get("organization_id")).first()
    if taken is None or organization is None:
        response = render(request, "sso/recovery_codes.html", {"codes": None}, status=410)
    else:
        codes = taken.value.split("\n")
        context = {
            "organization": organization,
            "codes": codes,
            "codes_text": _codes_file(organization, codes),
            "filename": f"{organization.slug}-recovery-codes.txt",
            "regenerated": taken.details.get("regenerated", False),
            "continue_url": taken.details.get("continue_url") or "/",
        }
        response = render(request, "sso/recovery_codes.html", context)
    add_never_cache_headers(response)
    response["Cache-Control"] += ", no-store"
    return response


def _codes_file(organization: Any, codes: list[str]) -> str:
    """The text of the .txt download: what the codes are for, then one code a line."""
    header = (
        f"Recovery codes for {organization.name} ({settings.PUBLIC_BASE_URL.rstrip('/')}/accounts/recovery/)\n"
        "Each code works once, with your email and password. Keep them where nobody else can read them.\n\n"
    )
    return header + "\n".join(codes) + "\n"


# --- verified domains ------------------------------------------------------------------------------------------


def _domains_page(request: HttpRequest, org: OrgContext, *, status: int = 200, form=None) -> HttpResponse:
    claimed = VerifiedDomain.objects.filter(organization=org.organization)
    context = {
        "org": org,
        "domains": [(domain, domains.txt_record_name(domain), domains.txt_record_value(domain)) for domain in claimed],
        "form": form or DomainForm(),
    }
    return render(request, "sso/domains.html", context, status=status)


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def domain_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Claimed and verified email domains, with the TXT record each needs."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    return _domains_page(request, org)


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="claim an email domain")
def claim_domain(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Claim an email domain; it counts once verified."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    form = DomainForm(request.POST)
    if not form.is_valid():
        return _domains_page(request, org, status=400, form=form)
    try:
        claimed = domains.claim(org.organization, actor=request.user, domain=form.cleaned_data["domain"])
    except ActionRefused as exc:
        form.add_error("domain", exc.message)
        return _domains_page(request, org, status=exc.status, form=form)
    messages.success(request, f"{claimed.domain} is claimed. Add the TXT record below, then choose “Verify”.")
    return redirect("sso:domains", org_slug)


@require_POST
@require_capability(Capability.MANAGE_SECURITY, action="verify an email domain")
def verify_domain(request: HttpRequest, org_slug: str, domain_id: int) -> HttpResponse:
    """Look up the claim's TXT record and verify the domain when it holds the challenge; either way back to the
    domains page (post/redirect/get), which says what was found."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    claimed = get_org_object(org, VerifiedDomain.objects.select_related("organization"), pk=domain_id)
    return act(
        request,
        lambda: domains.verify_by_dns(claimed, actor=request.user),
        success=f"{claimed.domain} is verified.",
        to=reverse("sso:domains", args=[org_slug]),
    )


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def remove_domain(request: HttpRequest, org_slug: str, domain_id: int) -> HttpResponse:
    """GET: who loses home-realm discovery and linking by email (``sso.connections.preview.preview_remove_domain``),
    with its CSV. POST (after a recent re-authentication): drop the claimed or verified domain."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    if request.method == "POST":
        protect_action(request, "remove an email domain")
        return _remove_domain(request, org=org, domain_id=domain_id)
    claimed = get_org_object(org, VerifiedDomain.objects.select_related("organization"), pk=domain_id)
    back = reverse("sso:domains", args=[org_slug])
    page = Confirmation(
        title=f"Remove {claimed.domain}?",
        intro=(
            f"{claimed.domain} stops routing email-first sign-in to your IdP, and your IdP's answers for it no longer "
            "link or create accounts by email."
            if claimed.is_verified
            else f"{claimed.domain} is only claimed (not verified): removing it changes no sign-in."
        ),
        button="Remove the domain",
        cancel_url=back,
        filename=f"{org_slug}-remove-{claimed.domain}",
    )
    return confirmation_page(request, org, sso_preview.preview_remove_domain(claimed), page)


@protecting("remove an email domain")
@reauthenticated
def _remove_domain(request: HttpRequest, *, org: OrgContext, domain_id: int) -> HttpResponse:
    claimed = get_org_object(org, VerifiedDomain.objects.select_related("organization"), pk=domain_id)
    back = reverse("sso:domains", args=[org.organization.slug])
    return act(
        request,
        lambda: domains.remove(claimed, actor=request.user),
        success=f"{claimed.domain} was removed.",
        to=back,
    )
