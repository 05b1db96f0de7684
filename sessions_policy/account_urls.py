"""Account pages of the sessions app, under /accounts/."""

from django.urls import path

from sessions_policy import account_views

urlpatterns = [
    path("reauthenticate/", account_views.reauthenticate, name="reauthenticate"),
]
