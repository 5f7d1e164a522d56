"""Every facet value of a search entry in one array, filled here from the columns the entry already has."""

from django.db import migrations, models

import partners.models

FILL = """
UPDATE partners_partnersearchentry SET facet_keys =
    ARRAY['type:' || partner_type, 'tier:' || tier_id]
    || ARRAY(SELECT 'program:' || v FROM unnest(program_ids) AS v)
    || ARRAY(SELECT 'industry:' || v FROM unnest(industry_ids) AS v)
    || ARRAY(SELECT 'use_case:' || v FROM unnest(use_case_ids) AS v)
    || ARRAY(SELECT 'country:' || v FROM unnest(country_codes) AS v)
"""


def fill_facet_keys(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FILL)


class Migration(migrations.Migration):
    dependencies = [("partners", "0007_partner_name_slug_trigram")]

    operations = [
        migrations.AddField(
            model_name="partnersearchentry",
            name="facet_keys",
            field=partners.models.PostgresArrayField(
                base_field=models.TextField(), blank=True, default=list, size=None
            ),
        ),
        migrations.RunPython(fill_facet_keys, migrations.RunPython.noop),
    ]
