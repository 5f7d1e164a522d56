"""The engagements domain's webhook events: `data` is the resource as the API shows it.

Called inside the transaction of the change, so the event is stored with it or not at all.
"""

from apn_portal.webhooks.choices import WebhookEvent
from apn_portal.webhooks.services import webhook_events_emit_many
from engagements.apps import ACCESS_GRANT_READERS

# What an access grant's event shows, to load with the grants (engagements.api.serializers).
GRANT_EVENT_RELATED = ("account__customer", "engagement_partner__partner", "granted_by")


def _access_grants_emit(event: str, grants) -> None:
    """One `event` per grant, shown as /api/v1/access-grants/{id}/ shows it, to each endpoint whose owner
    may see the grant: the partner that holds it, the customer whose account it is on, and the provider
    staff who look after that customer. Every event about a grant goes through here, so a grant's start
    and end reach the same endpoints, in one shape."""
    from engagements.api.serializers import AccessGrantSerializer
    from engagements.selectors import access_grants_visible_to

    grants = list(grants)
    data = AccessGrantSerializer(grants, many=True).data
    webhook_events_emit_many(
        event=event,
        items=[(grant.engagement_partner.partner, item) for grant, item in zip(grants, data, strict=True)],
        records=grants,
        visible_to=access_grants_visible_to,
        readers=ACCESS_GRANT_READERS,
        record_customer_ids=[grant.account.customer_id for grant in grants],
    )


def access_grant_created(grant) -> None:
    """One `access_grant.created` event for a new grant (never for a repeated submit, which makes none), so
    an integration can set the role up on its side without polling."""
    _access_grants_emit(WebhookEvent.ACCESS_GRANT_CREATED, [grant])


def access_grants_revoked(grants) -> None:
    """One `access_grant.revoked` event per grant that ended (revoked, or recorded as expired)."""
    _access_grants_emit(WebhookEvent.ACCESS_GRANT_REVOKED, grants)
