# access_grant.revoked tells of every end of a grant, expired ones too: its label says so (the name stays).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0007_access_grant_created_event"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event",
            field=models.CharField(
                choices=[
                    ("partner.tier_changed", "A partner moved to another tier"),
                    ("enrollment.approved", "A program enrollment was approved"),
                    ("enrollment.expired", "A program enrollment expired"),
                    ("enrollment.revoked", "A program enrollment was revoked (status_reason says why)"),
                    ("certification.expiring", "A partner's certifications expire soon"),
                    ("access_grant.created", "A customer granted a partner access to an account"),
                    (
                        "access_grant.revoked",
                        "A customer's access grant to a partner ended: revoked, or expired "
                        "(data.state says which)",
                    ),
                    ("contact_request.created", "A customer sent a partner a contact request"),
                    ("support_case.breached", "A support case passed its first-response deadline"),
                ],
                max_length=50,
            ),
        ),
    ]
