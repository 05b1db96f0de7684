"""Views of the core app: sign-in, organization dashboard, members, invitations, billing."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audit.support import is_support_staff
from orgsecurity import actions, directory
from orgsecurity.access import protect_action, reauthenticated, require_capability
from orgsecurity.accessors import OrgContext, get_org_object, org_for_member
from orgsecurity.auth import idp_sign_out, sign_in, sign_out, sign_out_everywhere, signed_in_idp
from orgsecurity.errors import render_refusal
from orgsecurity.forms import BillingForm, InviteForm, RoleForm, SignupForm
from orgsecurity.impact_pages import Confirmation, confirmation_page
from orgsecurity.models import Invitation, Membership, User
from orgsecurity.outcomes import act, refused
from orgsecurity.overview import chart, chart_svg, overview_panels, pending_states, sign_in_activity, sso_adoption
from orgsecurity.roles import Capability, Role, roles_assignable_by
from orgsecurity.text import end_sentence
from orgsecurity.themes import security_themes
from orgsecurity.versions import VERSION_FIELD, ChangedMeanwhile, form_labels, loaded_stamp, refuse_if_changed
from sessions_policy.enforcement import verify_session


@require_http_methods(["GET", "HEAD", "POST"])
def sign_out_view(request: HttpRequest) -> HttpResponse:
    """GET: the sign-out page: who is signed in, which IdP session signing out also ends (or that it stays open),
    and "Sign out everywhere". POST (only POST signs out, so a link or image elsewhere cannot sign anyone out):
    sign out; with ``everywhere``, every session of the account ends too. When the session signed in through an IdP
    whose connection also ends the IdP session (``orgsecurity.auth.idp_sign_out``: SAML single logout, OIDC
    RP-initiated logout), the browser goes on to the IdP, which sends it back."""
    if request.method != "POST":
        return _sign_out_page(request)
    handoff = idp_sign_out(request)
    everywhere = request.POST.get("everywhere") == "1" and request.user.is_authenticated
    if everywhere:
        sign_out_everywhere(request, handoff=handoff)
        done = "You are signed out everywhere: every session of your account has ended"
    else:
        sign_out(request, handoff=handoff)
        done = "You are signed out"
    if handoff is not None:
        if not handoff.confirmed_by_return:
            messages.info(request, f"{done}, here and at {handoff.idp}.")
        elif everywhere:
            messages.info(request, f"{done}.")
        return redirect(handoff.url)
    messages.info(request, f"{done}.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


def _sign_out_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    context = {"idp": signed_in_idp(request)}
    response = render(request, "orgsecurity/sign_out.html", context)
    add_never_cache_headers(response)
    return response


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Send platform staff to the support console, anyone else signed in to their first organization, and
    everyone else to sign in."""
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    if is_support_staff(request.user):
        return redirect("support:index")
    membership = (
        Membership.objects.active().select_related("organization").filter(user=request.user).order_by("pk").first()
    )
    if membership is None:
        return render(request, "orgsecurity/no_organizations.html")
    return redirect("org_dashboard", org_slug=membership.organization.slug)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A clear page for a form posted without a valid CSRF token (an old tab, or cookies blocked)."""
    return render(request, "orgsecurity/csrf_failure.html", {"reason": reason}, status=403)


# --- organization pages ------------------------------------------------------------------------------


@require_safe
def dashboard(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug)
    context = {
        "org": org,
        "member_count": Membership.objects.active().filter(organization=org.organization).count(),
        "themes": security_themes(org),
        "can_view_overview": org.can(Capability.VIEW_AUDIT),
    }
    return render(request, "orgsecurity/dashboard.html", context)


@require_safe
@require_capability(Capability.VIEW_AUDIT, reauthenticate=False)
def overview(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The security overview (owners, admins, auditors: it is read from the audit trail): SSO adoption and
    sign-ins per day over 30 days, the registered panels (certificate and key expiry) and pending risky states."""
    org = org_for_member(request, org_slug, Capability.VIEW_AUDIT)
    now = timezone.now()
    activity = sign_in_activity(org.organization, now)
    geometry = chart(activity)
    context = {
        "org": org,
        "adoption": sso_adoption(org.organization, now),
        "activity": activity,
        "chart": geometry,
        "chart_svg": chart_svg(geometry),
        "panels": overview_panels(org, now),
        "pending": pending_states(org, now),
    }
    return render(request, "orgsecurity/overview.html", context)


