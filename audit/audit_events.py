"""Audit events of the audit trail itself: exports of the log and platform support staff's page views."""

from audit.events import register

register("audit.exported", "{actor} exported the audit log as {format} ({filters})", "audit")
register("support.viewed", "{actor} viewed {page}", "support")
register("audit.retention_changed", "{actor} changed audit log retention to {retention}", "audit")
register("audit.pruned", "Audit retention deleted events #{from_seq} to #{through_seq} (older than {cutoff})", "audit")
