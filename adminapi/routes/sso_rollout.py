"""The SSO rollout page's other forms over the admin API: the test group (who signs in through the IdP while the
connection is testing), the fallback login policy (who keeps password sign-in under enforcement) with its password
exceptions, and the test plan the admin owner ticks. With the connection, test run, status and enforcement
operations of ``adminapi.routes.sso`` they bring a connection from created to enforced.

Each write goes through the rollout page's own form (``sso.rollout.forms``) and action (``sso.rollout.scheduling``),
so the same validation and refusals apply with the same codes (409 ``duplicate`` exception, 403 ``not_admin_owner``
for a tick by anyone but the admin owner), audited with the key as actor. The test group and the fallback policy are
settings resources with an ETag: replacing the group and confirming the policy need ``If-Match`` (a confirmation
confirms exactly the list that was read); an exception's removal needs its own.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Path

from adminapi import schemas_sso as schemas
from adminapi.access import org_access
from adminapi.concurrency import etag_of, idempotent, require_if_match, with_etag
from adminapi.core import ERRORS, MAX_ID, api, delegated
from adminapi.errors import refused
from adminapi.routes.sso import CONNECTION, _connection, _form_invalid
from keys import scopes
from orgsecurity.models import Membership, User
from sso.models import SSOConnection, SSOPasswordException, SSOTestPlanItem
from sso.rollout import readiness
from sso.rollout import scheduling as rollout
from sso.rollout.forms import ExceptionForm, TestGroupForm, TickForm

TAGS = ["sso rollout"]
TEST_GROUP = CONNECTION + "/test-group"
FALLBACK = CONNECTION + "/fallback-policy"
EXCEPTIONS = CONNECTION + "/password-exceptions"
TEST_PLAN = CONNECTION + "/test-plan"
PlanItem = Literal["login", "logout", "session_timeout", "failed_login"]


def _member(membership: Membership) -> dict[str, Any]:
    return {"membership_id": membership.pk, "email": membership.user.email, "role": membership.role}


# --- the test group -----------------------------------------------------------------------------------------------


def test_group_values(connection: SSOConnection) -> dict[str, Any]:
    """What the test group's ETag versions: the chosen membership and team ids."""
    return {
        "connection": connection.pk,
        "members": sorted(connection.test_members.values_list("pk", flat=True)),
        "teams": sorted(connection.test_teams.values_list("pk", flat=True)),
    }


def test_group_document(connection: SSOConnection) -> dict[str, Any]:
    """The test group as ``schemas_sso.TestGroupOut``: the chosen members and teams, and everyone in it now."""
    chosen = connection.test_members.filter(suspended_at__isnull=True).select_related("user").order_by("user__email")
    teams = connection.test_teams.order_by("name")
    everyone = readiness.test_group_memberships(connection).select_related("user").order_by("user__email")
    return {
        "members": [_member(membership) for membership in chosen],
        "teams": [{"id": team.pk, "name": team.name} for team in teams],
        "in_group": [_member(membership) for membership in everyone],
        "etag": etag_of(test_group_values(connection)),
    }


def _test_group_answer(connection: SSOConnection) -> HttpResponse:
    body = schemas.TestGroupOut(**test_group_document(connection)).model_dump(mode="json")
    return with_etag(JsonResponse(body), test_group_values(connection))


@api.get(
    TEST_GROUP,
    response={200: schemas.TestGroupOut, **ERRORS},
    summary="Who signs in through SSO while testing",
    tags=TAGS,
)
def get_test_group(request: HttpRequest, org_slug: str, connection_id: int = Path(..., ge=1, le=MAX_ID)) -> Any:
    """Scope ``security:read``. The members and teams chosen on the rollout page, everyone in the group now (the
    members plus the teams' members; suspended members never), and the ETag (also in the ``ETag`` header)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    return _test_group_answer(_connection(access, connection_id))


@api.put(
    TEST_GROUP,
    response={200: schemas.TestGroupOut, **ERRORS},
    summary="Replace the test group",
    tags=TAGS,
)
def put_test_group(
    request: HttpRequest,
    org_slug: str,
    payload: schemas.TestGroupIn,
    connection_id: int = Path(..., ge=1, le=MAX_ID),
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required (428 without, 412 when it changed). The rollout page's test
    group form: ``member_ids`` (membership ids) and ``team_ids`` of this organization replace the group (400
    ``invalid_request`` naming the field for an id that is not one of them). Audited as ``sso.test_group_changed``
    when something changed."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)
    require_if_match(request, test_group_values(connection))
    data = {"members": [str(pk) for pk in payload.member_ids], "teams": [str(pk) for pk in payload.team_ids]}
    form = TestGroupForm(data, organization=access.organization)
    if not form.is_valid():
        return _form_invalid(form, {"members": "member_ids", "teams": "team_ids"})
    rollout.set_test_group(
        connection, actor=delegated(access), memberships=form.cleaned_data["members"], teams=form.cleaned_data["teams"]
    )
    return _test_group_answer(_connection(access, connection_id))


# --- the fallback login policy and its password exceptions --------------------------------------------------------


def fallback_values(connection: SSOConnection) -> dict[str, Any]:
    """What the fallback policy's ETag versions: who keeps password sign-in now (user ids), the exceptions listed
    (ids) and what was confirmed when."""
    confirmed_at = connection.fallback_confirmed_at.isoformat() if connection.fallback_confirmed_at else None
    return {
        "connection": connection.pk,
        "policy": readiness.current_fallback_policy(connection),
        "exceptions": sorted(connection.password_exceptions.values_list("pk", flat=True)),
        "confirmed_at": confirmed_at,
        "confirmed_policy": connection.fallback_confirmed_policy,
    }


def exception_values(exception: SSOPasswordException) -> dict[str, Any]:
    """What a password exception's ETag versions: its id, member and reason."""
    return {"id": exception.pk, "membership_id": exception.membership_id, "reason": exception.reason}