@require_safe
def security(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    return render(request, "orgsecurity/security.html", {"org": org, "themes": security_themes(org)})


def _members_page(
    request: HttpRequest, org: OrgContext, *, invite_form: InviteForm | None = None, status: int = 200
) -> HttpResponse:
    """The members page: one page of members and one of pending invitations (``orgsecurity.directory``), both
    narrowed by the search ``q`` of the query string and paged by ``page`` and ``invitations_page``."""
    can_manage = org.can(Capability.MANAGE_MEMBERS)
    assignable = roles_assignable_by(org.role) if can_manage else []
    search = request.GET.get("q", "").strip()[:100]
    chosen = {
        member_filter.param: request.GET.get(member_filter.param, "") for member_filter in directory.member_filters()
    }
    # Suspended (deprovisioned) members count as no members: only those who manage members see them, marked.
    member_page, rows = directory.member_page(
        org.organization, search, request.GET.get("page"), chosen, include_suspended=can_manage
    )
    invitations = (
        directory.invitation_page(org.organization, search, request.GET.get("invitations_page")) if can_manage else None
    )
    if can_manage:
        for row in rows:  # each role form carries the version of the role it shows (the admin API's member ETag)
            row.membership.loaded_version = loaded_stamp(member_values(row.membership))
    pending = list(invitations.object_list) if invitations is not None else []
    unconfirmed = actions.reconfirmation_reasons(pending)
    context = {
        "org": org,
        "rows": rows,
        "member_page": member_page,
        "invitation_page": invitations,
        "search": search,
        "member_filters": [
            (member_filter, chosen[member_filter.param]) for member_filter in directory.member_filters()
        ],
        "filtered": any(chosen.values()),
        "invitations": [(invitation, unconfirmed.get(invitation.pk)) for invitation in pending],
        "can_manage": can_manage,
        "assignable": assignable,
        "invite_form": invite_form or InviteForm(assignable=assignable),
    }
    return render(request, "orgsecurity/members.html", context, status=status)


MEMBER_LABELS = {"id": "Member", "role": "Role"}


def member_values(membership: Membership) -> dict[str, object]:
    """What a membership's version covers: its id and role (the same values as the admin API's member ETag)."""
    return {"id": membership.pk, "role": membership.role}


def _refused(request: HttpRequest, org: OrgContext, exc: actions.ActionRefused) -> HttpResponse:
    """A refused member change: back to the members page (post/redirect/get), which shows what is saved."""
    return refused(request, exc, reverse("members", args=[org.organization.slug]))


@require_safe
@require_capability(None, reauthenticate=False)
def members(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug)
    return _members_page(request, org)


@require_POST
@require_capability(Capability.MANAGE_MEMBERS, action="invite a member")
def invite(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_MEMBERS)
    form = InviteForm(request.POST, assignable=roles_assignable_by(org.role))
    if not form.is_valid():
        return _members_page(request, org, invite_form=form, status=400)
    try:
        actions.invite_member(org.organization, actor=request.user, **form.cleaned_data)
    except actions.ActionRefused as exc:
        form.add_error(
            "email" if exc.code in {"already_member", "already_invited", "member_suspended"} else "role", exc.message
        )
        return _members_page(request, org, invite_form=form, status=exc.status)
    messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
    return redirect("members", org_slug=org_slug)


@require_POST
@require_capability(Capability.MANAGE_MEMBERS, action="revoke an invitation")
def revoke_invitation(request: HttpRequest, org_slug: str, invitation_id: int) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_MEMBERS)
    invitation = get_org_object(org, Invitation, pk=invitation_id)
    return act(
        request,
        lambda: actions.revoke_invitation(invitation, actor=request.user),
        success=f"The invitation for {invitation.email} was revoked.",
        to=reverse("members", args=[org_slug]),
    )


