"""What the SSO connection page's forms version (``orgsecurity.versions``): each form carries a ``loaded_stamp``
of the saved values it shows, and its POST is refused ("changed since you opened this page", listing what changed)
when those values changed meanwhile, by another admin or by the admin API (whose ETag covers the same values,
``adminapi.routes.sso.connection_values``).

Protocol forms version their own values: ``sso.saml.versions`` (IdP settings, SAML options, attribute mapping
preset) and ``sso.oidc.versions`` (OpenID Connect settings).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from orgsecurity.versions import ChangedMeanwhile, form_labels, refuse_if_changed
from sso.connections.forms import ConnectionSettingsForm
from sso.models import SSOConnection


def general_values(connection: SSOConnection) -> dict[str, Any]:
    """The saved values the general settings form (``ConnectionSettingsForm``) shows: name, admin owner (email),
    JIT provisioning and its role, attribute mapping, and the IdP-MFA requirement with its attribute and values."""
    return {
        "name": connection.name,
        "admin_owner": connection.admin_owner.email if connection.admin_owner_id else None,
        "allow_jit": connection.allow_jit,
        "jit_default_role": connection.jit_default_role,
        "attribute_map": dict(connection.attribute_map or {}),
        "require_idp_mfa": connection.require_idp_mfa,
        "idp_mfa_attribute": connection.idp_mfa_attribute,
        "idp_mfa_values": list(connection.idp_mfa_values or []),
    }


def general_labels() -> dict[str, str]:
    """The general settings' fields named as the form shows them."""
    return form_labels(ConnectionSettingsForm)


def attribute_map_values(connection: SSOConnection) -> dict[str, Any]:
    """The saved attribute mapping alone (what a preset replaces)."""
    return {"attribute_map": dict(connection.attribute_map or {})}


ATTRIBUTE_MAP_LABELS = {"attribute_map": "Attribute mapping"}


def refused_if_changed(
    request: HttpRequest,
    connection: SSOConnection,
    current: Mapping[str, Any],
    labels: Mapping[str, str],
) -> HttpResponse | None:
    """None when the submitted form was loaded with ``current`` (or carries no version); otherwise the refusal
    ("changed since you opened this page", with what changed) shown on the connection page, which shows the saved
    settings, after a redirect."""
    try:
        refuse_if_changed(request.POST, current, labels)
    except ChangedMeanwhile as exc:
        messages.error(request, exc.message)
        return redirect("sso:connection", connection.organization.slug, connection.pk)
    return None
