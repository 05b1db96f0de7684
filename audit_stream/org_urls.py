"""Organization pages of audit streaming and retention, under /orgs/<org_slug>/settings/security/streaming/."""

from django.urls import path

from audit_stream import views

app_name = "audit_stream"

urlpatterns = [
    path("", views.streaming, name="streaming"),
    path("destinations/add/", views.add, name="add"),
    path("destinations/<int:pk>/secret/<str:ticket>/", views.secret, name="secret"),
    path("destinations/<int:pk>/test/", views.test_event, name="test"),
    path("destinations/<int:pk>/remove/", views.remove, name="remove"),
    path("destinations/<int:pk>/resume/", views.resume, name="resume"),
    path("retention/", views.retention_change, name="retention"),
]