@require_POST
@require_capability(Capability.MANAGE_MEMBERS, action="re-confirm an invitation")
def reconfirm_invitation(request: HttpRequest, org_slug: str, invitation_id: int) -> HttpResponse:
    """Vouch for an invitation whose sender can no longer send it, so its link works again."""
    org = org_for_member(request, org_slug, Capability.MANAGE_MEMBERS)
    invitation = get_org_object(org, Invitation, pk=invitation_id)
    return act(
        request,
        lambda: actions.reconfirm_invitation(invitation, actor=request.user),
        success=f"The invitation for {invitation.email} is re-confirmed: its link works again.",
        to=reverse("members", args=[org_slug]),
    )


@require_http_methods(["GET", "HEAD", "POST"])
@require_capability(Capability.MANAGE_MEMBERS, action="change a member's role")
def change_role(request: HttpRequest, org_slug: str, membership_id: int) -> HttpResponse:
    """Change a member's role. A change that affects more than the person (``actions.preview_change_role``: keys
    the new role may not hold, revoked; service-account keys flagged; a SCIM warning) is shown first: the role
    form's POST redirects to this URL's GET, the confirmation page with its CSV, whose form posts back with
    ``confirmed``; a change affecting nobody else is made at once. Both redirect to the members page."""
    org = org_for_member(request, org_slug, Capability.MANAGE_MEMBERS)
    # includes suspended: managers may act on suspended members
    membership = get_org_object(org, Membership.objects.select_related("user", "organization"), pk=membership_id)
    data = request.POST if request.method == "POST" else request.GET
    form = RoleForm(data)
    if not form.is_valid():
        return _refused(request, org, actions.ActionRefused("Choose one of the listed roles."))
    role = form.cleaned_data["role"]
    stamp = data.get(VERSION_FIELD, "")
    if membership.role != role and data.get("confirmed") != "1":
        impact = actions.preview_change_role(org.organization, membership, role)
        if actions.needs_confirmation(impact):
            if request.method == "POST":  # post/redirect/get: the confirmation page is a GET
                return redirect(f"{request.path}?{urlencode({'role': role, VERSION_FIELD: stamp})}")
            page = Confirmation(
                title=f"Make {membership.user.email} {Role(role).label}?",
                intro=f"{membership.user.email} goes from {membership.get_role_display()} to {Role(role).label}.",
                button="Change the role",
                cancel_url=reverse("members", args=[org_slug]),
                hidden={"role": role, VERSION_FIELD: stamp, "confirmed": "1"},
                filename=f"{org_slug}-role-{membership.user.email}",
            )
            return confirmation_page(request, org, impact, page)
    if request.method != "POST":
        return redirect("members", org_slug=org_slug)

    def change() -> object:
        refuse_if_changed(request.POST, member_values(membership), MEMBER_LABELS)
        return actions.change_role(membership, actor=request.user, role=role)

    return act(
        request,
        change,
        success=f"{membership.user.email} is now {Role(role).label}.",
        to=reverse("members", args=[org_slug]),
    )


@require_http_methods(["GET", "HEAD", "POST"])
def remove_member(request: HttpRequest, org_slug: str, membership_id: int) -> HttpResponse:
    """Remove a member (owners and admins) or leave the organization (anyone, themselves). GET: what the removal
    takes away (``actions.preview_remove_member``: teams, invitations, keys, sessions), with its CSV; POST: do it."""
    org = org_for_member(request, org_slug)
    # includes suspended: managers may remove suspended members
    membership = get_org_object(org, Membership.objects.select_related("user", "organization"), pk=membership_id)
    leaving = membership.user_id == request.user.pk
    if not leaving and not org.can(Capability.MANAGE_MEMBERS):
        org_for_member(request, org_slug, Capability.MANAGE_MEMBERS)  # raises the 403
    if request.method == "POST":
        protect_action(request, f"leave {org.organization.name}" if leaving else f"remove {membership.user.email}")
        return _remove_member(request, org_slug=org_slug, org=org, membership=membership)
    name = org.organization.name
    page = Confirmation(
        title=f"Leave {name}?" if leaving else f"Remove {membership.user.email}?",
        intro=(
            f"You lose access to {end_sentence(name)}"
            if leaving
            else f"{membership.user.email} loses access to {end_sentence(name)}"
        ),
        button=f"Leave {name}" if leaving else "Remove the member",
        cancel_url=reverse("members", args=[org_slug]),
        filename=f"{org_slug}-remove-{membership.user.email}",
    )
    return confirmation_page(request, org, actions.preview_remove_member(org.organization, membership), page)


