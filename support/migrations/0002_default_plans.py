from django.db import migrations


class Migration(migrations.Migration):
    """Kept so the migration graph stays stable. The default plans are seeded after every migrate by
    support.reference_data.support_plans_ensure (a post_migrate handler), which also restores them after a
    test database is flushed."""

    dependencies = [("support", "0001_initial")]

    operations = []
