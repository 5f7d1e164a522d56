"""The message a person understands for a database constraint, looked up by the constraint's name.

Models declare `violation_error_message` on their constraints; when the database (rather than
`full_clean`) refuses a write, for example two concurrent requests racing, the API answers with that same
message.
"""

from functools import cache

from django.apps import apps
from django.db import IntegrityError

from apn_portal.exceptions import ConflictError

SAVE_CLASH = (
    "Somebody else saved a clashing record meanwhile: nothing was saved. Check the form and save again."
)


@cache
def _messages_by_name() -> dict[str, str]:
    messages = {}
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            messages[constraint.name] = str(constraint.get_violation_error_message())
        for field in model._meta.local_fields:
            if field.unique and not field.primary_key:
                # PostgreSQL names a unique column's constraint <table>_<column>_key.
                label = field.verbose_name
                messages[f"{model._meta.db_table}_{field.column}_key"] = (
                    f"Another {model._meta.verbose_name} already has this {label}."
                )
    return messages


def constraint_message(name: str) -> str | None:
    return _messages_by_name().get(name)


def integrity_error_message(error: IntegrityError) -> str | None:
    """The message of the constraint the database named refusing a write, if it is one of ours."""
    name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
    return constraint_message(name) if name else None


def save_clash(error: IntegrityError, subject: str = "") -> ConflictError:
    """A save the database refused after the form's checks passed (a clashing record saved meanwhile),
    as a refusal saying the constraint's own message; `subject` names the rows, for an inline's."""
    message = integrity_error_message(error) or SAVE_CLASH
    return ConflictError(f"{subject}: {message}" if subject else message)
