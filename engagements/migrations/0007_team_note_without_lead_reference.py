"""The customer contact who wrote a lead no longer carries the lead's reference in their team note.

Turning a lead into an engagement wrote "Wrote contact request <reference>" on the writer's team row, which
every partner on the engagement reads; a lead's reference is for the partner it was sent to only (the
engagement page shows it to that partner alone). Those notes, exactly as the service wrote them, now read
"Wrote the contact request"; notes somebody typed are left alone. TeamMember keeps no history rows.
"""

from django.db import migrations
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone


def neutralise_notes(apps, schema_editor):
    TeamMember = apps.get_model("engagements", "TeamMember")
    TeamMember.objects.filter(
        engagement__contact_request__isnull=False,
        note=Concat(Value("Wrote contact request "), F("engagement__contact_request__reference")),
    ).update(note="Wrote the contact request", updated_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("engagements", "0006_grant_expired")]

    # Not reversible to the old text on purpose: the reference is not to be written back where all read it.
    operations = [migrations.RunPython(neutralise_notes, migrations.RunPython.noop)]
