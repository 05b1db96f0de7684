"""Audit events of the keys app. Keys appear by their public prefix (osk_…), never by their secret."""

from audit.events import register

register("key.created", "{actor} created API key {target} ({permission}) for {owner}", "key")
register("key.rotated", "{actor} rotated API key {target}; the old secret works until {overlap_until}", "key")
register("key.revoked", "{actor} revoked API key {target}: {revoked_reason}", "key")
register("key.flagged_for_review", "{actor} flagged API key {target} for review: {flagged_reason}", "key")
register("key.review_cleared", "{actor} marked API key {target} as reviewed", "key")
register("key.policy_updated", "{actor} changed the API key policy", "policy")
register("key.service_account_created", "{actor} created the service account {name}", "key")
register("key.workload_created", "{actor} defined the workload {name}", "key")
register("key.use_denied", "An API request with {target} was refused: {message} ({code})", "key")
register("key.stale_digest_subscribed", "{actor} asked for the weekly stale-credentials digest by email", "key")
register("key.stale_digest_unsubscribed", "{actor} stopped the weekly stale-credentials digest", "key")
register("key.api_security_changes_allowed", "{actor} allowed security changes through the API", "policy")
register("key.api_security_changes_disallowed", "{actor} stopped security changes through the API", "policy")
