"""The admin API's URLs, mounted at /api/v1/ by the root URLconf (before the key API's catch-all JSON 404)."""

from django.urls import path

from adminapi.api import api

urlpatterns = [path("", api.urls)]
