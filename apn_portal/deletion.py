"""What keeps records from being deleted: records elsewhere whose foreign key to them is PROTECT (or
RESTRICT), which Django answers only with a bare list of them. Counted here, relation by relation, so a
refused deletion (GuardedDeletionMixin.deletion_problems) says what holds each record and what to do."""

from django.db import models
from django.db.models import Count


def keeping_relations(model) -> list:
    """The relations of other records' foreign keys to `model` that stop its deletion."""
    return [
        rel
        for rel in model._meta.related_objects
        if not rel.many_to_many and rel.on_delete in (models.PROTECT, models.RESTRICT)
    ]


def kept_by(records) -> dict[int, dict[str, int]]:
    """For each record of `records` (a query) that others keep: its pk -> {relation name (the accessor,
    e.g. "users"): how many of them}, in the model's relation order. One query per relation."""
    kept: dict[int, dict[str, int]] = {}
    pks = records.order_by().values("pk")
    for rel in keeping_relations(records.model):
        field = rel.field.name
        counts = (
            rel.related_model._base_manager.filter(**{f"{field}__in": pks})
            .order_by()
            .values_list(field)
            .annotate(count=Count("pk"))
        )
        for pk, count in counts:
            kept.setdefault(pk, {})[rel.get_accessor_name()] = count
    return kept
