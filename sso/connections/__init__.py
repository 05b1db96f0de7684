"""SSO connections: creating, configuring and changing the status of an organization's SAML or OIDC connection, its
linked identities and its test runs (``actions``), the connection pages (``views``) and their forms (``forms``).
Protocol-specific configuration lives in ``sso.saml`` and ``sso.oidc``; the models stay in ``sso.models``."""
