"""The security overview's index: ``audit_org_signin_idx``, a partial covering index of the sign-in events
(``audit.models.SIGN_IN_ACTIONS``) by organization and time, so its 30-day counts are index-only scans on
PostgreSQL. Covering indexes are PostgreSQL's: SQLite creates none (Django skips it there).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_search_text'),
        ('orgsecurity', '0001_initial'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(condition=models.Q(('action__in', ('auth.signed_in', 'auth.sign_in_failed', 'sso.sign_in_refused', 'sso.password_sign_in_refused'))), fields=['organization', 'occurred_at'], include=('action', 'actor_type', 'actor_id', 'details'), name='audit_org_signin_idx'),
        ),
    ]
