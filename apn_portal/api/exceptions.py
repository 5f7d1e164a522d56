"""One JSON shape for every error the API returns, with the status a client can act on.

`{"detail": "..."}` for errors about the request as a whole, `{"<field>": ["...", ...]}` for bad input.
Whatever a client sends, the answer is a 4xx with a message, never a 500: refusals from the services
(DomainError), model validation, and constraints the database enforces (a duplicate, say) included.
"""

import logging

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from apn_portal.api.constraints import integrity_error_message
from apn_portal.exceptions import DomainError, rolled_back_by_the_database

logger = logging.getLogger(__name__)

# PostgreSQL SQLSTATE classes: a duplicate or a row still referenced is a conflict with what is stored;
# a failed CHECK or NOT NULL is bad input.
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
EXCLUSION_VIOLATION = "23P01"
CONFLICT_SQLSTATES = {UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION, EXCLUSION_VIOLATION}

# A DELETE refused by a foreign key, checked at commit: another request stored a record referring to this
# one after the deletion read what goes with it (a person's certifications, an endpoint's deliveries).
REFERRED_TO_MEANWHILE = (
    "Another request added a record that refers to this one while it was being deleted: nothing was "
    "deleted. Send the DELETE again to delete it as it is now."
)


def _field_key(name: str | None) -> str:
    return api_settings.NON_FIELD_ERRORS_KEY if name in (None, NON_FIELD_ERRORS) else name


def _domain_error_response(exc: DomainError) -> Response:
    # A conflict is with what is stored, not with one field of the request: always `detail`, as documented.
    by_field = exc.field and exc.status_code != status.HTTP_409_CONFLICT
    body = {_field_key(exc.field): [exc.message]} if by_field else {"detail": exc.message}
    return Response(body, status=exc.status_code)


def _validation_error_response(exc: DjangoValidationError) -> Response:
    if hasattr(exc, "error_dict"):
        body = {_field_key(name): messages for name, messages in exc.message_dict.items()}
    else:
        body = {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _sqlstate(exc: IntegrityError) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


def _integrity_error_response(exc: IntegrityError) -> Response:
    sqlstate = _sqlstate(exc)
    message = integrity_error_message(exc)
    if sqlstate in CONFLICT_SQLSTATES or sqlstate is None:
        return Response(
            {"detail": message or "This conflicts with a record that is already stored."},
            status=status.HTTP_409_CONFLICT,
        )
    return Response(
        {"detail": message or "The data breaks a rule of the stored records."},
        status=status.HTTP_400_BAD_REQUEST,
    )


def body_size_limit() -> str:
    """The largest body the API reads, for people: "2.5 MB (2,621,440 bytes)"."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return f"{limit / 1024**2:g} MB ({limit:,} bytes)"


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, RequestDataTooBig):
        # Raised by the first read of a body over DATA_UPLOAD_MAX_MEMORY_SIZE, the parser's or the
        # Idempotency-Key's fingerprint: a SuspiciousOperation, which Django would answer with its HTML page.
        message = f"The request body is too large: the API accepts at most {body_size_limit()}."
        return Response({"detail": message}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, DomainError):
        return _domain_error_response(exc)
    if isinstance(exc, DjangoValidationError):
        return _validation_error_response(exc)
    if isinstance(exc, ProtectedError | RestrictedError):
        return Response(
            {"detail": "Other records still refer to this one, so it cannot be deleted."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, IntegrityError):
        logger.info("Constraint refused an API write: %s", exc)
        request = context.get("request")
        if getattr(request, "method", None) == "DELETE" and _sqlstate(exc) == FOREIGN_KEY_VIOLATION:
            return Response({"detail": REFERRED_TO_MEANWHILE}, status=status.HTTP_409_CONFLICT)
        return _integrity_error_response(exc)
    if rolled_back_by_the_database(exc):
        logger.warning("An API request was rolled back by the database: %s", exc)
        message = "Another request was changing the same records at the same moment: send this one again."
        return Response(
            {"detail": message},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError):
        return Response(
            {"detail": "A value is out of range or too long for its field."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return None
