"""A local HTTP server that plays an integrator's webhook receiver, on this suite's private ports."""

import hashlib
import hmac
import http.server
import threading
import time
from dataclasses import dataclass, field


def verify_signature(secret: str, headers, body: bytes, tolerance_seconds: int = 300) -> bool:
    """What docs/api.md tells integrators to do: recompute the HMAC and compare in constant time."""
    timestamp = headers["X-APN-Timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", headers["X-APN-Signature"])


@dataclass
class Received:
    headers: object  # an email.message.Message: names match whatever their case
    body: bytes


@dataclass
class Receiver:
    port: int
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/apn"

    def wait_for(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"received {len(self.received)} of {count} requests"
            time.sleep(0.05)


def start_receiver(port: int):
    receiver = Receiver(port=port)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.received.append(Received(headers=self.headers, body=body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return receiver, server
