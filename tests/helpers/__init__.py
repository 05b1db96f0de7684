"""Helpers shared by test modules: factories, signed-in clients, scripted IdPs and SAML/OIDC round trips.
Fixtures stay in the conftest modules, which import what they need from here."""
