from django.db import migrations


class Migration(migrations.Migration):
    """Kept so the migration graph stays stable. The default reference data is seeded into empty tables
    by partners.reference_data.reference_data_ensure (a post_migrate handler), after the first migrate and
    after a test database is flushed."""

    dependencies = [("partners", "0001_initial")]

    operations = []
