"""A recording, fault-injecting HTTP proxy between listsync and the Mailman core.

It forwards every request to the real core and records method and path, so
a test can count what listsync sent (reads, writes) without trusting
listsync's own bookkeeping. A test may arm a fault for chosen requests: drop
the connection, stall without answering, answer with an HTTP status, or run
a hook first (e.g. stop the core); or forward the request to the core and
then lose its answer (the write happened, the client never hears of it),
replace it with a gateway's 5xx, or rewrite its body (a server that lies).
When the core is down, the proxy drops the connection, as a refused one
looks to a client.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


DROP = "drop"
STALL = "stall"
LOSE = "lose"


@dataclass(frozen=True)
class Replaced:
    """Forward the request, then answer `status` instead of the core's answer."""

    status: int


@dataclass(frozen=True)
class Rewritten:
    """Forward the request, then answer the core's status and headers with `rewrite` of
    its body (e.g. a JSON answer with entries left out): what a server that lies says."""

    rewrite: Callable[[bytes], bytes]


# A fault: what to do with the n-th request (1-based, counted since the last
# clear()), given its method and path: None forwards it; DROP closes the
# connection unanswered; STALL holds it unanswered until the proxy stops; an
# int answers with that HTTP status; LOSE forwards it and closes the
# connection without the answer; Replaced(status) forwards it and answers
# status; Rewritten(rewrite) forwards it and answers the core's status with
# rewrite(body) for a body; a callable runs, then the request is forwarded.
Action = str | int | Replaced | Rewritten | Callable[[], object]
Fault = Callable[[int, str, str], Action | None]


def nth_write(target: int, action: Action) -> Fault:
    """`action` on the target-th write (1-based) after the fault is armed; the rest go through."""
    seen = {"writes": 0}

    def fault(number: int, method: str, path: str) -> Action | None:
        if method == "GET":
            return None
        seen["writes"] += 1
        return action if seen["writes"] == target else None

    return fault


@dataclass
class Recorder:
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fault: Fault | None = None
    released: threading.Event = field(default_factory=threading.Event)

    def add(self, method: str, path: str) -> Action | None:
        with self.lock:
            self.requests.append((method, path))
            number = len(self.requests)
            fault = self.fault
        return fault(number, method, path) if fault is not None else None

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET"]

    @property
    def reads(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m == "GET"]


@dataclass
class Proxy:
    url: str
    recorder: Recorder


def _handler(upstream_host: str, upstream_port: int, recorder: Recorder) -> type:
    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            action = recorder.add(self.command, self.path)
            if action == DROP:
                self.close_connection = True
                return
            if action == STALL:
                recorder.released.wait(timeout=120)
                self.close_connection = True
                return
            if isinstance(action, int):
                self.send_response(action)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if callable(action):
                action()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn = http.client.HTTPConnection(upstream_host, upstream_port, timeout=60)
            try:
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                except OSError:
                    self.close_connection = True
                    return
                if action == LOSE:
                    self.close_connection = True
                    return
                if isinstance(action, Replaced):
                    self.send_response(action.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(action, Rewritten):
                    payload = action.rewrite(payload)
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            finally:
                conn.close()

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:
            return

    return Forward


@contextmanager
def recording_proxy(upstream_url: str) -> Iterator[Proxy]:
    """Serve on 127.0.0.1 (a free port), forwarding to `upstream_url`'s host and port."""
    parts = urlsplit(upstream_url)
    assert parts.hostname is not None
    assert parts.port is not None
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(parts.hostname, parts.port, recorder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield Proxy(f"http://127.0.0.1:{port}{parts.path}", recorder)
    finally:
        recorder.released.set()
        server.shutdown()
        server.server_close()