def exception_document(exception: SSOPasswordException) -> dict[str, Any]:
    """A listed exception as ``schemas_sso.PasswordExceptionOut``."""
    return {
        "id": exception.pk,
        "membership_id": exception.membership_id,
        "email": exception.membership.user.email,
        "role": exception.membership.role,
        "reason": exception.reason,
        "created_at": exception.created_at,
        "created_by": exception.created_by.email if exception.created_by else None,
        "etag": etag_of(exception_values(exception)),
    }


def _exceptions(connection: SSOConnection):
    return (
        SSOPasswordException.objects.filter(connection=connection)
        .select_related("membership__user", "created_by")
        .order_by("membership__user__email", "pk")
    )


def fallback_document(connection: SSOConnection) -> dict[str, Any]:
    """The fallback login policy as ``schemas_sso.FallbackPolicyOut``."""
    policy = readiness.current_fallback_policy(connection)
    recovery = User.objects.filter(pk__in=policy["recovery"]).values_list("email", flat=True)
    confirmed_by = connection.fallback_confirmed_by
    return {
        "recovery_accounts": sorted(recovery),
        "exceptions": [exception_document(exception) for exception in _exceptions(connection)],
        "confirmed": readiness.fallback_policy_confirmed(connection),
        "confirmed_at": connection.fallback_confirmed_at,
        "confirmed_by": confirmed_by.email if confirmed_by else None,
        "changed_since_confirmed": connection.fallback_confirmed_at is not None
        and connection.fallback_confirmed_policy != policy,
        "etag": etag_of(fallback_values(connection)),
    }


def _fallback_answer(connection: SSOConnection) -> HttpResponse:
    body = schemas.FallbackPolicyOut(**fallback_document(connection)).model_dump(mode="json")
    return with_etag(JsonResponse(body), fallback_values(connection))


@api.get(
    FALLBACK,
    response={200: schemas.FallbackPolicyOut, **ERRORS},
    summary="Who keeps password sign-in under enforcement",
    tags=TAGS,
)
def get_fallback_policy(request: HttpRequest, org_slug: str, connection_id: int = Path(..., ge=1, le=MAX_ID)) -> Any:
    """Scope ``security:read``. The recovery accounts and the listed exceptions, whether that policy was confirmed
    as it is now (an enforcement guard: ``fallback_not_confirmed`` otherwise), and the ETag to confirm it with."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    return _fallback_answer(_connection(access, connection_id))


@api.post(
    FALLBACK + "/confirm",
    response={200: schemas.FallbackPolicyOut, **ERRORS},
    summary="Confirm the fallback login policy",
    tags=TAGS,
)
def confirm_fallback_policy(
    request: HttpRequest, org_slug: str, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required: the ETag of the policy read with GET …/fallback-policy, so a
    program confirms exactly the list it read (412 when a recovery account or exception changed since). The rollout
    page's "Confirm": audited as ``sso.fallback_confirmed`` with who keeps password sign-in; it lapses when that list
    changes."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)
    require_if_match(request, fallback_values(connection))
    rollout.confirm_fallback_policy(connection, actor=delegated(access))
    return _fallback_answer(_connection(access, connection_id))


@api.get(
    EXCEPTIONS,
    response={200: list[schemas.PasswordExceptionOut], **ERRORS},
    summary="Members who keep password sign-in under enforcement",
    tags=TAGS,
)
def list_password_exceptions(
    request: HttpRequest, org_slug: str, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> list[dict[str, Any]]:
    """Scope ``security:read``. The listed exceptions by email, each with its ETag."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    return [exception_document(exception) for exception in _exceptions(_connection(access, connection_id))]


