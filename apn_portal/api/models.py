from django.db import models

from apn_portal.models import TimeStampedModel


class IdempotencyKey(TimeStampedModel):
    """A POST made with an `Idempotency-Key` header, and the response it got.

    The row is claimed (committed, without a response) before the request runs, so a concurrent duplicate
    finds it and is refused; once the request succeeds its response is stored in the same transaction as
    the records it created, and a retry with the same key gets that response again instead of a second
    record.
    """

    scope = models.CharField(
        max_length=100, help_text="Whose key it is: `user:` and the user's id, or `ip:` and the address."
    )
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: running.")
    # The JSON text as it was sent, not JSONB, which would reorder its keys and change a replay's bytes.
    response_body = models.TextField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key"],
                name="idempotency_key_unique_per_scope",
                violation_error_message="This idempotency key was already used.",
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created_idx")]

    def __str__(self):
        return f"{self.scope} {self.key}"

    @property
    def is_complete(self) -> bool:
        return self.response_status is not None
