"""Audit events of audit streaming: destinations added, removed, paused, resumed and tested."""

from audit.events import register

register("audit_stream.destination_added", "{actor} added the audit stream destination {target}", "audit")
register("audit_stream.destination_changed", "{actor} changed the audit stream destination {target}", "audit")
register("audit_stream.destination_removed", "{actor} removed the audit stream destination {target}", "audit")
register(
    "audit_stream.destination_paused",
    "Audit streaming to {target} was paused after failing since {failing_since}: {last_error}",
    "audit",
)
register("audit_stream.destination_resumed", "{actor} resumed audit streaming to {target}", "audit")
register("audit_stream.test_sent", "{actor} sent a test event to {target}: {answer}", "audit")