@api.post(
    EXCEPTIONS,
    response={201: schemas.PasswordExceptionOut, **ERRORS},
    summary="List a member who keeps password sign-in under enforcement",
    tags=TAGS,
)
def add_password_exception(
    request: HttpRequest,
    org_slug: str,
    payload: schemas.PasswordExceptionIn,
    connection_id: int = Path(..., ge=1, le=MAX_ID),
) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. The rollout page's exception form: a member of this
    organization (400 ``invalid_request`` with ``fields.membership_id`` otherwise) and the reason (plain text); 409
    ``duplicate`` when already listed. It takes effect once the fallback policy is confirmed again (the change
    makes the confirmation lapse)."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)

    def run() -> HttpResponse:
        form = ExceptionForm(
            {"membership": str(payload.membership_id), "reason": payload.reason}, organization=access.organization
        )
        if not form.is_valid():
            return _form_invalid(form, {"membership": "membership_id"})
        created = rollout.add_password_exception(connection, actor=delegated(access), **form.cleaned_data)
        exception = _exceptions(connection).get(pk=created.pk)
        body = schemas.PasswordExceptionOut(**exception_document(exception)).model_dump(mode="json")
        return with_etag(JsonResponse(body, status=201), exception_values(exception))

    return idempotent(request, access.key.pk, run)


@api.delete(
    EXCEPTIONS + "/{exception_id}",
    response={204: None, **ERRORS},
    summary="Take a listed exception's password sign-in away",
    tags=TAGS,
)
def remove_password_exception(
    request: HttpRequest,
    org_slug: str,
    connection_id: int = Path(..., ge=1, le=MAX_ID),
    exception_id: int = Path(..., ge=1, le=MAX_ID),
) -> HttpResponse:
    """Scope ``security:write``; ``If-Match`` required (the exception's ETag). Effective at once; audited as
    ``sso.password_exception_removed``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)
    exception = _exceptions(connection).filter(pk=exception_id).first()
    if exception is None:
        raise refused("not_found", f"There is no password exception {exception_id} of this connection.", 404)
    require_if_match(request, exception_values(exception))
    rollout.remove_password_exception(exception, actor=delegated(access))
    return HttpResponse(status=204)


# --- the test plan ------------------------------------------------------------------------------------------------


def test_plan_document(connection: SSOConnection) -> dict[str, Any]:
    """The test plan as ``schemas_sso.TestPlanOut``: each step in the spec's order, as last seen."""
    steps = []
    for item, label, seen in readiness.test_plan_status(connection):
        steps.append(
            {
                "item": item,
                "label": label,
                "seen": seen is not None,
                "seen_at": seen.seen_at if seen else None,
                "seen_by": seen.seen_by.email if seen and seen.seen_by else None,
                "via": seen.via if seen else None,
                "note": seen.note if seen else "",
                "test_run_id": seen.test_run_id if seen else None,
            }
        )
    return {
        "steps": steps,
        "complete": all(step["seen"] for step in steps),
        "admin_owner": connection.admin_owner.email if connection.admin_owner else None,
    }


@api.get(TEST_PLAN, response={200: schemas.TestPlanOut, **ERRORS}, summary="The test plan", tags=TAGS)
def get_test_plan(
    request: HttpRequest, org_slug: str, connection_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """Scope ``security:read``. Login, logout, session timeout and failed login: each seen in a test run (a passing
    run counts as login, a failing one as failed login) or ticked by the admin owner, with the note. Every step seen
    is an enforcement guard (``test_plan_incomplete`` otherwise)."""
    access = org_access(request, org_slug, scopes.SECURITY_READ)
    return test_plan_document(_connection(access, connection_id))


@api.post(
    TEST_PLAN + "/{item}/tick",
    response={200: schemas.TestPlanOut, **ERRORS},
    summary="The admin owner ticks a test plan step",
    tags=TAGS,
)
def tick_test_plan_step(
    request: HttpRequest,
    org_slug: str,
    item: PlanItem,
    payload: schemas.TickIn,
    connection_id: int = Path(..., ge=1, le=MAX_ID),
) -> HttpResponse:
    """Scope ``security:write``; accepts ``Idempotency-Key``. The rollout page's tick with its ``note`` (what was
    seen and how). As on the page only the connection's admin owner ticks, so only the admin owner's own personal
    key does: any other key, a service account's included, is refused with 403 ``not_admin_owner``. Audited as
    ``sso.test_plan_recorded``."""
    access = org_access(request, org_slug, scopes.SECURITY_WRITE)
    connection = _connection(access, connection_id)

    def run() -> HttpResponse:
        form = TickForm({"note": payload.note})
        if not form.is_valid():
            return _form_invalid(form)
        rollout.tick_test_plan_item(
            connection, SSOTestPlanItem.Item(item), actor=delegated(access), note=form.cleaned_data["note"]
        )
        body = schemas.TestPlanOut(**test_plan_document(_connection(access, connection_id))).model_dump(mode="json")
        return JsonResponse(body)

    return idempotent(request, access.key.pk, run)
