from django.db import migrations, models
from django.db.models import Exists, OuterRef, Q


def count_moved_on_cases(apps, schema_editor):
    """A case answered, moved to another status or escalated before steps were counted is no longer as it
    was opened: one step, for what only 0 means is read of it (its replies record no step)."""
    SupportCase = apps.get_model("support", "SupportCase")
    CaseReply = apps.get_model("support", "CaseReply")
    SupportCase.objects.filter(
        ~Q(status="open")
        | Q(escalated_at__isnull=False)
        | Exists(CaseReply.objects.filter(case=OuterRef("pk")))
    ).update(steps=1)


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0007_submission_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="supportcase",
            name="steps",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="casereply",
            name="step",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(count_moved_on_cases, migrations.RunPython.noop, elidable=True),
    ]
