"""Two-factor authentication: WebAuthn passkeys and security keys, TOTP authenticator apps, one-time backup codes,
the sign-in and re-authentication steps that ask for them, and the organization policy that requires them."""
