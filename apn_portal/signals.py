"""What a save changed, for post_save receivers: the stored values of some columns, read before the
save (pre_save) and compared after it. Used wherever another record shows one of those columns (a slug, a
name) and must move its `updated_at` with it."""

_STORED = "_stored_before_save"


def stored_values_remember(model, instance, columns: tuple[str, ...], raw: bool, update_fields) -> None:
    """Before an edit that may change `columns`, keep their stored values on the instance, for the
    post_save receivers to compare (stored_values_changed, stored_values)."""
    stored = instance.__dict__.setdefault(_STORED, {})
    stored.pop(columns, None)  # from an earlier save of the same instance
    if raw or instance._state.adding:
        return
    if update_fields is not None and not {
        name for column in columns for name in (column, column.removesuffix("_id"))
    } & set(update_fields):
        return
    # One read of an indexed row, on an edit only: creating records, which imports do by the thousand,
    # costs nothing.
    previous = model.objects.filter(pk=instance.pk).values_list(*columns).first()
    if previous is not None:
        stored[columns] = dict(zip(columns, previous, strict=True))


def stored_values(instance, columns: tuple[str, ...]) -> dict | None:
    """The values of `columns` before the save being signalled, if stored_values_remember kept them."""
    return instance.__dict__.get(_STORED, {}).get(columns)


def stored_values_changed(instance, columns: tuple[str, ...]) -> bool:
    """Whether the save being signalled changed any of `columns`."""
    previous = stored_values(instance, columns)
    return previous is not None and any(previous[column] != getattr(instance, column) for column in columns)
