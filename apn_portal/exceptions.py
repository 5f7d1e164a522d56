"""The domain's refusals, and the one way a service turns a model's own validation into one."""

from collections.abc import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import OperationalError


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


class GoneError(DomainError):
    """The record was deleted (by a colleague, say) between the request's read of it and the service's
    lock: refused as not found, with a message, rather than as a crash."""

    status_code = 404


def lock_or_refuse(queryset, pk: int, what: str):
    """The row `pk` of `queryset` (a select_for_update() query) locked, or a GoneError saying `what` (e.g.
    "customer reference") no longer exists."""
    # No ordering: a model's default one may name its owner, and the join would lock the owner's row too,
    # out of the order the services take their locks in.
    row = queryset.order_by().filter(pk=pk).first()
    if row is None:
        raise GoneError(f"This {what} no longer exists: it was deleted meanwhile.")
    return row


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


# Transaction rollbacks PostgreSQL chose: this request and another wanted each other's rows (a deadlock),
# or a serializable transaction lost. Nothing of it was stored, and the same request again goes through.
TRY_AGAIN_SQLSTATES = frozenset({"40P01", "40001"})


def rolled_back_by_the_database(exc: BaseException) -> bool:
    """Whether `exc` is such a rollback (Django's OperationalError, caused by psycopg's error)."""
    return (
        isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) in TRY_AGAIN_SQLSTATES
    )
