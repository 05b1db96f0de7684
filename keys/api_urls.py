"""The key-authenticated JSON API under /api/v1/ (Authorization: Bearer <key>).

Paths match with or without the trailing slash, and anything else under /api/v1/ is a JSON 404, so an API
client never receives an HTML page or a redirect.
"""

from django.urls import re_path

from keys import api_views

app_name = "api"

urlpatterns = [
    re_path(r"^whoami/?$", api_views.whoami, name="whoami"),
    re_path(r"^projects/(?P<project_id>[^/]*)/?$", api_views.project, name="project"),
    re_path(r"^", api_views.not_found, name="not_found"),
]
