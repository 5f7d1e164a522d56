from django.db import migrations, models


def superusers_with_an_organisation_demote(apps, schema_editor):
    """A partner's or customer's person marked superuser (which the constraint allowed with staff status off)
    keeps their organisation and loses the superuser status; their API tokens end, as a change of superuser
    status ends them (User.save)."""
    User = apps.get_model("accounts", "User")
    Token = apps.get_model("authtoken", "Token")
    users = User.objects.filter(is_superuser=True).exclude(partner__isnull=True, customer__isnull=True)
    Token.objects.filter(user__in=users).delete()
    users.update(is_superuser=False)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_customer"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [
        migrations.RunPython(
            superusers_with_an_organisation_demote, migrations.RunPython.noop, elidable=True
        ),
        migrations.RemoveConstraint(
            model_name="user",
            name="user_staff_has_no_organisation",
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("partner__isnull", True), ("customer__isnull", True)),
                    models.Q(("is_staff", False), ("is_superuser", False)),
                    _connector="OR",
                ),
                name="user_staff_has_no_organisation",
                violation_error_message=(
                    "Provider staff and superusers cannot also belong to a partner or customer organisation."
                ),
            ),
        ),
    ]
