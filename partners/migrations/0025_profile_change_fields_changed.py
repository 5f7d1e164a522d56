from django.db import migrations, models

ALL_FIELDS = ["description", "website", "industries", "use_cases"]


def proposals_made_so_far_changed_everything(apps, schema_editor):
    # What approving one of them did until now: set all four.
    apps.get_model("partners", "ProfileChangeRequest").objects.update(fields_changed=ALL_FIELDS)


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0024_vocabulary_slugs_lowercase"),
    ]

    operations = [
        migrations.AddField(
            model_name="profilechangerequest",
            name="fields_changed",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(proposals_made_so_far_changed_everything, migrations.RunPython.noop),
    ]
