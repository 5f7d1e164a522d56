"""An approved enrollment records the audit its current approval stands on.

Renewal asks for a new audit, one held after the approval: but an approval backdated before its audit (the
approval allowed it before partners' approval rule said otherwise) made that same audit read as a new one.
Recording the audit the approval stood on tells it from a new passed audit recorded on the enrollment's
page since. For the enrollments approved already it is the audit date of the version of the enrollment's
history in which its current approval date was set; without such a version, the earlier of its audit date
and its approval date (the approval date when it has no audit), which renews as before.
"""

from django.db import migrations, models
from django.db.models import Case, F, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce


def record_the_audit_approved_on(apps, schema_editor):
    Enrollment = apps.get_model("partners", "ProgramEnrollment")
    History = apps.get_model("partners", "HistoricalProgramEnrollment")
    # The last version with another approval date (or none): the version after it set the current one.
    before = (
        History.objects.filter(id=OuterRef(OuterRef("pk")))
        .filter(Q(approved_on__isnull=True) | ~Q(approved_on=OuterRef(OuterRef("approved_on"))))
        .order_by("-history_id")
        .values("history_id")[:1]
    )
    approved_in = (
        History.objects.filter(
            id=OuterRef("pk"),
            approved_on=OuterRef("approved_on"),
            history_id__gt=Coalesce(Subquery(before), 0),
        )
        .order_by("history_id")
        .values("audit_date")[:1]
    )
    Enrollment.objects.filter(status="approved", approval_audit_date__isnull=True).update(
        approval_audit_date=Coalesce(
            Subquery(approved_in),
            Case(When(audit_date__lte=F("approved_on"), then=F("audit_date")), default=F("approved_on")),
        )
    )


class Migration(migrations.Migration):
    dependencies = [("partners", "0021_history_records_current_tags")]

    operations = [
        migrations.AddField(
            model_name="historicalprogramenrollment",
            name="approval_audit_date",
            field=models.DateField(
                blank=True,
                editable=False,
                help_text="The audit the current approval or renewal stands on; set by approving and renewing.",
                null=True,
                verbose_name="audit approved on",
            ),
        ),
        migrations.AddField(
            model_name="programenrollment",
            name="approval_audit_date",
            field=models.DateField(
                blank=True,
                editable=False,
                help_text="The audit the current approval or renewal stands on; set by approving and renewing.",
                null=True,
                verbose_name="audit approved on",
            ),
        ),
        migrations.RunPython(record_the_audit_approved_on, migrations.RunPython.noop),
    ]
