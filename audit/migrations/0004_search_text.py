"""The audit viewer's search column and the support console's index of request IDs: ``AuditEvent.search_text``, its GIN full-text index on PostgreSQL, and the text
of every event recorded before it.

Events are append-only (a trigger refuses UPDATE, migration 0002), but the search text is not part of any event's
hashed content, so filling it changes no hash and breaks no chain. This migration alone may write it into existing
rows: on PostgreSQL it disables the append-only trigger, fills the column and enables the trigger again, all inside
its own transaction, so no other session ever sees the trigger off (ALTER TABLE holds an exclusive lock on the table
until the commit). New events get their text from ``audit.record``.
"""

from django.db import migrations, models

BATCH_SIZE = 1000
INDEX = (
    "CREATE INDEX audit_search_idx ON audit_auditevent "
    "USING gin (to_tsvector('english'::regconfig, COALESCE(search_text, '')))"
)


def fill_search_text(apps, schema_editor):
    from audit.search import search_text

    AuditEvent = apps.get_model("audit", "AuditEvent")
    connection = schema_editor.connection
    postgres = connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only", params=None)
    last_id = 0
    with connection.cursor() as cursor:
        while True:
            rows = list(
                AuditEvent.objects.filter(pk__gt=last_id)
                .order_by("pk")
                .values("pk", "action", "actor_label", "target_label", "changes", "details")[:BATCH_SIZE]
            )
            if not rows:
                break
            for row in rows:
                text = search_text(
                    action=row["action"],
                    actor=row["actor_label"],
                    target=row["target_label"],
                    changes=row["changes"],
                    details=row["details"],
                )
                cursor.execute("UPDATE audit_auditevent SET search_text = %s WHERE id = %s", [text, row["pk"]])
            last_id = rows[-1]["pk"]
    if postgres:
        schema_editor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only", params=None)
        schema_editor.execute(INDEX, params=None)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS audit_search_idx", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_viewer_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="search_text",
            field=models.TextField(blank=True, default="", db_default=""),
        ),
        migrations.RunPython(fill_search_text, drop_index),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("request_id", ""), _negated=True),
                fields=["request_id"],
                name="audit_request_id_idx",
            ),
        ),
    ]
