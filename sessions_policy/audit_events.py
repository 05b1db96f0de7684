"""Audit events of the sessions app: policy changes, sessions ended by rules or by people, re-authentication."""

from audit.events import register

register("session.policy_updated", "{actor} changed the session policy: {summary}", "policy")
register("session.ended", "{target} was signed out by the session policy: {reason}", "session")
register("session.revoked", "{actor} ended a session of {target} ({device}, {method}) {scope}", "session")
register("session.revoked_all", "{actor} ended {count} session(s) of {target} {scope}: {reason}", "session")
register("session.reauthenticated", "{actor} confirmed their identity again ({method})", "auth")
