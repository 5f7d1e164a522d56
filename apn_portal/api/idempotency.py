"""`Idempotency-Key` on POST: a client that retries a request (a timeout, a dropped connection) gets the
first response again and creates nothing twice.

- The key is claimed in its own committed transaction before the request runs; a second request with
  the key while the first still runs gets 409.
- The request runs in one transaction with the storing of its response, so either both the new records
  and the stored response exist, or neither does.
- Only a success is stored: after a refusal (400, 403, 409...) the key is released and may be retried.
- The response is stored as the JSON text it was sent as, so a replay has the same bytes (JSONB would
  reorder the keys).
- A claim is live as long as its request may still run: the web server kills a request after
  `WEB_REQUEST_TIMEOUT_SECONDS` (gunicorn's timeout, gunicorn.conf.py), so only a claim older than that,
  plus a margin, belongs to a request that died, and is taken over.
- A retry that will only be replayed does no new work: throttles on work (contact requests) let it through
  uncounted (`stored_response_exists`).
- The same key with a different method, path or body gets 422: it names another request.
Keys belong to the token's user (or, anonymously, to the IP address) and expire after
`API_IDEMPOTENCY_KEY_TTL_HOURS`.
"""

import datetime
import hashlib
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apn_portal.api.models import IdempotencyKey
from apn_portal.http import client_address

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Past the web server's timeout, for clocks between web processes and the commit of a request's last write.
ABANDONED_MARGIN = datetime.timedelta(seconds=30)


class IdempotencyKeyInUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry in a moment."
    default_code = "idempotency_key_in_use"


class IdempotencyKeyMismatch(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used for a different request; use a new key for a new request."
    default_code = "idempotency_key_mismatch"


def _ttl() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.API_IDEMPOTENCY_KEY_TTL_HOURS)


def abandoned_after() -> datetime.timedelta:
    """How long a claim without a response stays live: until no request can still be running it."""
    return datetime.timedelta(seconds=settings.WEB_REQUEST_TIMEOUT_SECONDS) + ABANDONED_MARGIN


def _scope(request) -> str:
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{client_address(request)}"


def _body(request) -> bytes:
    try:
        return request._request.body
    except RawPostDataException:  # already parsed by something upstream: fingerprint the parsed data
        return json.dumps(request.data, sort_keys=True, default=str).encode()


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.get_full_path().encode(), _body(request)):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def _claim(*, scope: str, key: str, fingerprint: str, request) -> IdempotencyKey | Response:
    """The key's new claim, or the stored response to replay; raises when the key cannot be used now."""
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    scope=scope,
                    key=key,
                    request_fingerprint=fingerprint,
                    method=request.method,
                    path=request.get_full_path()[:500],
                )
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(scope=scope, key=key).first()
        if existing is None:  # released meanwhile: claim it now
            continue
        now = timezone.now()
        if existing.created_at < now - _ttl():
            existing.delete()
            continue
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyKeyMismatch()
        if existing.is_complete:
            return _replay(existing)
        taken_over = IdempotencyKey.objects.filter(
            pk=existing.pk, response_status__isnull=True, updated_at__lt=now - abandoned_after()
        ).update(updated_at=now)
        if taken_over:
            return existing
        raise IdempotencyKeyInUse()
    raise IdempotencyKeyInUse()


def _replay(stored: IdempotencyKey) -> Response:
    # Parsed keeps the keys in the order sent, so the renderer gives the first response's bytes again.
    data = json.loads(stored.response_body) if stored.response_body else None
    headers = {**stored.response_headers, REPLAY_HEADER: "true"}
    return Response(data, status=stored.response_status, headers=headers)


def _store(claim: IdempotencyKey, response: Response) -> None:
    claim.response_status = response.status_code
    claim.response_body = JSONRenderer().render(response.data).decode()
    claim.response_headers = {name: response[name] for name in ("Location",) if response.has_header(name)}
    claim.save(update_fields=["response_status", "response_body", "response_headers", "updated_at"])


def _valid_key(request) -> str | None:
    key = request.headers.get(HEADER, "").strip()
    return key if key and len(key) <= MAX_KEY_LENGTH else None


def stored_response_exists(request) -> bool:
    """Whether this POST is a retry that will get a stored response again, rather than run."""
    key = _valid_key(request) if request.method == "POST" else None
    if key is None:
        return False
    return IdempotencyKey.objects.filter(
        scope=_scope(request),
        key=key,
        request_fingerprint=_fingerprint(request),
        response_status__isnull=False,
        created_at__gte=timezone.now() - _ttl(),
    ).exists()


def run_idempotently(handler, request, *args, **kwargs):
    key = _valid_key(request)
    if key is None:
        raise ValidationError({HEADER: [f"Give a key of 1 to {MAX_KEY_LENGTH} characters."]})
    claim = _claim(scope=_scope(request), key=key, fingerprint=_fingerprint(request), request=request)
    if isinstance(claim, Response):
        return claim
    stored = False
    try:
        with transaction.atomic():
            response = handler(request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                _store(claim, response)
                stored = True
            else:
                transaction.set_rollback(True)
    finally:
        if not stored:
            IdempotencyKey.objects.filter(pk=claim.pk).delete()
    return response


class IdempotentPostMixin:
    """Runs every POST of a view through `run_idempotently` when the client sends an Idempotency-Key."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method == "POST" and HEADER in request.headers:
            # DRF looks the handler up after `initial`, so wrapping it here covers create and every
            # POST action, after authentication, permissions and throttling have run.
            handler = self.post

            def idempotent_post(request, *args, **kwargs):
                return run_idempotently(handler, request, *args, **kwargs)

            self.post = idempotent_post


def idempotency_keys_purge() -> int:
    """Delete keys past their lifetime. Returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - _ttl()).delete()
    return deleted
