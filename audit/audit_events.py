"""Audit events of the audit trail itself: exports of the log and platform support staff's page views."""

from audit.events import register

register("audit.exported", "{actor} exported the audit log as {format} ({filters})", "audit")
register("support.viewed", "{actor} viewed {page}", "support")