@reauthenticated
def _remove_member(request: HttpRequest, *, org_slug: str, org: OrgContext, membership: Membership) -> HttpResponse:
    try:
        actions.remove_member(membership, actor=request.user)
    except actions.ActionRefused as exc:
        return _refused(request, org, exc)
    if membership.user_id == request.user.pk:
        messages.success(request, f"You left {end_sentence(org.organization.name)}")
        return redirect("home")
    messages.success(request, f"{membership.user.email} was removed.")
    return redirect("members", org_slug=org_slug)


@require_http_methods(["GET", "POST"])
@require_capability(Capability.MANAGE_BILLING, action="manage billing settings")
def billing(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_BILLING)
    organization = org.organization
    initial = {name: getattr(organization, name) for name in actions.BILLING_FIELDS}
    form = BillingForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        try:
            refuse_if_changed(request.POST, initial, form_labels(BillingForm))
        except ChangedMeanwhile as exc:
            messages.error(request, exc.message)  # back to the page, which shows the saved settings
            return redirect("billing", org_slug=org_slug)
        if form.is_valid():
            changes = actions.update_billing(organization, actor=request.user, **form.cleaned_data)
            messages.success(request, "Billing settings saved." if changes else "Nothing changed.")
            return redirect("billing", org_slug=org_slug)
        status = 400
    loaded = request.POST.get(VERSION_FIELD) or loaded_stamp(initial)
    return render(
        request, "orgsecurity/billing.html", {"org": org, "form": form, "loaded_version": loaded}, status=status
    )


# --- invitations -------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Accept an invitation: join as the signed-in user, or create an account for the invited email."""
    pending = actions.find_invitation(token)
    if pending is None:
        return render(request, "orgsecurity/invitation_invalid.html", status=404)
    if actions.reconfirmation_reasons([pending]):
        # Its sender can no longer send it: nobody joins (or creates an account) with it until an admin vouches.
        message = actions.NEEDS_RECONFIRMATION.format(organization=pending.organization.name)
        return render(request, "orgsecurity/invitation_unconfirmed.html", {"message": message}, status=403)
    if request.user.is_authenticated:
        # Accepting acts as the signed-in person: their session must pass the session rules, as on account pages.
        refusal = verify_session(request, None)
        if refusal is not None:
            return render_refusal(request, refusal)
    user = request.user if request.user.is_authenticated else None
    existing = user is None and User.objects.filter(email=pending.email).exists()
    form = SignupForm(request.POST or None, email=pending.email) if user is None and not existing else None
    status = 200
    if request.method == "POST":
        try:
            if user is not None:
                actions.accept_invitation(pending, user=user)
            elif form is not None and form.is_valid():
                with transaction.atomic():
                    user = User.objects.create_user(
                        pending.email, form.cleaned_data["password1"], name=form.cleaned_data["name"]
                    )
                    actions.accept_invitation(pending, user=user)
                sign_in(request, user, method="password")
            else:
                status = 400
        except actions.ActionRefused as exc:
            return refused(request, exc, request.path)  # the page again, with the reason, after a redirect
        else:
            if status == 200:
                messages.success(request, f"Welcome to {end_sentence(pending.organization.name)}")
                return redirect("org_dashboard", org_slug=pending.organization.slug)
    login_url = f"{reverse('login')}?next={request.path}"
    context = {"invitation": pending, "form": form, "existing": existing, "login_url": login_url}
    return render(request, "orgsecurity/invitation.html", context, status=status)
