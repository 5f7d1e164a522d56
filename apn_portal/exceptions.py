"""The domain's refusals, and the one way a service turns a model's own validation into one."""

from collections.abc import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


class DomainError(Exception):
    """A use case refused: the message is written for the person who asked, and is safe to show them."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class PermissionDeniedError(DomainError):
    status_code = 403


class ConflictError(DomainError):
    status_code = 409


def validate_or_refuse(instance, *, exclude: Iterable[str] = ()) -> None:
    """Run the model's own validation (fields, constraints, clean) and refuse with what is wrong, in words,
    naming the first field that is wrong."""
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            field, errors = next(iter(error.error_dict.items()))
            messages = [message for e in errors for message in e.messages]
            raise DomainError(
                " ".join(messages), field=None if field == NON_FIELD_ERRORS else field
            ) from None
        raise DomainError(" ".join(error.messages)) from None
