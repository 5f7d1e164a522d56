from django.db import migrations

# As partners.reference_data.SEEDED says it, kept here as it was when written.
SEEDED = "Default reference data"


def record_first_versions(apps, schema_editor):
    """The default consulting categories and tier requirements were seeded in bulk, which wrote no version
    of them: the first edit of one showed no old and new value. Each such row with no version at all (so
    never edited since) is given its first version, as it is, dated when it was created."""
    for name in ("ConsultingCategory", "TierRequirement"):
        model = apps.get_model("partners", name)
        history = apps.get_model("partners", f"Historical{name}")
        recorded = {field.attname for field in history._meta.concrete_fields}
        columns = [field.attname for field in model._meta.concrete_fields if field.attname in recorded]
        versions = [
            history(
                **{column: getattr(row, column) for column in columns},
                history_date=row.created_at,
                history_type="+",
                history_change_reason=SEEDED,
            )
            for row in model.objects.exclude(pk__in=history.objects.values("id"))
        ]
        history.objects.bulk_create(versions, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("partners", "0031_minimum_tier_short_from_per_enrollment")]

    operations = [migrations.RunPython(record_first_versions, migrations.RunPython.noop)]
