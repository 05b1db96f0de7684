"""Audit events of the IP allowlist app: entries, settings, refusals, recovery access and support overrides."""

from audit.events import register

register("allowlist.entries_added", "{actor} added to the IP allowlist ({count}): {added}", "policy")
register("allowlist.entries_removed", "{actor} removed from the IP allowlist ({count}): {removed}", "policy")
register("allowlist.enabled", "{actor} turned the IP allowlist on for {covers}", "policy")
register("allowlist.disabled", "{actor} turned the IP allowlist off", "policy")
register("allowlist.scope_changed", "{actor} changed what the IP allowlist covers to {covers}", "policy")
register(
    "allowlist.access_refused",
    "{actor} was refused {path} from {ip}, which is not on the IP allowlist",
    "auth",
)
register(
    "allowlist.api_access_refused",
    "A request with {actor} was refused from {ip}, which is not on the IP allowlist",
    "key",
)
register(
    "allowlist.recovery_access",
    "{actor} opened the IP allowlist page with a recovery sign-in from {ip}, outside the list",
    "auth",
)
register(
    "allowlist.support_disabled",
    "{actor} turned the IP allowlist off from the support console: {reason}",
    "support",
)
