"""The audit streaming page of an organization, /orgs/<org_slug>/settings/security/streaming/ (owners).

It lists the destinations with their status (last delivered sequence and time, lag in events and seconds, last
error, consecutive failures, a 7-day chart of events delivered per hour), adds and removes destinations, resumes a
paused one, sends a test event (the receiver's answer is shown after the redirect), and sets the audit retention
after previewing what the next prune would delete. Every change is behind re-authentication and goes through an
action function; a webhook's signing secret is shown once (``orgsecurity.secrets_stash``).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from audit import retention
from audit.models import AuditChain
from audit_stream import actions, delivery
from audit_stream.chart import chart_svg
from audit_stream.forms import DestinationForm, RetentionForm
from audit_stream.models import Destination
from orgsecurity.access import require_capability
from orgsecurity.accessors import OrgContext, get_org_object, org_for_member
from orgsecurity.actions import ActionRefused
from orgsecurity.outcomes import act
from orgsecurity.roles import Capability
from orgsecurity.secrets_stash import stash, take
from orgsecurity.versions import VERSION_FIELD, loaded_stamp, refuse_if_changed

CAPABILITY = Capability.MANAGE_AUDIT_LOG
SECRET_KIND = "audit_stream_webhook_secret"  # noqa: S105 (the stash kind, not a secret)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    return response


def _retention_days(org: OrgContext) -> int | None:
    return AuditChain.objects.filter(organization=org.organization).values_list("retention_days", flat=True).first()


RETENTION_LABELS = {"retention_days": "Retention in days (none: forever)"}


def retention_values(org: OrgContext) -> dict[str, int | None]:
    """The saved retention as ``orgsecurity.versions`` versions it (what the retention form carries)."""
    return {"retention_days": _retention_days(org)}


def _page(request: HttpRequest, org: OrgContext, *, form: DestinationForm | None = None, status: int = 200):
    now = timezone.now()
    rows = []
    for destination in Destination.objects.filter(organization=org.organization).order_by("pk"):
        rows.append(
            {"destination": destination, "lag": delivery.lag(destination, now), "chart": chart_svg(destination, now)}
        )
    days = _retention_days(org)
    context = {
        "org": org,
        "rows": rows,
        "form": form or DestinationForm(),
        "retention_days": days,
        "retention_form": RetentionForm(initial={"keep": "forever" if days is None else "days", "days": days}),
        "version_field": VERSION_FIELD,
        "retention_version": loaded_stamp(retention_values(org)),
        "minimum_days": retention.minimum_days(),
        "anchor_seq": AuditChain.objects.filter(organization=org.organization)
        .values_list("anchor_seq", flat=True)
        .first()
        or 0,
    }
    return render(request, "audit_stream/streaming.html", context, status=status)


@require_safe
@require_capability(CAPABILITY, reauthenticate=False)
def streaming(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The page: destinations with their status, the add form, and the retention setting."""
    return _page(request, org_for_member(request, org_slug, CAPABILITY))


