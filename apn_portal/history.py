"""Versions (django-simple-history) of records written in bulk: QuerySet.update() and bulk_update() send no
signals, so whoever makes such a write on a history-tracked record writes its version too, or the next
person to save the record is shown on its History page as having made the change."""

import datetime

from django.db.models import Model


def history_bulk_create(
    records: list[Model],
    *,
    user=None,
    reason: str | None = None,
    date: datetime.datetime | None = None,
) -> None:
    """A changed version of each of `records` (all of one model, as they are in memory), by `user` (None: a
    scheduled check, or the request's user within one), saying `reason` (at most 100 characters), with the
    many-to-many lists the model's history records (HistoricalRecords' m2m_fields) copied as they are
    stored, in a constant number of statements however many records: django-simple-history's
    bulk_history_create writes the versions alone, and a version without its lists would show them all
    removed, then added again by the next save."""
    if not records:
        return
    model = type(records[0])
    manager = getattr(model, model._meta.simple_history_manager_attribute)
    history = manager.model
    rows = manager.bulk_history_create(
        records, update=True, default_user=user, default_change_reason=reason, default_date=date
    )
    version_of = {row.id: row.pk for row in rows}
    for field in history._history_m2m_fields:
        recorded = getattr(history, field.name).model
        owner, other = field.m2m_field_name(), field.m2m_reverse_field_name()
        links = field.remote_field.through.objects.filter(**{f"{owner}__in": list(version_of)})
        recorded.objects.bulk_create(
            [
                recorded(
                    history_id=version_of[owner_id],
                    id=pk,
                    **{f"{owner}_id": owner_id, f"{other}_id": other_id},
                )
                for pk, owner_id, other_id in links.values_list("pk", f"{owner}_id", f"{other}_id").iterator()
            ],
            batch_size=5000,
        )
