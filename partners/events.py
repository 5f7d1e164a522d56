"""The partner domain's webhook events. Each event's `data` is the resource exactly as the API shows it
(GET /api/v1/<resource>/<id>/), so an integrator parses one shape for both.

Services call these inside their transaction: the event is stored with the change, or not at all.
"""

from apn_portal.webhooks.choices import WebhookEvent
from apn_portal.webhooks.services import webhook_event_emit, webhook_events_emit_many


def tier_changed(change) -> None:
    from partners.api.serializers import TierChangeSerializer

    webhook_event_emit(
        event=WebhookEvent.PARTNER_TIER_CHANGED,
        partner=change.partner,
        data=TierChangeSerializer(change).data,
    )


def tier_changes(changes) -> None:
    """tier_changed for many changes at once (a scheduled check's): the same event and data for each, the
    subscribed endpoints read once."""
    from partners.api.serializers import TierChangeSerializer

    data = TierChangeSerializer(changes, many=True).data
    webhook_events_emit_many(
        event=WebhookEvent.PARTNER_TIER_CHANGED,
        items=[(change.partner, item) for change, item in zip(changes, data, strict=True)],
    )


def enrollment_approved(enrollment) -> None:
    from partners.api.serializers import EnrollmentSerializer

    webhook_event_emit(
        event=WebhookEvent.ENROLLMENT_APPROVED,
        partner=enrollment.partner,
        data=EnrollmentSerializer(enrollment).data,
    )


def contact_request_created(contact_request) -> None:
    from partners.api.serializers import ContactRequestSerializer

    webhook_event_emit(
        event=WebhookEvent.CONTACT_REQUEST_CREATED,
        partner=contact_request.partner,
        data=ContactRequestSerializer(contact_request).data,
    )


def enrollments_revoked(enrollments) -> None:
    """One event per enrollment revoked, by its PDM or by the scheduled check (partner and program loaded
    by the caller)."""
    from partners.api.serializers import EnrollmentSerializer

    data = EnrollmentSerializer(enrollments, many=True).data
    webhook_events_emit_many(
        event=WebhookEvent.ENROLLMENT_REVOKED,
        items=[(enrollment.partner, item) for enrollment, item in zip(enrollments, data, strict=True)],
    )


def enrollments_expired(enrollments) -> None:
    """One event per enrollment the scheduled check expired (partner and program loaded by the caller)."""
    from partners.api.serializers import EnrollmentSerializer

    data = EnrollmentSerializer(enrollments, many=True).data
    webhook_events_emit_many(
        event=WebhookEvent.ENROLLMENT_EXPIRED,
        items=[(enrollment.partner, item) for enrollment, item in zip(enrollments, data, strict=True)],
    )
