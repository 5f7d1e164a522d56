"""Base viewsets of the API.

Each resource's viewset says:
- `scope_queryset(queryset, user)`: what this user may see. Another organisation's private object is
  not in the queryset, so asking for it is a 404;
- `select_related` / `prefetch_related` / `annotate_queryset`: what its serializer reads, so a list
  costs the same number of queries whatever its length;
- for writes, `create_object` / `update_object` / `delete_object`, which call the domain services (the
  same ones the admin and the pages use), and `partner_of(obj)`, whose editors may change the object.

Updates honour `If-Match` with the `ETag` a read returned: a record changed since the client read it
is not overwritten (409).
"""

import datetime

from django.db import models, transaction
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response

from apn_portal.api.filters import ApiFilterBackend
from apn_portal.api.idempotency import IdempotentPostMixin
from apn_portal.api.pagination import KeysetCursorPagination
from apn_portal.api.serializers import NoFieldsSerializer
from apn_portal.api.throttling import give_back_unused_work
from apn_portal.http import plain_id
from partners.selectors import partner_is_editable_by

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class StaleUpdate(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "This record changed since you read it: nothing was changed. Read it again, then send your change "
        "with its new ETag as If-Match."
    )
    default_code = "stale_update"


def etag_of(instance) -> str:
    microseconds = (instance.updated_at - EPOCH) // datetime.timedelta(microseconds=1)
    return f'"{microseconds:x}"'


def _if_match_allows(header: str, current: str) -> bool:
    candidates = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in candidates or current in candidates


class PortalViewSetMixin(IdempotentPostMixin):
    public_actions: frozenset[str] = frozenset()
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple = ()

    def scope_queryset(self, queryset, user):
        raise NotImplementedError(f"{type(self).__name__} must say what each user may see.")

    def annotate_queryset(self, queryset):
        return queryset

    def get_queryset(self):
        queryset = self.scope_queryset(super().get_queryset(), self.request.user)
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        if self.prefetch_related:
            queryset = queryset.prefetch_related(*self.prefetch_related)
        return self.annotate_queryset(queryset)

    def finalize_response(self, request, response, *args, **kwargs):
        # A request refused (bad input, a conflict, another throttle) did no work: a throttle on work
        # (sending contact requests) does not count it.
        give_back_unused_work(request, response)
        return super().finalize_response(request, response, *args, **kwargs)

    def partner_of(self, obj):
        return obj.partner

    def can_change(self, obj, user) -> bool:
        return partner_is_editable_by(self.partner_of(obj), user)

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        instance = getattr(self, "_retrieved", None)
        if instance is not None and hasattr(instance, "updated_at"):
            response["ETag"] = etag_of(instance)
        return response

    def get_object(self):
        lookup = str(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, ""))
        if "\x00" in lookup:  # no record has it, and PostgreSQL refuses to compare with it
            raise NotFound()
        # A record has one URL: the lookup's int() would read "+7", "7\n" or an Arabic-Indic 7 as 7 too,
        # and a client (or a cache) keying records by URL would hold one record twice.
        if self._lookup_is_integer_key() and plain_id(lookup) is None:
            raise NotFound()
        self._retrieved = super().get_object()
        return self._retrieved

    def _lookup_is_integer_key(self) -> bool:
        model = (self.queryset if self.queryset is not None else self.get_queryset()).model
        field = model._meta.pk if self.lookup_field == "pk" else model._meta.get_field(self.lookup_field)
        return isinstance(field, models.IntegerField)


class CursorListMixin:
    """For large, growing lists: keyset cursor paging (no COUNT), ordered by `?ordering=` then `id`.

    Only by columns no change moves backwards (set once, or `updated_at`) and never null: a row whose
    value a correction moved behind a walk's position would never come (an expiry date corrected to an
    earlier day), and a cursor cannot step past a null."""

    pagination_class = KeysetCursorPagination
    filter_backends = [ApiFilterBackend]
    cursor_ordering_fields: tuple[str, ...] = ("id", "updated_at")
    cursor_default_ordering = "id"


class PortalReadOnlyViewSet(PortalViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class PortalModelViewSet(
    PortalViewSetMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    def create_object(self, data: dict, user):
        raise NotImplementedError

    def update_object(self, instance, data: dict, user):
        raise NotImplementedError

    def delete_object(self, instance, user) -> None:
        raise NotImplementedError

    def perform_create(self, serializer):
        # One transaction, however many services the write takes.
        with transaction.atomic():
            created = self.create_object(dict(serializer.validated_data), self.request.user)
        serializer.instance = self.read_back(created)

    def get_success_headers(self, data):
        # DRF's would copy a `url` field of the body into Location: a webhook endpoint's is the
        # integrator's own receiver, not the record's address. No create answers with a Location.
        return {}

    def perform_update(self, serializer):
        updated = self.update_object(serializer.instance, dict(serializer.validated_data), self.request.user)
        serializer.instance = self._retrieved = self.read_back(updated)

    def read_back(self, instance):
        """The written object as a read shows it: through the queryset, with what the serializer reads
        (prefetches, annotations), so a write answers with the same fields as a GET. An object its writer
        may not read back (a lead sent anonymously) is answered as written."""
        if getattr(instance, "pk", None) is None:
            return instance
        return self.get_queryset().filter(pk=instance.pk).first() or instance

    def perform_destroy(self, instance):
        self.delete_object(instance, self.request.user)

    def locked_version(self, instance) -> datetime.datetime | None:
        """The record's `updated_at`, read under the lock its write takes, or None if it is gone. Only its
        own row (its model's ordering may name its owner: no join, so no lock of the owner); a viewset whose
        service locks the owner first takes the locks in that order, so the two never wait on each other."""
        return (
            type(instance)
            .objects.select_for_update(of=("self",))
            .order_by()
            .filter(pk=instance.pk)
            .values_list("updated_at", flat=True)
            .first()
        )

    def _ensure_not_stale(self, instance) -> None:
        expected = self.request.headers.get("If-Match")
        if not expected:
            return
        # Locked until this request's transaction ends, so nobody changes it between check and write.
        current = self.locked_version(instance)
        if current is None:
            raise NotFound()
        instance.updated_at = current
        if not _if_match_allows(expected, etag_of(instance)):
            raise StaleUpdate()

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            self._ensure_not_stale(self.get_object())
            response = super().update(request, *args, **kwargs)
        if response.status_code == status.HTTP_200_OK and hasattr(self._retrieved, "updated_at"):
            response["ETag"] = etag_of(self._retrieved)
        return response

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            self._ensure_not_stale(self.get_object())
            return super().destroy(request, *args, **kwargs)

    # For @action endpoints that call a service: validate the body, then answer with the result as a read.

    @staticmethod
    def action_payload(serializer_class, request) -> dict:
        payload = serializer_class(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        return payload.validated_data

    @classmethod
    def action_takes_no_fields(cls, request) -> None:
        """For an action without a body: a field sent to it is a 400 naming it, as on every write."""
        cls.action_payload(NoFieldsSerializer, request)

    def action_response(self, serializer_class, instance, status_code=status.HTTP_200_OK):
        instance = self.read_back(instance)
        return Response(
            serializer_class(instance, context=self.get_serializer_context()).data, status=status_code
        )
