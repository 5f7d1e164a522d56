"""Which webhook endpoints (and so deliveries) a user reads, and which may still receive events."""

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from apn_portal.text import short_list
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoints_of_their_owners_organisation() -> Q:
    """Endpoints whose owner still works for the organisation whose events they receive: the endpoint's
    partner or customer, or, for the provider's endpoints (neither), the provider. Someone who moved
    elsewhere keeps none of it."""
    # Engagements builds on the portal's shared code: its models are read when asked.
    from engagements.models import Customer

    provider = Q(partner__isnull=True, customer__isnull=True)
    # A customer's endpoint, while its owner is still one of the customer's access administrators: where
    # the customer's records go outside the portal is theirs to decide.
    administers = Exists(
        Customer.access_administrators.through.objects.filter(
            customer_id=OuterRef("customer_id"), user_id=OuterRef("owner_id")
        )
    )
    return (
        Q(partner__isnull=False, owner__partner_id=F("partner_id"))
        | (Q(customer__isnull=False, owner__customer_id=F("customer_id")) & Q(administers))
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


def webhook_owner_deletion_problems(users) -> list[str]:
    """Why the people (`users`: pks) cannot be deleted for the webhook endpoints they registered, one
    sentence per owner, or none: an endpoint belongs to the one who registered it and would go with them,
    its delivery log too, and the integration at its URL, their organisation's, would hear of no event
    again, told nothing. Deactivating them keeps the endpoints and their logs (nothing more is sent);
    deleting the endpoints first is the other way. One query."""
    by_owner: dict[int, tuple[object, list[str]]] = {}
    for endpoint in (
        WebhookEndpoint.objects.filter(owner__in=users)
        .select_related("owner")
        .order_by("owner__username", "id")
    ):
        by_owner.setdefault(endpoint.owner_id, (endpoint.owner, []))[1].append(endpoint.url)
    problems = []
    for owner, urls in by_owner.values():
        endpoints = "1 webhook endpoint" if len(urls) == 1 else f"{len(urls)} webhook endpoints"
        problems.append(
            f"{owner} owns {endpoints} ({short_list(urls, 3)}), which would go with them, delivery logs and "
            "all: deactivate them instead (untick Active on their page), which keeps the endpoints and their "
            "logs but sends them nothing more, or delete the endpoints first."
        )
    return problems
