"""A local HTTP server that plays an integrator's webhook receiver, on this suite's private ports."""

import http.server
import re
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path


@cache
def documented_check():
    """apn_webhook_is_authentic exactly as docs/api.md gives it to integrators: the suite's receiver runs
    the documentation's own code, so the documented check is the one proven to accept the portal's posts."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    code = re.search(r"```python\n(import hashlib.*?)```", text, re.S)
    assert code, "docs/api.md shows the check a receiver makes"
    namespace = {}
    exec(code.group(1), namespace)  # our own documentation, run as an integrator would run it
    return namespace["apn_webhook_is_authentic"]


def verify_signature(secret: str, headers, body: bytes, tolerance_seconds: int = 300) -> bool:
    return documented_check()(secret, headers, body, tolerance_seconds)


@dataclass
class Received:
    headers: object  # an email.message.Message: names match whatever their case
    body: bytes
    path: str = ""  # as sent on the request line


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
            receiver.received.append(Received(headers=self.headers, body=body, path=self.path))
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
