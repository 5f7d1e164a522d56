"""What the apps' post_migrate handlers, which seed default reference data, share."""


def models_migrated(apps, *models) -> bool:
    """Whether the database holds `models` as the code has them, by the `apps` post_migrate passes (the
    state the migrations left). Not so after `migrate support zero` or a rollback to an earlier release:
    the tables are gone or older, and the code's models cannot write to them."""
    if apps is None:  # a flush (tests): the database is as the code
        return True
    for model in models:
        try:
            state_model = apps.get_model(model._meta.label)
        except LookupError:
            return False
        columns = {field.column for field in state_model._meta.concrete_fields}
        if not columns >= {field.column for field in model._meta.concrete_fields}:
            return False
    return True
