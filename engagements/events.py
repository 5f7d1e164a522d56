"""The engagements domain's webhook events: `data` is the resource as the API shows it.

Called inside the transaction of the change, so the event is stored with it or not at all.
"""

from apn_portal.webhooks.choices import WebhookEvent
from apn_portal.webhooks.services import webhook_events_emit_many

# What an access grant's event shows, to load with the grants (engagements.api.serializers).
GRANT_EVENT_RELATED = ("account__customer", "engagement_partner__partner", "granted_by")


def access_grants_revoked(grants) -> None:
    """One `access_grant.revoked` event per grant, to the partner that held it and the provider staff who
    look after the customer."""
    from engagements.api.serializers import AccessGrantSerializer
    from engagements.selectors import access_grants_visible_to

    grants = list(grants)
    data = AccessGrantSerializer(grants, many=True).data
    webhook_events_emit_many(
        event=WebhookEvent.ACCESS_GRANT_REVOKED,
        items=[(grant.engagement_partner.partner, item) for grant, item in zip(grants, data, strict=True)],
        records=grants,
        visible_to=access_grants_visible_to,
        record_customer_ids=[grant.account.customer_id for grant in grants],
    )
