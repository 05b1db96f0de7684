"""Organization pages of the sessions_policy app, under /orgs/<org_slug>/settings/security/sessions/."""

from django.urls import path

from sessions_policy import views

app_name = "sessions_policy"

urlpatterns = [
    path("", views.index, name="index"),
    path("confirm/", views.confirm_policy, name="confirm_policy"),
    path("members/", views.member_sessions, name="member_sessions"),
    path("members/<int:session_id>/end/", views.end_member_session, name="end_member_session"),
    path("members/person/<int:user_id>/end-all/", views.end_all_member_sessions, name="end_all_member_sessions"),
]
