"""OpenID Connect SSO per organization: discovery, the authorization code flow with PKCE, ID token validation.

Built on mozilla-django-oidc's backend (``sso.oidc.backend``), with every value taken from the organization's
connection (``sso.models.OIDCSettings``) instead of global settings. Registered with ``sso.protocols`` as
"oidc" by ``sso.oidc.handler.OIDCHandler`` (registered in ``SsoConfig.ready``).
"""
