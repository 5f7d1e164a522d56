"""A staff member's email is unique within its partner whatever its letters' case: `Ann.Lee@Alpha.example`
and `ann.lee@alpha.example` are one person, as the certification import already takes them, and two records
of one person would count twice toward a tier's people requirements.

A database holding such a pair stops here, naming them: merge each pair (move the certifications to one
record, delete the other) in the admin, then migrate again.
"""

import django.db.models.functions.text
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower


def refuse_case_variant_pairs(apps, schema_editor):
    StaffMember = apps.get_model("partners", "StaffMember")
    pairs = (
        StaffMember.objects.exclude(email="")
        .values("partner__slug", address=Lower("email"))
        .annotate(records=Count("id"))
        .filter(records__gt=1)
        .order_by("partner__slug", "address")
    )
    found = [f"{row['partner__slug']}: {row['address']} ({row['records']} records)" for row in pairs[:20]]
    if found:
        raise RuntimeError(
            "Staff members share an email address in another letter case; merge them in the admin, then "
            "migrate again: " + "; ".join(found)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0026_certification_fillfactor"),
    ]

    operations = [
        migrations.RunPython(refuse_case_variant_pairs, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="staffmember",
            name="staff_member_unique_email_per_partner",
        ),
        migrations.AddConstraint(
            model_name="staffmember",
            constraint=models.UniqueConstraint(
                models.F("partner"),
                django.db.models.functions.text.Lower("email"),
                condition=models.Q(("email", ""), _negated=True),
                name="staff_member_unique_email_per_partner_any_case",
                violation_error_code="email_taken",
                violation_error_message="This partner already has a staff member with that email address.",
            ),
        ),
    ]
