"""Organization pages of audit streaming and retention, under /orgs/<org_slug>/settings/security/streaming/."""

from django.urls import path

from audit_stream import views

app_name = "audit_stream"

urlpatterns = [
    path("", views.streaming, name="streaming"),
]
