from celery import shared_task

from apn_portal.outbox.services import outbox_deliver_message, outbox_deliver_messages, outbox_flush


@shared_task(acks_late=True, ignore_result=True)
def outbox_deliver(message_id: int) -> bool:
    # Safe to run twice: delivery locks the row and skips anything no longer pending.
    return outbox_deliver_message(message_id)


@shared_task(acks_late=True, ignore_result=True)
def outbox_sweep() -> int:
    return outbox_flush()


@shared_task(acks_late=True, ignore_result=True)
def outbox_deliver_batch(message_ids: list[int]) -> int:
    # Each message is locked and sent on its own, as by outbox_deliver: safe to run twice.
    return outbox_deliver_messages(message_ids)
