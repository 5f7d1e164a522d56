from celery import shared_task

from apn_portal.webhooks.services import webhook_deliver, webhook_deliveries_due_ids, webhook_deliveries_queue


@shared_task(name="apn_portal.webhooks.tasks.webhook_deliver", acks_late=True, ignore_result=True)
def webhook_deliver_task(delivery_id: int) -> bool:
    # Safe to run twice: delivery locks the row and skips anything delivered or not yet due.
    return webhook_deliver(delivery_id)


@shared_task(acks_late=True, ignore_result=True)
def webhook_sweep() -> int:
    """Queue every delivery that is due: those whose retry the broker lost, or queued while it was down."""
    due = webhook_deliveries_due_ids()
    webhook_deliveries_queue(due)
    return len(due)
