import secrets

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from apn_portal.models import TimeStampedModel
from apn_portal.webhooks.choices import DeliveryStatus, WebhookEvent


def webhook_new_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(TimeStampedModel):
    """A URL an integrator registered to be told of events, with the secret its requests are signed with.

    It receives the events of its owner's organisation: a partner's endpoint those about that partner,
    a customer's endpoint those about that customer's records (CUSTOMER_EVENTS only), a provider staff
    member's endpoint those about every partner.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="The organisation whose events it receives; empty for provider staff (every partner).",
    )
    customer = models.ForeignKey(
        "engagements.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="The customer whose records' events it receives, for a customer's staff.",
    )
    url = models.URLField("URL", max_length=500)
    secret = models.CharField(max_length=200, default=webhook_new_secret)
    events = models.JSONField(default=list, help_text="The event names it subscribes to.")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField("active", default=True)
    # Who pointed the events at another URL, changed what it subscribes to or switched it off. The secret
    # is not copied into the history (old secrets would outlive their replacement there): a version that
    # replaces it says so in its change reason (webhooks.services.webhook_endpoint_update).
    history = HistoricalRecords(excluded_fields=["updated_at", "secret"])

    class Meta:
        ordering = ["id"]
        verbose_name = "webhook endpoint"
        constraints = [
            models.CheckConstraint(
                condition=Q(partner__isnull=True) | Q(customer__isnull=True),
                name="webhook_endpoint_one_organisation",
                violation_error_message="An endpoint belongs to a partner or to a customer, not both.",
            ),
        ]

    def __str__(self):
        return self.url

    def subscribes_to(self, event: str) -> bool:
        return event in self.events


class WebhookDelivery(TimeStampedModel):
    """One event for one endpoint: stored with the change that caused it, then POSTed (and retried)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50, choices=WebhookEvent.choices)
    event_id = models.UUIDField(help_text="The same for every endpoint told of one event.")
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    readers = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text='The record it tells of ("support-case:ID", "access-grant:ID"): when it is sent (or sent '
        "again), it goes only while the endpoint's owner may still see that record, by the rule its app "
        "registered for the outbox's emails, and is marked not sent otherwise. Empty: no such check (events "
        "about partners, told to a partner's or the provider's endpoints).",
    )
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status=DeliveryStatus.PENDING),
                name="webhook_pending_due_idx",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"],
                name="webhook_delivery_once_per_endpoint",
                violation_error_message="This event is already queued for this endpoint.",
            ),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.DELIVERED) | Q(delivered_at__isnull=False),
                name="webhook_delivered_has_time",
                violation_error_message="A delivered event needs the time it was delivered.",
            ),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint}"
