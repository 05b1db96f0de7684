"""Audit retention: each chain's retention period, and an append-only trigger that lets retention delete the pruned
prefix of a chain — and nothing else.

On PostgreSQL the trigger of migration 0002 refused every UPDATE and DELETE of an audit event. It now allows a DELETE
of an event whose ``seq`` is at or before its chain's anchor (``audit_auditchain.anchor_seq``, the last pruned
position, which ``audit.retention`` moves in the same transaction before deleting). Every UPDATE, and every DELETE
after the anchor, is still refused, from the ORM and from SQL.
"""

from django.db import migrations, models

ALLOW_PRUNED_PREFIX = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM audit_auditchain chain
        WHERE chain.scope = CASE WHEN OLD.organization_id IS NULL THEN 'platform'
                                 ELSE 'org:' || OLD.organization_id END
          AND OLD.seq <= chain.anchor_seq
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

REFUSE_ALL = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditevent is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def allow_pruned_prefix(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW_PRUNED_PREFIX, params=None)


def refuse_all(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REFUSE_ALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_actor_type_scim_token")]

    operations = [
        migrations.AddField(
            model_name="auditchain",
            name="retention_days",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(allow_pruned_prefix, refuse_all),
    ]
