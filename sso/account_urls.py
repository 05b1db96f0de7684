"""Account pages of SSO, under /accounts/: break-glass recovery sign-in. (Email-first sign-in is the login view.)"""

from django.urls import path

from sso.signin import signin_views

urlpatterns = [
    path("recovery/", signin_views.recovery_sign_in, name="sso_recovery_sign_in"),
]
