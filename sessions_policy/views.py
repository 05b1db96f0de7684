"""Organization pages of the sessions app: the session policy, and members' sessions (owners and admins)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from orgsecurity.access import require_capability
from orgsecurity.accessors import OrgContext, org_for_member
from orgsecurity.impact_pages import Confirmation, confirmation_page
from orgsecurity.models import Membership, User
from orgsecurity.outcomes import act
from orgsecurity.roles import Capability, roles_assignable_by
from orgsecurity.text import end_sentence
from orgsecurity.versions import VERSION_FIELD, ChangedMeanwhile, form_labels, loaded_stamp, refuse_if_changed
from sessions_policy import actions, clock, preview
from sessions_policy.enforcement import LAST_SEEN_INTERVAL, rules_for_organization
from sessions_policy.forms import SessionPolicyForm
from sessions_policy.listing import session_states
from sessions_policy.models import SessionPolicy, UserSession

MANAGE = Capability.MANAGE_SECURITY


@require_http_methods(["GET", "POST"])
@require_capability(MANAGE, action="manage the session policy")
def index(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The session policy: what it means in words, and the form that changes it."""
    org = org_for_member(request, org_slug, MANAGE)
    current = rules_for_organization(org.organization)
    form = SessionPolicyForm(request.POST or None, current=current)
    status = 200
    if request.method == "POST":
        status = 400
        try:
            refuse_if_changed(request.POST, current.as_dict(), _labels())
        except ChangedMeanwhile as exc:
            messages.error(request, exc.message)  # back to the page, which shows the saved policy
            return redirect("sessions_policy:index", org_slug=org_slug)
        if form.is_valid():
            # Refused by the action: the reason on the page, after a redirect, with the saved policy.
            return act(
                request,
                lambda: actions.update_session_policy(org.organization, actor=request.user, **form.cleaned_data),
                success=lambda changes: "Session policy saved." if changes else "Nothing changed.",
                to=reverse("sessions_policy:index", args=[org_slug]),
            )
    context = {
        "org": org,
        "form": form,
        "rules": current,
        "customised": SessionPolicy.objects.filter(organization=org.organization).exists(),
        "loaded_version": request.POST.get(VERSION_FIELD) or loaded_stamp(current.as_dict()),
    }
    return render(request, "sessions_policy/policy.html", context, status=status)


def _labels() -> dict[str, str]:
    """The policy's fields named as on the form (durations compared in seconds)."""
    labels = form_labels(SessionPolicyForm)
    return {name: label if name == "single_session" else f"{label} (seconds)" for name, label in labels.items()}


def confirm_policy(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET (the policy form, as query parameters): the sessions the new rules would end at once
    (``sessions_policy.preview.preview_session_policy``), with its CSV. POST: save them (``index``)."""
    if request.method in ("GET", "HEAD"):
        return _confirm_policy_page(request, org_slug=org_slug)
    return index(request, org_slug=org_slug)


@require_safe
@require_capability(MANAGE, action="change the session policy")
def _confirm_policy_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug, MANAGE)
    current = rules_for_organization(org.organization)
    form = SessionPolicyForm(request.GET, current=current)
    if not form.is_valid():
        loaded = request.GET.get(VERSION_FIELD) or loaded_stamp(current.as_dict())
        context = {"org": org, "form": form, "rules": current, "customised": True, "loaded_version": loaded}
        return render(request, "sessions_policy/policy.html", context, status=400)
    impact = preview.preview_session_policy(org.organization, **form.cleaned_data)
    changes = actions.describe_changes(
        {name: [old, new] for name, new in form.cleaned_data.items() if (old := current.as_dict()[name]) != new}
    )
    page = Confirmation(
        title="Save the session policy?",
        intro=f"Changes: {changes}." if changes else "Nothing changes.",
        button="Save session policy",
        cancel_url=reverse("sessions_policy:index", args=[org_slug]),
        hidden={
            name: request.GET.getlist(name)
            for name in request.GET
            if name == VERSION_FIELD or any(name == field or name.startswith(f"{field}_") for field in form.fields)
        },
        filename=f"{org_slug}-session-policy-sessions-ending",
    )
    return confirmation_page(request, org, impact, page)


def _sessions_page(request: HttpRequest, org: OrgContext, *, status: int = 200) -> HttpResponse:
    organization = org.organization
    rules, now = rules_for_organization(organization), clock.now()
    roles = dict(Membership.objects.active().filter(organization=organization).values_list("user_id", "role"))
    # Only sessions that could still open this organization's pages: not ended, not ended here, within
    # this organization's idle and absolute limits.
    sessions = (
        UserSession.objects.filter(
            revoked_at=None,
            user_id__in=list(roles),
            authenticated_at__gt=now - timedelta(seconds=rules.absolute_timeout_s),
            last_seen_at__gte=now - timedelta(seconds=rules.idle_timeout_s + LAST_SEEN_INTERVAL),
        )
        .exclude(org_revocations__organization=organization)
        .select_related("user")
        .order_by("user__email", "-last_seen_at")
    )
    manageable = {role.value for role in roles_assignable_by(org.role)}
    rows = [
        {
            "session": session,
            "role": roles[session.user_id],
            "can_end": session.user_id == request.user.pk or roles[session.user_id] in manageable,
            "current": session.session_key == request.session.session_key,
            "test_until": test_until,
        }
        for session, test_until in session_states(sessions)
    ]
    context = {"org": org, "rows": rows, "rules": rules}
    return render(request, "sessions_policy/member_sessions.html", context, status=status)


@require_safe
@require_capability(MANAGE, action="see and end members' sessions")
def member_sessions(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Members' active sessions in this organization: who, device, IP, method, last seen; end any."""
    return _sessions_page(request, org_for_member(request, org_slug, MANAGE))


def _member_of(org: OrgContext, user_id: int) -> User:
    # Through the user's primary key, which Django bounds to 64 bits (an id from the URL may be any length).
    membership = (
        Membership.objects.active().filter(organization=org.organization, user__pk=user_id).select_related("user")
    )
    found = membership.first()
    if found is None:
        raise Http404("No such member.")
    return found.user


@require_POST
@require_capability(MANAGE, action="end a member's session")
def end_member_session(request: HttpRequest, org_slug: str, session_id: int) -> HttpResponse:
    """End one member's session for this organization."""
    org = org_for_member(request, org_slug, MANAGE)
    session = UserSession.objects.filter(pk=session_id, revoked_at=None).first()
    if session is None:
        raise Http404("No such session.")
    member = _member_of(org, session.user_id)  # another organization's people are 404 too
    return act(
        request,
        lambda: actions.end_member_sessions(org.organization, member, actor=request.user, session=session),
        success=lambda ended: (
            f"The session of {member.email} on {session.device} has ended in {end_sentence(org.organization.name)}"
            if ended
            else "That session had already ended."
        ),
        to=reverse("sessions_policy:member_sessions", args=[org_slug]),
    )


@require_POST
@require_capability(MANAGE, action="end every session of a member")
def end_all_member_sessions(request: HttpRequest, org_slug: str, user_id: int) -> HttpResponse:
    """End every session of one member for this organization."""
    org = org_for_member(request, org_slug, MANAGE)
    member = _member_of(org, user_id)
    return act(
        request,
        lambda: actions.end_member_sessions(org.organization, member, actor=request.user),
        success=lambda count: (
            f"{count} session{'s' if count != 1 else ''} of {member.email} ended in "
            f"{end_sentence(org.organization.name)}"
        ),
        to=reverse("sessions_policy:member_sessions", args=[org_slug]),
    )
