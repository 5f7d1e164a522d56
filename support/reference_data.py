"""Seed the default support plans after every migrate (a post_migrate handler, like Django's permissions):
idempotent, it only adds plans that are missing and never overwrites the support staff's edits."""

from support import defaults


def support_plans_ensure(**kwargs) -> None:
    from support.models import PlanResponseTarget, SupportPlan

    for spec in defaults.PLANS:  # successors come before the plans that name them
        spec = dict(spec)
        targets = spec.pop("targets")
        successor = spec.pop("successor", None)
        if SupportPlan.objects.filter(slug=spec["slug"]).exists():
            continue
        plan = SupportPlan.objects.create(
            **defaults.CORE_FEATURES,
            **spec,
            successor=SupportPlan.objects.get(slug=successor) if successor else None,
        )
        PlanResponseTarget.objects.bulk_create(
            PlanResponseTarget(plan=plan, severity=severity, minutes=minutes)
            for severity, minutes in targets.items()
        )
