from django.db import models
from django.db.models import Q

from apn_portal.models import TimeStampedModel


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed for good"
    NOT_SENT = "not_sent", "Not sent: nobody it was for is left"


class OutboxMessage(TimeStampedModel):
    """An email waiting to go out, stored in the same transaction as the change that causes it.

    A task sends it after commit; a periodic sweep re-sends what is still pending (the broker was down, the
    mail server refused), so nothing is lost. The dedupe key makes "tell X about Y once" a database fact.

    Most messages are rendered as they are stored. One stored with a `template` and its JSON `context`
    instead is rendered when it is sent, and keeps the bodies it was sent with: a scheduled check that
    queues tens of thousands of emails in one transaction does not render them all inside it.

    A message records, in `recipients_from`, the organisation each of its addresses was chosen from (the
    one it is for, or the provider, for its staff's addresses): one sent later (after a mail server's
    weekend down) leaves out whoever has left it since, and is not sent at all when that was everyone,
    unless it names, in `otherwise_to`, whom to tell then. One telling of a record (a support case) names it
    in `readers`, and goes only to those who may still read it then.
    """

    dedupe_key = models.CharField(
        max_length=200, unique=True, help_text="The same key is never stored (or sent) twice."
    )
    to = models.JSONField(help_text="List of recipient addresses.")
    recipients_from = models.JSONField(
        null=True,
        blank=True,
        help_text="Whose each address was when it was queued, the people of the organisation the message is "
        'for or the provider\'s staff: {address: "partner:ID", "customer:ID" or "provider"}. An address '
        "nobody active there holds any more (they left, moved or were deactivated) is left out when it is "
        "sent; an address not listed (one typed on a form, the support desk) is kept. Empty: sent to every "
        "address as stored (a password reset, which is for its reader whatever their place).",
    )
    otherwise_to = models.JSONField(
        null=True,
        blank=True,
        help_text="Sent to instead when nobody it was for is left by the time it goes out (the support desk, "
        "for a notice the provider's support must hear; a customer's people, for news of its case that the "
        "partner who opened it no longer sees), each address recorded in recipients_from only while still "
        "theirs. Empty: then it is not sent.",
    )
    readers = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text='The record it tells of, whose readers alone it goes to ("support-case:ID"): when it is '
        "sent, an address recorded as somebody's is kept only while one of its holders may still read that "
        "record (the rule its app registers); when nobody is left, it goes to otherwise_to. Empty: no such "
        "check.",
    )
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    template = models.CharField(
        max_length=200,
        blank=True,
        help_text="For a message rendered when it is sent: its template pair's name, without .txt or .html.",
    )
    context = models.JSONField(null=True, blank=True, help_text="That template's context.")
    is_confidential = models.BooleanField(
        default=False,
        db_default=False,  # for the rows scheduled checks insert in bulk, in SQL
        help_text="It holds a link that signs its reader in (a password reset): the admin never shows it.",
    )
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="outbox_pending_due_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="outbox_sent_has_time",
                violation_error_message="A sent message needs the time it was sent.",
            )
        ]

    def __str__(self):
        return f"{self.subject} → {', '.join(self.to)}"
