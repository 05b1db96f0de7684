"""Account pages of SSO, under /accounts/: break-glass recovery sign-in and the page that shows new recovery codes
once. (Email-first sign-in is the login view.)"""

from django.urls import path

from sso.rollout import views as rollout_views
from sso.signin import signin_views

urlpatterns = [
    path("recovery/", signin_views.recovery_sign_in, name="sso_recovery_sign_in"),
    path("recovery/codes/<str:ticket>/", rollout_views.show_codes, name="sso_recovery_codes"),
]
