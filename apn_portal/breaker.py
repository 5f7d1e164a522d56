"""A pause, in this process, of the calls to a server that has just failed to answer (a circuit breaker).

A server that takes connections and never answers (hung, or behind a dead link) costs each call its full
socket timeout; one that is down fails fast, but a page asking it several times still asks in vain. After
one such failure the caller leaves the server alone for a few seconds (answering as it does while the
server is down), then tries it again. Kept in the process, for its threads: what is shared between
processes lives in Redis, which is what is out. Used for the Celery broker (apn_portal.broker) and the
cache (apn_portal.cache); the workers' pauses of the mail server and of webhook receivers are shared
through the cache instead (apn_portal.pauses).
"""

import threading
import time


def _now() -> float:
    return time.monotonic()


class Breaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0  # _now() before which the server is left alone

    def trip(self, seconds: float) -> None:
        """Leave the server alone for `seconds` from now."""
        with self._lock:
            self._until = _now() + seconds

    def tripped(self) -> bool:
        """Whether the server is left alone now."""
        with self._lock:
            return _now() < self._until

    def reset(self) -> None:
        """Try the server again at the next call."""
        with self._lock:
            self._until = 0.0
