"""Account pages of two-factor authentication, under /accounts/2fa/ (namespace ``twofactor``)."""

from django.urls import path

from twofactor import views

app_name = "twofactor"

urlpatterns = [
    path("", views.account, name="account"),
    path("app/", views.totp_setup, name="totp_setup"),
    path("app/remove/", views.totp_remove, name="totp_remove"),
    path("backup-codes/", views.backup_codes_show, name="backup_codes"),
    path("backup-codes/new/", views.backup_codes_regenerate, name="backup_codes_regenerate"),
    path("passkeys/options/", views.passkey_register_options, name="passkey_register_options"),
    path("passkeys/", views.passkey_register, name="passkey_register"),
    path("passkeys/<int:credential_id>/remove/", views.passkey_remove, name="passkey_remove"),
    path("verify/", views.verify, name="verify"),
    path("verify/passkey/options/", views.verify_passkey_options, name="verify_passkey_options"),
    path("verify/passkey/", views.verify_passkey, name="verify_passkey"),
    path("sign-in/passkey/options/", views.passkey_sign_in_options, name="passkey_sign_in_options"),
    path("sign-in/passkey/", views.passkey_sign_in, name="passkey_sign_in"),
    path("reauthenticate/", views.reauthenticate, name="reauthenticate"),
    path("reauthenticate/passkey/options/", views.reauth_passkey_options, name="reauth_passkey_options"),
    path("reauthenticate/passkey/", views.reauth_passkey, name="reauth_passkey"),
    path("required/", views.setup_required, name="setup_required"),
]
