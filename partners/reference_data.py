"""The network's default reference data (consulting categories, tier ladders, programs).

Seeded after every `migrate` (and after every test-database flush) by a post_migrate handler, the way
Django seeds permissions: idempotent, it only adds what is missing and never overwrites a PDM's edits.
"""

from partners import defaults


def reference_data_ensure(**kwargs) -> None:
    from partners.models import ConsultingCategory, Program, Tier, TierRequirement

    for slug, name in defaults.CONSULTING_CATEGORIES:
        ConsultingCategory.objects.get_or_create(slug=slug, defaults={"name": name})

    if not Tier.objects.exists():
        # Requirements are only seeded with a new ladder: a PDM who deleted one meant it.
        for partner_type, ladder in defaults.TIER_LADDERS.items():
            for rank, slug, name, requirements in ladder:
                tier = Tier.objects.create(partner_type=partner_type, rank=rank, slug=slug, name=name)
                TierRequirement.objects.bulk_create(
                    TierRequirement(tier=tier, metric=metric, minimum=minimum)
                    for metric, minimum in requirements.items()
                )

    for slug, name, kind, category, ptype, audit, min_tier, months, qualifying in defaults.PROGRAMS:
        if Program.objects.filter(slug=slug).exists():
            continue
        minimum_tier = None
        if min_tier:
            minimum_tier = Tier.objects.filter(partner_type=ptype or "consulting", slug=min_tier).first()
        Program.objects.create(
            slug=slug,
            name=name,
            kind=kind,
            competency_category=category,
            partner_type=ptype,
            audit_required=audit,
            minimum_tier=minimum_tier,
            validity_months=months,
            qualifies_for_tier=qualifying,
        )
