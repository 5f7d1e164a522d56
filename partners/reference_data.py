"""The network's default reference data (consulting categories, tier ladders, programs).

Seeded by a post_migrate handler after the `migrate` that creates the tables (and after every test-database
flush): each kind only into an empty table, so a PDM's renames, new slugs and deletions stay as they made
them through every later deploy. A default added to partners.defaults later reaches a running portal by a
data migration.
"""

from simple_history.utils import bulk_create_with_history

from apn_portal.reference_data import models_migrated
from partners import defaults

# The first version of each default row: its first edit then shows what it was and what it became.
SEEDED = "Default reference data"


def reference_data_ensure(apps=None, **kwargs) -> None:
    from partners.models import ConsultingCategory, Program, Tier, TierRequirement

    if not models_migrated(apps, ConsultingCategory, Program, Tier, TierRequirement):
        return

    if not ConsultingCategory.objects.exists():
        bulk_create_with_history(
            [ConsultingCategory(slug=slug, name=name) for slug, name in defaults.CONSULTING_CATEGORIES],
            ConsultingCategory,
            default_change_reason=SEEDED,
        )

    if not Tier.objects.exists():
        # Requirements are only seeded with a new ladder: a PDM who deleted one meant it.
        for partner_type, ladder in defaults.TIER_LADDERS.items():
            for rank, slug, name, requirements in ladder:
                tier = Tier.objects.create(partner_type=partner_type, rank=rank, slug=slug, name=name)
                bulk_create_with_history(
                    [
                        TierRequirement(tier=tier, metric=metric, minimum=minimum)
                        for metric, minimum in requirements.items()
                    ],
                    TierRequirement,
                    default_change_reason=SEEDED,
                )

    if Program.objects.exists():
        return
    for slug, name, kind, category, ptype, audit, min_tier, months, qualifying in defaults.PROGRAMS:
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
