from celery import shared_task
from django.conf import settings

from apn_portal.outbox.services import outbox_deliver_message, outbox_deliver_messages, outbox_flush

# A mail server that answers slowly must not hold a worker the scheduled checks share. One attempt is
# bounded by EMAIL_TIMEOUT on each of its steps (connect, send, quit); a batch or the sweep takes no new
# message after BATCH_BUDGET_SECONDS, within the minute between two sweeps, which send the rest. The time
# limits are the backstop for what those do not cover: an attempt cut short rolls back and stays pending.
SEND_SOFT_TIME_LIMIT = 3 * settings.EMAIL_TIMEOUT + 30
BATCH_BUDGET_SECONDS = 45
BATCH_SOFT_TIME_LIMIT = BATCH_BUDGET_SECONDS + SEND_SOFT_TIME_LIMIT
HARD_LIMIT_MARGIN = 15


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=SEND_SOFT_TIME_LIMIT,
    time_limit=SEND_SOFT_TIME_LIMIT + HARD_LIMIT_MARGIN,
)
def outbox_deliver(message_id: int) -> bool:
    # Safe to run twice: delivery locks the row and skips anything no longer pending.
    return outbox_deliver_message(message_id)


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=BATCH_SOFT_TIME_LIMIT,
    time_limit=BATCH_SOFT_TIME_LIMIT + HARD_LIMIT_MARGIN,
)
def outbox_sweep() -> int:
    return outbox_flush(budget_seconds=BATCH_BUDGET_SECONDS)


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=BATCH_SOFT_TIME_LIMIT,
    time_limit=BATCH_SOFT_TIME_LIMIT + HARD_LIMIT_MARGIN,
)
def outbox_deliver_batch(message_ids: list[int]) -> int:
    # Each message is locked and sent on its own, as by outbox_deliver: safe to run twice.
    return outbox_deliver_messages(message_ids, budget_seconds=BATCH_BUDGET_SECONDS)
