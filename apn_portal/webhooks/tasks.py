from celery import shared_task
from django.conf import settings

from apn_portal.webhooks.services import webhook_deliver, webhook_deliveries_due_ids, webhook_deliveries_queue

# An attempt ends within WEBHOOK_TIMEOUT_SECONDS (services._post cuts the connection then); these limits
# are the backstop for what that does not cover (a name lookup, a database that hangs), so a worker the
# scheduled checks share is never held for long. An attempt cut short rolls back, and the sweep sends the
# delivery again.
DELIVER_SOFT_TIME_LIMIT = settings.WEBHOOK_TIMEOUT_SECONDS + 30
DELIVER_TIME_LIMIT = DELIVER_SOFT_TIME_LIMIT + 15
# Within the minute between two sweeps.
SWEEP_SOFT_TIME_LIMIT = 45
SWEEP_TIME_LIMIT = 55


@shared_task(
    name="apn_portal.webhooks.tasks.webhook_deliver",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=DELIVER_SOFT_TIME_LIMIT,
    time_limit=DELIVER_TIME_LIMIT,
)
def webhook_deliver_task(delivery_id: int) -> bool:
    # Safe to run twice: delivery locks the row and skips anything delivered or not yet due.
    return webhook_deliver(delivery_id)


@shared_task(
    acks_late=True, ignore_result=True, soft_time_limit=SWEEP_SOFT_TIME_LIMIT, time_limit=SWEEP_TIME_LIMIT
)
def webhook_sweep() -> int:
    """Queue every delivery that is due: those whose retry the broker lost, or queued while it was down."""
    due = webhook_deliveries_due_ids()
    webhook_deliveries_queue(due)
    return len(due)
