"""Servers for tests about the portal's outgoing calls, on this machine's loopback."""

import contextlib
import socket
import threading


@contextlib.contextmanager
def silent_server():
    """A server that takes connections and never says a word (a mail server or a webhook receiver gone
    quiet): every call to it waits out its timeout. Yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    listener.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for accepted in held:
            accepted.close()
        listener.close()
