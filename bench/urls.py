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
