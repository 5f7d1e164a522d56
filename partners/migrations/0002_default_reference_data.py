from django.db import migrations

from partners import defaults


def seed(apps, schema_editor):
    ConsultingCategory = apps.get_model("partners", "ConsultingCategory")
    Tier = apps.get_model("partners", "Tier")
    TierRequirement = apps.get_model("partners", "TierRequirement")
    Program = apps.get_model("partners", "Program")

    for slug, name in defaults.CONSULTING_CATEGORIES:
        ConsultingCategory.objects.get_or_create(slug=slug, defaults={"name": name})

    for partner_type, ladder in defaults.TIER_LADDERS.items():
        for rank, slug, name, requirements in ladder:
            tier, _ = Tier.objects.get_or_create(
                partner_type=partner_type, rank=rank, defaults={"slug": slug, "name": name}
            )
            for metric, minimum in requirements.items():
                TierRequirement.objects.get_or_create(tier=tier, metric=metric, defaults={"minimum": minimum})

    for slug, name, kind, category, ptype, audit, min_tier, months, qualifying in defaults.PROGRAMS:
        minimum_tier = None
        if min_tier:
            minimum_tier = Tier.objects.get(partner_type=ptype or "consulting", slug=min_tier)
        Program.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "kind": kind,
                "competency_category": category,
                "partner_type": ptype,
                "audit_required": audit,
                "minimum_tier": minimum_tier,
                "validity_months": months,
                "qualifies_for_tier": qualifying,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("partners", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
