"""OIDC organization pages: add a connection, change its settings. Owners and admins only; outsiders get 404."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from orgsecurity.access import require_capability
from orgsecurity.accessors import get_org_object, org_for_member
from orgsecurity.actions import ActionRefused
from orgsecurity.roles import Capability
from sso.connections.versions import refused_if_changed
from sso.connections.views import _connection_page, protecting_connection
from sso.models import OIDCSettings, SSOConnection
from sso.oidc import actions, versions
from sso.oidc.config import callback_url
from sso.oidc.discovery import DiscoveryError, discover
from sso.oidc.forms import OIDCConnectionForm, OIDCSettingsForm


@require_http_methods(["GET", "POST"])
@require_capability(Capability.MANAGE_SECURITY, action="add an OpenID Connect connection")
def create(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Add an OIDC connection: the provider's discovery document is read before anything is saved."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    form = OIDCConnectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                metadata = discover(data["issuer"])
                connection = actions.create_oidc_connection(
                    org.organization,
                    actor=request.user,
                    metadata=metadata,
                    client_id=data["client_id"],
                    client_secret=data["client_secret"],
                    scopes=data["scopes"],
                    preset=data["preset"],
                    name=data["name"],
                )
            except DiscoveryError as exc:
                form.add_error("issuer", exc.message)
            except ActionRefused as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(
                    request,
                    "The OpenID Connect connection is saved (status off). Register the redirect URI below at your "
                    "provider, then use “Test SSO”.",
                )
                return redirect("sso:connection", org_slug, connection.pk)
    context = {"org": org, "form": form, "oidc_redirect_uri": callback_url(org_slug)}
    return render(request, "sso/oidc/create.html", context, status=status)


@require_POST
@protecting_connection("change the OpenID Connect settings of the SSO connection {connection}")
@require_capability(Capability.MANAGE_SECURITY, action="change an SSO connection's OpenID Connect settings")
def update(request: HttpRequest, org_slug: str, connection_id: int) -> HttpResponse:
    """Change the OIDC settings shown on the connection page; errors re-render that page with status 400."""
    org = org_for_member(request, org_slug, Capability.MANAGE_SECURITY)
    connection = get_org_object(
        org,
        SSOConnection.objects.filter(protocol=SSOConnection.Protocol.OIDC).select_related("admin_owner"),
        pk=connection_id,
    )
    stale = refused_if_changed(request, connection, versions.settings_values(connection), versions.settings_labels())
    if stale is not None:
        return stale
    current = OIDCSettings.objects.filter(connection=connection).first()
    form = OIDCSettingsForm(request.POST, configured=current is not None)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            metadata = None
            if current is None or data["refresh_discovery"] or data["issuer"].strip() != current.issuer:
                metadata = discover(data["issuer"])
            changes = actions.update_oidc_settings(
                connection,
                actor=request.user,
                metadata=metadata,
                client_id=data["client_id"],
                client_secret=data["client_secret"] or None,
                scopes=data["scopes"],
                allowed_algorithms=data["allowed_algorithms"],
                accept_missing_email_verified=data["accept_missing_email_verified"],
                rp_initiated_logout=data["rp_initiated_logout"],
                preset=data["preset"] or None,
            )
        except DiscoveryError as exc:
            form.add_error("issuer", exc.message)
        except ActionRefused as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            if current is not None and "issuer" in changes:
                messages.warning(
                    request,
                    "The issuer changed: people linked under the previous issuer must link their accounts again.",
                )
            replaced = bool(data["client_secret"])
            messages.success(request, "OpenID Connect settings saved." if changes or replaced else "Nothing changed.")
            return redirect("sso:connection", org_slug, connection.pk)
    request.oidc_settings_form = form
    return _connection_page(request, org, connection, status=status)
