from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0003_cross_table_integrity"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="supportcase",
            constraint=models.CheckConstraint(
                condition=models.Q(("first_responder__isnull", True), ("first_responded_at__isnull", False), _connector="OR"),
                name="support_case_first_responder_has_time",
                violation_error_message="A first responder is recorded with the time of the first response.",
            ),
        ),
    ]
