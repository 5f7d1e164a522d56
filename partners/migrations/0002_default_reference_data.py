from django.db import migrations


class Migration(migrations.Migration):
    """Kept so the migration graph stays stable. The default reference data is seeded after every migrate
    by partners.reference_data.reference_data_ensure (a post_migrate handler), which also restores it after
    a test database is flushed."""

    dependencies = [("partners", "0001_initial")]

    operations = []
