"""Seed the default support plans (a post_migrate handler) after the `migrate` that creates their table, and
after every test-database flush: only into an empty table, so the support staff's renames, new slugs and
retired plans stay as they made them through every later deploy."""

from apn_portal.reference_data import models_migrated
from support import defaults


def support_plans_ensure(apps=None, **kwargs) -> None:
    from support.models import PlanResponseTarget, SupportPlan

    if not models_migrated(apps, SupportPlan, PlanResponseTarget) or SupportPlan.objects.exists():
        return
    for spec in defaults.PLANS:  # successors come before the plans that name them
        spec = dict(spec)
        targets = spec.pop("targets")
        successor = spec.pop("successor", None)
        plan = SupportPlan.objects.create(
            **defaults.CORE_FEATURES,
            **spec,
            successor=SupportPlan.objects.get(slug=successor) if successor else None,
        )
        PlanResponseTarget.objects.bulk_create(
            PlanResponseTarget(plan=plan, severity=severity, minutes=minutes)
            for severity, minutes in targets.items()
        )
