from django.db import migrations


class Migration(migrations.Migration):
    """Kept so the migration graph stays stable. The default plans are seeded into an empty table by
    support.reference_data.support_plans_ensure (a post_migrate handler), after the first migrate and after
    a test database is flushed."""

    dependencies = [("support", "0001_initial")]

    operations = []
