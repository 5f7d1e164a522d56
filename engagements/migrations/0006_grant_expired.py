"""A grant that ran out is recorded as expired, for good, and no longer reads as revoked.

Until now the scheduled check recorded a grant past its end as revoked by nobody, dated when it ended:
the pages and the API then called it revoked, as if somebody had cut it short. Those grants (no person,
ended exactly at their end) are marked expired, their history rows too, and their `updated_at` moves so
that integrators syncing with `updated_since` see their new state. The access-grant trigger of migrations
0002 and 0005 looks only at grants not ended (`revoked_at` empty) and needs no change.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F
from django.utils import timezone

EXPIRED_HELP = (
    "It ran out (its end or its contract's last day passed) and the scheduled check recorded it, dated when "
    "it ended; nobody revoked it."
)
REVOKED_BY_HELP = "Who cut the access short; empty for a grant that expired."


def mark_expired(apps, schema_editor):
    ran_out = {"revoked_at": F("expires_at"), "revoked_by__isnull": True}
    AccessGrant = apps.get_model("engagements", "AccessGrant")
    AccessGrant.objects.filter(**ran_out).update(expired=True, updated_at=timezone.now())
    HistoricalAccessGrant = apps.get_model("engagements", "HistoricalAccessGrant")
    HistoricalAccessGrant.objects.filter(**ran_out).update(expired=True)


class Migration(migrations.Migration):
    dependencies = [
        ("engagements", "0005_grant_last_day"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="accessgrant",
            name="expired",
            field=models.BooleanField(default=False, help_text=EXPIRED_HELP),
        ),
        migrations.AddField(
            model_name="historicalaccessgrant",
            name="expired",
            field=models.BooleanField(default=False, help_text=EXPIRED_HELP),
        ),
        migrations.AlterField(
            model_name="accessgrant",
            name="revoked_by",
            field=models.ForeignKey(
                blank=True,
                help_text=REVOKED_BY_HELP,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="historicalaccessgrant",
            name="revoked_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text=REVOKED_BY_HELP,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        # Before the rows change: every grant is still `expired=False`, and the table has no pending
        # trigger events to refuse the ALTER TABLE.
        migrations.AddConstraint(
            model_name="accessgrant",
            constraint=models.CheckConstraint(
                condition=models.Q(expired=False)
                | models.Q(revoked_at=F("expires_at"), revoked_by__isnull=True),
                name="access_grant_expired_at_its_end",
                violation_error_message="An expired grant ended at its end, by nobody's hand.",
            ),
        ),
        migrations.RunPython(mark_expired, migrations.RunPython.noop),
    ]
