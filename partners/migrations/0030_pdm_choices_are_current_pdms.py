"""A partner's PDM is chosen among the current PDMs only (accounts.models.role_holders_condition): active
provider staff with the PDM role, not somebody who left the provider, lost the role or was deactivated."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('partners', '0029_search_parts_words_at_slashes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='historicalpartner',
            name='pdm',
            field=models.ForeignKey(blank=True, db_constraint=False, help_text='The Partner Development Manager who keeps this record.', limit_choices_to=models.Q(('customer__isnull', True), ('groups__name', 'Partner Development Manager'), ('is_active', True), ('is_staff', True), ('partner__isnull', True)), null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='PDM'),
        ),
        migrations.AlterField(
            model_name='partner',
            name='pdm',
            field=models.ForeignKey(blank=True, help_text='The Partner Development Manager who keeps this record.', limit_choices_to=models.Q(('customer__isnull', True), ('groups__name', 'Partner Development Manager'), ('is_active', True), ('is_staff', True), ('partner__isnull', True)), null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='managed_partners', to=settings.AUTH_USER_MODEL, verbose_name='PDM'),
        ),
    ]