@require_POST
@require_capability(CAPABILITY, action="add an audit stream destination")
def add(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Add a destination; a webhook's signing secret is shown once on the next page."""
    org = org_for_member(request, org_slug, CAPABILITY)
    form = DestinationForm(request.POST)
    if not form.is_valid():
        return _page(request, org, form=form, status=400)
    data = form.cleaned_data
    try:
        created = actions.create_destination(
            org.organization,
            actor=request.user,
            kind=data["kind"],
            url=data["url"],
            name=data["name"],
            token=data["token"],
            ca_pem=data["ca_pem"],
            batch_size=data["batch_size"],
        )
    except ActionRefused as exc:
        form.add_error(None, exc.message)
        return _page(request, org, form=form, status=exc.status)
    destination = created.destination
    if created.signing_secret:
        ticket = stash(request, SECRET_KIND, created.signing_secret, destination_pk=destination.pk)
        return redirect("audit_stream:secret", org_slug=org_slug, pk=destination.pk, ticket=ticket)
    messages.success(request, f"Added {destination.label}. Delivery starts within a minute.")
    return redirect("audit_stream:streaming", org_slug=org_slug)


@require_safe
@require_capability(CAPABILITY, reauthenticate=False)
def secret(request: HttpRequest, org_slug: str, pk: int, ticket: str) -> HttpResponse:
    """The webhook's signing secret, from the one-time stash on the first load; later loads say it was shown (410)."""
    org = org_for_member(request, org_slug, CAPABILITY)
    destination = get_org_object(org, Destination, pk=pk)
    taken = take(request, SECRET_KIND, ticket)
    context = {"org": org, "destination": destination, "secret": None}
    if taken is None or taken.details.get("destination_pk") != destination.pk:
        return _no_store(render(request, "audit_stream/secret.html", context, status=410))
    context["secret"] = taken.value
    return _no_store(render(request, "audit_stream/secret.html", context))


@require_POST
@require_capability(CAPABILITY, action="send a test audit event")
def test_event(request: HttpRequest, org_slug: str, pk: int) -> HttpResponse:
    """Send a test event and show the receiver's answer."""
    org = org_for_member(request, org_slug, CAPABILITY)
    destination = get_org_object(org, Destination, pk=pk)
    accepted, answer = actions.send_test_event(destination, actor=request.user)
    if accepted:
        messages.success(request, f"{destination.label} accepted the test event: {answer}")
    else:
        messages.error(request, f"{destination.label} did not accept the test event: {answer}")
    return redirect("audit_stream:streaming", org_slug=org_slug)


@require_POST
@require_capability(CAPABILITY, action="remove an audit stream destination")
def remove(request: HttpRequest, org_slug: str, pk: int) -> HttpResponse:
    org = org_for_member(request, org_slug, CAPABILITY)
    destination = get_org_object(org, Destination, pk=pk)
    actions.remove_destination(destination, actor=request.user)
    messages.success(request, f"Removed {destination.label}; nothing more is sent to it.")
    return redirect("audit_stream:streaming", org_slug=org_slug)


@require_POST
@require_capability(CAPABILITY, action="resume audit streaming")
def resume(request: HttpRequest, org_slug: str, pk: int) -> HttpResponse:
    org = org_for_member(request, org_slug, CAPABILITY)
    destination = get_org_object(org, Destination, pk=pk)
    try:
        actions.resume_destination(destination, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Resumed {destination.label} from event #{destination.cursor_seq + 1}.")
    return redirect("audit_stream:streaming", org_slug=org_slug)


def _retention_preview(request: HttpRequest, org: OrgContext, form: RetentionForm, status: int = 200):
    days = form.retention_days()
    planned = retention.plan(org.organization, days)
    context = {
        "org": org,
        "form": form,
        "days": days,
        "current": _retention_days(org),
        "plan": planned,
        "minimum_days": retention.minimum_days(),
        "version_field": VERSION_FIELD,
        # The version the streaming page was loaded at (passed on), so a change made since then is refused on save.
        "loaded_version": request.GET.get(VERSION_FIELD) or loaded_stamp(retention_values(org)),
    }
    return render(request, "audit_stream/retention_confirm.html", context, status=status)


@require_capability(CAPABILITY, action="change audit retention")
def retention_change(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET (``keep``, ``days``): what the next prune would delete with that retention, and a confirm button.
    POST: save it (the hourly prune applies it)."""
    org = org_for_member(request, org_slug, CAPABILITY)
    if request.method not in {"GET", "HEAD", "POST"}:
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    form = RetentionForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        # The same rule as saving (``audit.retention.retention_problem``): a value Save refuses is never previewed.
        errors = [error for field_errors in form.errors.values() for error in field_errors]
        messages.error(request, errors[0] if errors else "Choose to keep audit events forever or for a number of days.")
        return redirect("audit_stream:streaming", org_slug=org_slug)
    if request.method != "POST":
        return _retention_preview(request, org, form)
    days = form.retention_days()
    return act(
        request,
        lambda: _save_retention(request, org, days),
        success="Audit events are kept forever." if days is None else f"Audit events are kept {days} days.",
        to=reverse("audit_stream:streaming", args=[org_slug]),
    )


def _save_retention(request: HttpRequest, org: OrgContext, days: int | None) -> None:
    refuse_if_changed(request.POST, retention_values(org), RETENTION_LABELS)
    retention.set_retention(org.organization, actor=request.user, days=days)
