from celery import shared_task

from apn_portal.api.idempotency import idempotency_keys_purge as purge


@shared_task(name="apn_portal.api.tasks.idempotency_keys_purge", ignore_result=True)
def idempotency_keys_purge() -> int:
    return purge()
