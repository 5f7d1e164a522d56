"""Celery tasks of the partner domain."""

from celery import shared_task

from partners.search_index import partner_search_refresh_due


@shared_task(ignore_result=True)
def search_refresh_due() -> int:
    # Idempotent and set-based: one statement, and a second run the same day finds nothing due.
    return partner_search_refresh_due()
