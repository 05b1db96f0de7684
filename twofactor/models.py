"""Second factors of an account, and the organization policy that requires one.

- ``TOTPDevice``: one authenticator app per account (RFC 6238); the shared secret encrypted at rest
  (``orgsecurity.crypto``), and the last time step accepted, so each code works once.
- ``WebAuthnCredential``: passkeys and security keys (WebAuthn Level 2), several per account, named.
- ``BackupCode``: one-time codes (SHA-256 of the code: 80 random bits each), a new set replaces the old one.
- ``TwoFactorPolicy``: an organization's "Require two-factor authentication for password sign-ins", with its grace
  period.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class TOTPDevice(models.Model):
    """The account's authenticator app (RFC 6238 TOTP, SHA-1, 6 digits, 30-second steps)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device")
    secret = models.TextField(help_text="Base32 secret, encrypted with orgsecurity.crypto.encrypt_secret.")
    last_used_step = models.BigIntegerField(null=True, blank=True, help_text="RFC 6238 time step last accepted.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"authenticator app of {self.user_id}"


class WebAuthnCredential(models.Model):
    """A passkey or security key of the account (WebAuthn §6.1 credential record)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webauthn_credentials")
    name = models.CharField(max_length=60)
    credential_id = models.CharField(max_length=1400, unique=True, help_text="base64url, no padding")
    public_key = models.BinaryField(help_text="COSE_Key (RFC 9053) of the credential")
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    discoverable = models.BooleanField(default=False, help_text="A passkey: resident, usable without an email first.")
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    sign_count_regressed_at = models.DateTimeField(
        null=True, blank=True, help_text="When an assertion carried a signature counter not above the stored one."
    )

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.name


class BackupCode(models.Model):
    """One single-use backup code (only its hash)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backup_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "code_hash"])]

    def __str__(self) -> str:
        return f"backup code of {self.user_id}"


class TwoFactorPolicy(models.Model):
    """An organization's requirement of a second factor for password (and recovery) sign-ins.

    ``required``: on or off. ``grace_ends_at``: until then members without a factor are reminded and sent to set-up
    at each sign-in; from then on the organization's pages stay closed to them until they set one up (UTC)."""

    organization = models.OneToOneField(
        "orgsecurity.Organization", on_delete=models.CASCADE, related_name="two_factor_policy"
    )
    required = models.BooleanField(default=False)
    grace_ends_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"2FA policy of {self.organization_id}"

    def in_grace(self, now=None) -> bool:
        """True while required and the grace period runs."""
        now = now or timezone.now()
        return self.required and self.grace_ends_at is not None and now < self.grace_ends_at

    def enforced(self, now=None) -> bool:
        """True when required and the grace period (if any) is over."""
        return self.required and not self.in_grace(now)
