"""For tests of requests made at the same moment: hold them on a row lock, then let them go together."""

import threading
import time
from contextlib import contextmanager

from django.db import connection, connections


def sessions_waiting_for_locks() -> int:
    """How many sessions of the test database wait on a lock now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@contextmanager
def lock_held(sql: str, params=()):
    """Another session takes the locks of `sql` (a LOCK TABLE, or a SELECT ... FOR UPDATE) and holds them
    until the block ends: requests started in the block wait on them, then go together. The block gets the
    session's cursor, to take its next locks (or COMMIT early)."""
    locker = connections.create_connection("default")
    try:
        with locker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(sql, params)
            yield cursor
            cursor.execute("COMMIT")
    finally:
        locker.close()


def in_a_thread(outcome: dict, name: str, work) -> threading.Thread:
    """Start `work` in a thread of its own (its own database connection, closed at the end): its result
    lands in `outcome[name]`, or what it raised in `outcome[f"{name} error"]`, for the test to assert."""

    def run():
        try:
            outcome[name] = work()
        except Exception as error:  # reported, not raised in the thread
            outcome[f"{name} error"] = f"{type(error).__name__}: {error}"
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def sent_twice_at_once(row, send) -> dict:
    """`send()` (a request of the test client's own) in two threads at the same moment: both are held on
    `row`'s lock, taken by another session, until both wait there, then let go together. Returns what
    each answered, as `outcome["one"]` and `outcome["other"]`, or what it raised, as `"one error"`."""
    outcome = {}
    table = row._meta.db_table
    with lock_held(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [row.pk]):
        threads = [in_a_thread(outcome, name, send) for name in ("one", "other")]
        wait_for(lambda: sessions_waiting_for_locks() == 2)
    for thread in threads:
        thread.join(timeout=30)
    return outcome
