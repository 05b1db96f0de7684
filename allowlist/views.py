"""The IP allowlist page, /orgs/<org_slug>/settings/security/allowlist/, for owners and admins.

Shows the entries, the on/off switch and scope, single and bulk add, removal, a "check an IP" tool, and the
address the product sees for you and why (with "add my current IP"). Turning the list on or off, changing its scope
and removing entries first open a confirmation page of who it would cut off (``allowlist.preview``, CSV alike).
Every change goes through ``allowlist.actions`` behind re-authentication; JSON clients get JSON errors.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from allowlist import actions, preview
from allowlist.checks import dashboard_policy
from allowlist.forms import BulkForm, CheckForm, EntryForm, SettingsForm
from allowlist.matching import CompiledAllowlist, EntryRef, compile_allowlist
from allowlist.models import IPAllowlist, IPAllowlistEntry, Scope
from allowlist.networks import parse_client_address
from orgsecurity.access import require_capability
from orgsecurity.accessors import OrgContext, org_for_member
from orgsecurity.actions import ActionRefused
from orgsecurity.client_ip import client_ip, resolve_client_ip_with_reason
from orgsecurity.errors import json_error, wants_json
from orgsecurity.impact import Impact
from orgsecurity.impact_pages import Confirmation, confirmation_page
from orgsecurity.outcomes import refused
from orgsecurity.roles import Capability
from orgsecurity.versions import VERSION_FIELD, form_labels, loaded_stamp, refuse_if_changed

ENTRIES_PER_PAGE = 200
MAX_NOTICES_SHOWN = 20

View = Callable[[HttpRequest, OrgContext], HttpResponse]


def security_change(action: str) -> Callable[[View], Callable[..., HttpResponse]]:
    """POST only, with the access-check stack of ``orgsecurity.access``: owners and admins (404 outsiders, 403
    other roles), then recent re-authentication, whose page names ``action`` ("Confirm it is you to …"), so a
    plain member is told 403 rather than asked to re-authenticate."""

    def decorator(view: View) -> Callable[..., HttpResponse]:
        @require_POST
        @require_capability(Capability.MANAGE_SECURITY, action=action)
        @wraps(view)
        def wrapped(request: HttpRequest, org_slug: str) -> HttpResponse:
            return view(request, org_for_member(request, org_slug, Capability.MANAGE_SECURITY))

        return wrapped

    return decorator


# --- explaining an address -----------------------------------------------------------------------------


def explain(matcher: CompiledAllowlist, ip: str | None, *, enforced: bool) -> dict[str, Any]:
    """What the check tool says about ``ip``: ``valid``, ``ip`` (as matched: IPv4-mapped given as IPv4),
    ``allowed`` (by the list), ``entries`` (EntryRefs containing it, most specific first) and ``enforced``."""
    address = parse_client_address(ip)
    if address is None:
        return {"valid": False, "ip": ip, "allowed": False, "entries": [], "enforced": enforced}
    entries = matcher.entries_containing(address)
    return {"valid": True, "ip": str(address), "allowed": bool(entries), "entries": entries, "enforced": enforced}


def _matcher(request: HttpRequest, org: OrgContext) -> tuple[CompiledAllowlist, bool]:
    policy = dashboard_policy(request, org.organization)
    if policy is None:
        return compile_allowlist([]), False
    return policy.matcher(), policy.guards_dashboard


# --- the page ------------------------------------------------------------------------------------------


def _page(request: HttpRequest, org: OrgContext, *, status: int = 200, **forms: Any) -> HttpResponse:
    organization = org.organization
    allowlist = IPAllowlist.objects.filter(organization=organization).first()
    enabled = bool(allowlist and allowlist.enabled)
    scope = allowlist.scope if allowlist else Scope.DASHBOARD
    matcher, guards_dashboard = _matcher(request, org)
    entries = IPAllowlistEntry.objects.filter(organization=organization).select_related("added_by")
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "org": org,
        "enabled": enabled,
        "scope_phrase": Scope.phrase(scope),
        "guards_dashboard": guards_dashboard,
        "entries_page": page,
        "entry_count": page.paginator.count,
        "you": explain(matcher, client_ip(request), enforced=guards_dashboard),
        "you_reason": resolve_client_ip_with_reason(request.META)[1],
        "recovery_ip": getattr(request, "allowlist_recovery_ip", None),
        "settings_form": forms.get("settings_form") or SettingsForm(initial={"enabled": enabled, "scope": scope}),
        "loaded_version": _data(request).get(VERSION_FIELD) or loaded_stamp({"enabled": enabled, "scope": scope}),
        "entry_form": forms.get("entry_form") or EntryForm(),
        "bulk_form": forms.get("bulk_form") or BulkForm(),
        "check_form": forms.get("check_form") or CheckForm(),
        "check": forms.get("check"),
        "line_errors": forms.get("line_errors") or [],
        "refusal": forms.get("refusal"),
    }
    return render(request, "allowlist/index.html", context, status=status)


def _data(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else request.GET


settings_values = actions.settings_values


def _refused(request: HttpRequest, org: OrgContext, exc: ActionRefused, **forms: Any) -> HttpResponse:
    if wants_json(request):
        response = json_error(exc.code, exc.message, exc.status)
        if isinstance(exc, actions.InvalidEntries):
            lines = [{"line": error.line, "text": error.text, "message": error.message} for error in exc.errors]
            response = JsonResponse({"error": {"code": exc.code, "message": exc.message, "lines": lines}}, status=400)
        return response
    return _page(request, org, status=exc.status, refusal=exc, **forms)


def _refused_change(request: HttpRequest, org: OrgContext, exc: ActionRefused) -> HttpResponse:
    """A refused change of the list's state (settings, removal): JSON clients get the refusal; browsers are sent
    back to the page (post/redirect/get) with the reason, where the forms show what is actually saved."""
    return refused(request, exc, reverse("allowlist:index", args=[org.organization.slug]))


def _invalid_form(request: HttpRequest, org: OrgContext, name: str, form: Any) -> HttpResponse:
    if wants_json(request):
        first = next(iter(form.errors.values()))[0]
        return json_error("invalid_input", first, 400)
    return _page(request, org, status=400, **{name: form})


def _done(request: HttpRequest, org: OrgContext, message: str, notices: list[str] | None = None) -> HttpResponse:
    notices = notices or []
    if wants_json(request):
        return JsonResponse({"ok": True, "message": message, "notices": notices})
    messages.success(request, message)
    for notice in notices[:MAX_NOTICES_SHOWN]:
        messages.warning(request, notice)
    if len(notices) > MAX_NOTICES_SHOWN:
        messages.warning(request, f"…and {len(notices) - MAX_NOTICES_SHOWN} more notices like these.")
    return redirect("allowlist:index", org_slug=org.organization.slug)


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def index(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The allowlist page."""
    return _page(request, org_for_member(request, org_slug, Capability.MANAGE_SECURITY))


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def check(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The "check an IP" tool: would ``?ip=`` be allowed, and by which entries."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    form = CheckForm(request.GET)
    if not form.is_valid():
        return _invalid_form(request, org, "check_form", form)
    matcher, guards_dashboard = _matcher(request, org)
    result = explain(matcher, form.cleaned_data["ip"], enforced=guards_dashboard)
    if not result["valid"]:
        form.add_error("ip", f"“{form.cleaned_data['ip'][:64]}” is not an IPv4 or IPv6 address.")
        return _invalid_form(request, org, "check_form", form)
    if wants_json(request):
        return JsonResponse({**result, "entries": [_entry_json(entry) for entry in result["entries"]]})
    return _page(request, org, check_form=form, check=result)


def _entry_json(entry: EntryRef) -> dict[str, Any]:
    return {"id": entry.id, "cidr": entry.cidr, "label": entry.label}


@security_change("change the IP allowlist settings")
def save_settings(request: HttpRequest, org: OrgContext) -> HttpResponse:
    """Turn the allowlist on or off and choose its scope (refused with 409 if it would lock you out)."""
    form = SettingsForm(request.POST)
    if not form.is_valid():
        return _invalid_form(request, org, "settings_form", form)
    try:
        refuse_if_changed(request.POST, settings_values(org.organization), form_labels(SettingsForm))
        changes = actions.update_settings(
            org.organization,
            actor=request.user,
            actor_ip=client_ip(request),
            enabled=form.cleaned_data["enabled"],
            scope=form.cleaned_data["scope"],
        )
    except ActionRefused as exc:
        return _refused_change(request, org, exc)
    if not changes:
        return _done(request, org, "Nothing changed.")
    state = "on" if form.cleaned_data["enabled"] else "off"
    return _done(request, org, f"The allowlist is {state}; it covers {Scope.phrase(form.cleaned_data['scope'])}.")


@security_change("add an IP allowlist entry")
def add(request: HttpRequest, org: OrgContext) -> HttpResponse:
    """Add one address or CIDR block."""
    form = EntryForm(request.POST)
    if not form.is_valid():
        return _invalid_form(request, org, "entry_form", form)
    try:
        result = actions.add_entry(
            org.organization, form.cleaned_data["cidr"], actor=request.user, label=form.cleaned_data["label"]
        )
    except ActionRefused as exc:
        form.add_error("cidr", exc.message)
        return _refused(request, org, exc, entry_form=form)
    return _done(request, org, f"Added {result.added[0].cidr}.", result.notices)


@security_change("add IP allowlist entries")
def bulk_add(request: HttpRequest, org: OrgContext) -> HttpResponse:
    """Add a pasted list; nothing is added when any line is bad (each bad line is named)."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        return _invalid_form(request, org, "bulk_form", form)
    try:
        result = actions.add_entries(
            org.organization, form.cleaned_data["entries"], actor=request.user, default_label=form.cleaned_data["label"]
        )
    except actions.InvalidEntries as exc:
        return _refused(request, org, exc, bulk_form=form, line_errors=exc.errors)
    except ActionRefused as exc:
        form.add_error("entries", exc.message)
        return _refused(request, org, exc, bulk_form=form)
    count = len(result.added)
    return _done(request, org, f"Added {count} entr{'y' if count == 1 else 'ies'}.", result.notices)


@security_change("remove IP allowlist entries")
def remove(request: HttpRequest, org: OrgContext) -> HttpResponse:
    """Remove the selected entries (refused with 409 if it would lock you out)."""
    ids = _entry_ids(request.POST.getlist("entry"))
    if ids is None:
        return _refused(request, org, ActionRefused("Select entries from the list.", code="bad_entry_id"))
    try:
        removed = actions.remove_entries(org.organization, ids, actor=request.user, actor_ip=client_ip(request))
    except ActionRefused as exc:
        return _refused_change(request, org, exc)
    names = ", ".join(entry.cidr for entry in removed[:10]) + (" …" if len(removed) > 10 else "")
    return _done(request, org, f"Removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'}: {names}.")


# --- confirmation pages (who is cut off, before the change) ---------------------------------------------------


def confirm_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET (the page's on/off and scope, as query parameters): who the change would cut off
    (``allowlist.preview.preview_settings``), with its CSV. POST: make the change (``save_settings``)."""
    if request.method in ("GET", "HEAD"):
        return _confirm_settings_page(request, org_slug=org_slug)
    return save_settings(request, org_slug=org_slug)


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def _confirm_settings_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    form = SettingsForm(request.GET)
    if not form.is_valid():
        return _invalid_form(request, org, "settings_form", form)
    enabled, scope = form.cleaned_data["enabled"], form.cleaned_data["scope"]
    impact = preview.preview_settings(
        org.organization, enabled=enabled, scope=scope, actor_ip=client_ip(request), actor=request.user
    )
    if enabled:
        title = "Turn on the IP allowlist?"
        intro = f"The allowlist will cover {Scope.phrase(scope)}: requests from addresses outside it are refused."
    else:
        title = "Turn off the IP allowlist?"
        intro = "Every address may reach this organization again."
    page = Confirmation(
        title=title,
        intro=intro,
        button="Turn it on" if enabled else "Turn it off",
        cancel_url=reverse("allowlist:index", args=[org_slug]),
        hidden={
            "scope": scope,
            **({"enabled": "on"} if enabled else {}),
            VERSION_FIELD: request.GET.get(VERSION_FIELD, ""),
        },
        filename=f"{org_slug}-allowlist-{'on' if enabled else 'off'}-{scope}",
        error=_blocked_reason(impact),
        blocked=bool(impact.blocking_items()),
    )
    return confirmation_page(request, org, impact, page)


def confirm_remove(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET (``?entry=<id>`` for each selected entry): who removing them would cut off
    (``allowlist.preview.preview_remove_entries``), with its CSV. POST: remove them (``remove``)."""
    if request.method in ("GET", "HEAD"):
        return _confirm_remove_page(request, org_slug=org_slug)
    return remove(request, org_slug=org_slug)


@require_safe
@require_capability(Capability.MANAGE_SECURITY, reauthenticate=False)
def _confirm_remove_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    ids = _entry_ids(request.GET.getlist("entry"))
    if ids is None:
        return _refused(request, org, ActionRefused("Select entries from the list.", code="bad_entry_id"))
    if not ids:
        return _refused(request, org, ActionRefused("Select at least one entry to remove.", code="nothing_selected"))
    entries = list(IPAllowlistEntry.objects.filter(organization=org.organization, pk__in=ids).order_by("cidr"))
    if len(entries) != len(set(ids)):
        return _refused(
            request,
            org,
            ActionRefused(
                "Some of the selected entries are no longer on the list. Reload the page and try again.",
                code="entry_not_found",
                status=404,
            ),
        )
    impact = preview.preview_remove_entries(org.organization, ids, actor_ip=client_ip(request), actor=request.user)
    names = ", ".join(entry.cidr for entry in entries[:10]) + (" …" if len(entries) > 10 else "")
    page = Confirmation(
        title=f"Remove {len(entries)} allowlist entr{'y' if len(entries) == 1 else 'ies'}?",
        intro=f"Removing {names} narrows the list: addresses only these entries allowed are refused.",
        button="Remove",
        cancel_url=reverse("allowlist:index", args=[org_slug]),
        hidden={"entry": [str(entry.pk) for entry in entries]},
        filename=f"{org_slug}-allowlist-remove-entries",
        error=_blocked_reason(impact),
        blocked=bool(impact.blocking_items()),
    )
    return confirmation_page(request, org, impact, page)


def _blocked_reason(impact: Impact) -> str:
    """What the confirmation page says up front when the action would refuse the change for a blocking item (every
    owner shut out, ``owners_locked_out``); "" otherwise."""
    if not impact.blocking_items():
        return ""
    return (
        "This change would be refused: it would leave no owner seen from an address on the list (see “Owners who "
        "could no longer reach the dashboard” below). Add an entry that covers an owner's network first."
    )


def _entry_ids(raw_ids: list[str]) -> list[int] | None:
    """The entry ids of a form, or None when one is not a plain positive number."""
    if not all(raw.isascii() and raw.isdigit() and len(raw) <= 18 for raw in raw_ids):
        return None
    return [int(raw) for raw in raw_ids]
