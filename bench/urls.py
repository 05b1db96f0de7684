"""Benchmark-only URLs: the product's URLs plus /bench/baseline, a view that does one primary-key SELECT of the
benchmark key and returns the same JSON as /api/v1/whoami. Used only by bench/key_auth.py via bench.settings."""

import os

from django.http import HttpRequest, JsonResponse
from django.urls import path

from keys.api_views import whoami_payload
from keys.authentication import key_queryset
from orgsecurity.urls import urlpatterns as product_urlpatterns


def baseline(request: HttpRequest) -> JsonResponse:
    # The same columns the key lookup loads, fetched by primary key.
    key = key_queryset().get(pk=int(os.environ["BENCH_KEY_PK"]))
    key.owner_role = os.environ["BENCH_OWNER_ROLE"]  # whoami reads it from the same query's subselect
    response = JsonResponse(whoami_payload(key))
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [path("bench/baseline", baseline), *product_urlpatterns]


def scim_baseline(request: HttpRequest, org_slug: str):
    """What POST /scim/v2/<org>/Users writes and answers, without SCIM: the same rows (account, membership, SCIM
    link, audit event) in one audited transaction and the same JSON. Used only by bench/scim.py."""
    import json as json_module

    from django.db.models.functions import Lower

    from audit import recorder
    from audit.locking import audited
    from orgsecurity.models import Membership, Organization, User
    from scim import resources
    from scim.errors import scim_json
    from scim.models import ScimUser

    body = json_module.loads(request.body)
    organization = Organization.objects.get(slug=org_slug)

    @audited(lambda: organization)
    def write() -> ScimUser:
        email = body["userName"].lower()
        user = User.objects.create_user(email, None)
        Membership.objects.create(organization=organization, user=user, role="member")
        ScimUser.objects.alias(lower=Lower("user_name")).filter(organization=organization, lower=email).exists()
        link = ScimUser.objects.create(
            organization=organization,
            user=user,
            user_name=body["userName"],
            external_id=body.get("externalId", ""),
            email=email,
            data={"name": body.get("name", {}), "emails": body.get("emails", [])},
        )
        recorder.record("scim.user_created", organization=organization, actor=None, target=link)
        return link

    link = write()
    link.group_list = []
    payload = resources.dump(resources.user_model(link, org_slug))
    return scim_json(payload, status=201, headers={"ETag": resources.etag(link.version)})


def _csrf_exempt(view):
    from django.views.decorators.csrf import csrf_exempt

    return csrf_exempt(view)


urlpatterns.insert(0, path("bench/scim-baseline/<slug:org_slug>", _csrf_exempt(scim_baseline)))
