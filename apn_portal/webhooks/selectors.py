"""Which webhook endpoints (and so deliveries) a user reads, and which may still receive events."""

from django.db.models import F, Q, QuerySet

from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoints_of_their_owners_organisation() -> Q:
    """Endpoints whose owner still works for the organisation whose events they receive: the endpoint's
    partner or customer, or, for the provider's endpoints (neither), the provider. Someone who moved
    elsewhere keeps none of it."""
    provider = Q(partner__isnull=True, customer__isnull=True)
    return (
        Q(partner__isnull=False, owner__partner_id=F("partner_id"))
        | Q(customer__isnull=False, owner__customer_id=F("customer_id"))
        | (provider & Q(owner__partner__isnull=True, owner__customer__isnull=True, owner__is_staff=True))
        | (provider & Q(owner__is_superuser=True))
    )


def open_endpoints() -> Q:
    """Endpoints that may receive events: active, owned by an active user still of their organisation."""
    return Q(is_active=True, owner__is_active=True) & endpoints_of_their_owners_organisation()


def webhook_endpoints_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[WebhookEndpoint]:
    """A superuser's: every endpoint. Anyone else's: those they registered for the organisation they are
    still of (the payloads carry its private records)."""
    queryset = WebhookEndpoint.objects.all() if queryset is None else queryset
    if user.is_superuser:
        return queryset
    return queryset.filter(endpoints_of_their_owners_organisation(), owner=user)


def webhook_deliveries_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[WebhookDelivery]:
    """The deliveries to the endpoints `user` reads (webhook_endpoints_visible_to)."""
    queryset = WebhookDelivery.objects.all() if queryset is None else queryset
    if user.is_superuser:
        return queryset
    return queryset.filter(endpoint__in=webhook_endpoints_visible_to(user).values("pk"))
