"""Audit events of SSO: connections, status, identities, tests."""

from audit.events import register

register("sso.connection_created", "{actor} created the {protocol} SSO connection {target}", "sso")
register("sso.connection_updated", "{actor} changed the SSO connection {target}", "sso")
register("sso.status_changed", "{actor} changed SSO status of {target} from {status_old} to {status}", "sso")
register("sso.identity_linked", "{actor} linked {user} to the IdP identity {subject} ({via})", "sso")
register("sso.identity_unlinked", "{actor} unlinked {user_old} from the IdP identity {subject_old}", "sso")
register("sso.test_started", "{actor} started an SSO test of {target}", "sso")
register("sso.tested", "{actor} tested {target}: {result} {error}", "sso")
register("sso.sign_in_refused", "SSO sign-in through {target} refused: {reason}", "auth")
