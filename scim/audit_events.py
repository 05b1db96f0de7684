"""Audit events of SCIM provisioning. The actor of provisioning changes is the SCIM token (its prefix)."""

from audit.events import register

register("scim.user_created", "{actor} provisioned the SCIM user {target} ({email})", "member")
register("scim.user_updated", "{actor} updated the SCIM user {target}: {fields}", "member")
register("scim.user_deleted", "{actor} deleted the SCIM user {target}", "member")
register("scim.group_created", "{actor} created the SCIM group {target} ({members} members)", "member")
register("scim.group_updated", "{actor} updated the SCIM group {target} (+{added} -{removed} members)", "member")
register("scim.group_deleted", "{actor} deleted the SCIM group {target}", "member")
register("scim.token_created", "{actor} created the SCIM token {target} for {connection}", "sso")
register("scim.token_revoked", "{actor} revoked the SCIM token {target}", "sso")
register("scim.token_refused", "A SCIM request with {target} was refused: {message} ({code})", "sso")
register("scim.mapping_saved", "{actor} mapped the SCIM group {target} to {role_label}", "sso")
register("scim.mapping_deleted", "{actor} removed the SCIM group mapping {target}", "sso")
register("scim.settings_changed", "{actor} changed the SCIM provisioning settings", "sso")
