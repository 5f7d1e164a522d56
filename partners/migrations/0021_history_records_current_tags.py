"""Each partner's latest version records the tag lists it has now.

Partners 0020 began recording a partner's consulting categories, industries and use cases with every
version, but the versions written before it hold no tag rows: a partner's first edit after the upgrade read
as its editor adding every tag it had. Each partner's latest version is given the tags it has now (what
older versions held is not known, so they stay without), in one INSERT ... SELECT per list. Rows already
recorded are not written twice, so the migration can run again.
"""

from django.db import migrations
from django.db.models import Exists, OuterRef, Subquery

TAG_LISTS = ("categories", "industries", "use_cases")


def record_current_tags(apps, schema_editor):
    connection = schema_editor.connection
    Partner = apps.get_model("partners", "Partner")
    HistoricalPartner = apps.get_model("partners", "HistoricalPartner")
    latest_version = (
        HistoricalPartner.objects.filter(id=OuterRef("partner_id"))
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )
    for name in TAG_LISTS:
        links = Partner._meta.get_field(name).remote_field.through
        recorded = apps.get_model("partners", f"HistoricalPartner_{name}")
        tag = next(
            field.name
            for field in links._meta.get_fields()
            if field.many_to_one and field.related_model is not Partner
        )
        missing = (
            links.objects.annotate(version=Subquery(latest_version))
            .filter(version__isnull=False)
            .exclude(Exists(recorded.objects.filter(history_id=OuterRef("version"), **{tag: OuterRef(tag)})))
            .values_list("version", "id", "partner_id", f"{tag}_id")
        )
        select, params = missing.query.get_compiler(connection=connection).as_sql()
        columns = ", ".join(
            connection.ops.quote_name(recorded._meta.get_field(field).column)
            for field in ("history", "id", "partner", tag)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {connection.ops.quote_name(recorded._meta.db_table)} ({columns}) {select}",
                params,
            )


class Migration(migrations.Migration):
    dependencies = [("partners", "0020_history_of_tags_offices_staff_and_programs")]

    # Reversed, the rows stay: 0020's reversal drops their tables.
    operations = [migrations.RunPython(record_current_tags, migrations.RunPython.noop)]
