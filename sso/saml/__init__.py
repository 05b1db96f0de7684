"""SAML 2.0 single sign-on per organization (python3-saml): IdP metadata, SP keys, AuthnRequests, the ACS and SLO.

The shared SSO flow (``sso.signin.flow``, ``sso.signin.completion``) does everything after a response is validated;
this package only configures connections, starts sign-ins at the IdP and validates what the IdP answers.
"""
