"""Account pages of the sessions app, under /accounts/."""

from django.urls import path

from sessions_policy import account_views

urlpatterns = [
    path("reauthenticate/", account_views.reauthenticate, name="reauthenticate"),
    path("reauthenticate/resume/<str:token>/", account_views.resume_confirm, name="reauth_resume"),
    path("reauthenticate/resume/<str:token>/cancel/", account_views.resume_cancel, name="reauth_resume_cancel"),
    path("sessions/", account_views.sessions, name="account_sessions"),
    path("sessions/<int:session_id>/end/", account_views.end_session, name="end_account_session"),
    path("sessions/end-others/", account_views.end_other_sessions, name="end_other_sessions"),
]
