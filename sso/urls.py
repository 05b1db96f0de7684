"""Public SSO endpoints that IdPs and browsers reach: /sso/<org_slug>/saml/... and /sso/<org_slug>/oidc/...

These are not organization pages: the enforcement pipeline does not run here (people are signing in).
"""

app_name = "sso_public"

urlpatterns: list = []
