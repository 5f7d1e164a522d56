"""A customer's TAM (engagements' Customer.tam, on its organisation page) is the designated TAM of its
current support plans, or nobody: the one support.services keeps it to from now on. TAMs named before
apart from any plan (customer_assign_staff used to allow it) served the customer with nothing, so they
are cleared here, or replaced by the TAM a current plan designates."""

from django.db import migrations
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone


def forward(apps, schema_editor):
    Customer = apps.get_model("engagements", "Customer")
    SupportSubscription = apps.get_model("support", "SupportSubscription")
    designated = Subquery(
        SupportSubscription.objects.filter(customer=OuterRef("pk"), ended_at__isnull=True, tam__isnull=False)
        .order_by(F("account").asc(nulls_first=True), "-started_at", "-pk")
        .values("tam")[:1]
    )
    Customer.objects.annotate(designated=designated).filter(
        Q(tam__isnull=True, designated__isnull=False)
        | Q(tam__isnull=False, designated__isnull=True)
        | (Q(tam__isnull=False, designated__isnull=False) & ~Q(tam=F("designated")))
    ).update(tam=designated, updated_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0004_case_first_responder_has_time"),
        ("engagements", "0005_grant_last_day"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
