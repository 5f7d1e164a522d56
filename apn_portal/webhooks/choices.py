from django.db import models


class WebhookEvent(models.TextChoices):
    """What an integrator can subscribe to. Each is emitted by the service that makes the change."""

    PARTNER_TIER_CHANGED = "partner.tier_changed", "A partner moved to another tier"
    ENROLLMENT_APPROVED = "enrollment.approved", "A program enrollment was approved"
    ENROLLMENT_EXPIRED = "enrollment.expired", "A program enrollment expired"
    ENROLLMENT_REVOKED = "enrollment.revoked", "A program enrollment was revoked (status_reason says why)"
    CERTIFICATION_EXPIRING = "certification.expiring", "A partner's certifications expire soon"
    ACCESS_GRANT_CREATED = "access_grant.created", "A customer granted a partner access to an account"
    # Named before it told of grants that ran out too; integrators subscribe by the name, so the label
    # says what it covers.
    ACCESS_GRANT_REVOKED = (
        "access_grant.revoked",
        "A customer's access grant to a partner ended: revoked, or expired (data.state says which)",
    )
    CONTACT_REQUEST_CREATED = "contact_request.created", "A customer sent a partner a contact request"
    SUPPORT_CASE_BREACHED = "support_case.breached", "A support case passed its first-response deadline"


# The events about a customer's own records, the only ones a customer's endpoint may subscribe to: each is
# emitted with its records and sent only to endpoints whose owner may see them. The rest are about partners
# (their tiers, enrollments, certifications, contact requests) and none of a customer's business.
CUSTOMER_EVENTS = frozenset(
    {WebhookEvent.ACCESS_GRANT_CREATED, WebhookEvent.ACCESS_GRANT_REVOKED, WebhookEvent.SUPPORT_CASE_BREACHED}
)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed for good"
    NOT_SENT = "not_sent", "Not sent: its owner may no longer see what it tells of"
