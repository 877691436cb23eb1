"""A static web server on 127.0.0.1, as the pipeline's pages job would be for Mailman.

`TextServer(directory)` serves the files of `directory` (what `listsync render
--templates-out` wrote) as `text/plain; charset=utf-8`, as GitLab Pages does
for .txt, or with `charset=None` as a server that names no charset. It counts
the requests it answered, by path, so a test can tell that Mailman fetched a
text (and again after its cache entry was evicted).

A host that fails: `answer(name, status)` makes one file answer that HTTP
status instead (404, 500, ...), `stall(name)` makes it never answer (until
the server stops), `heal(name)` serves it again.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

STALL = "stall"


class TextServer:
    def __init__(self, directory: Path, charset: str | None = "utf-8") -> None:
        self.directory = directory
        self.charset = charset
        self.fetched: Counter[str] = Counter()
        self.faults: dict[str, int | str] = {}
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                file = server.directory / name
                server.fetched[name] += 1
                fault = server.faults.get(name)
                if fault == STALL:
                    server._stopping.wait()
                    return
                if isinstance(fault, int):
                    self.send_error(fault)
                    return
                if "/" in name or not name or not file.is_file():
                    self.send_error(404)
                    return
                body = file.read_bytes()
                self.send_response(200)
                kind = "text/plain" + (f"; charset={server.charset}" if server.charset else "")
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/templates"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def answer(self, name: str, status: int) -> None:
        self.faults[name] = status

    def stall(self, name: str) -> None:
        self.faults[name] = STALL

    def heal(self, name: str) -> None:
        self.faults.pop(name, None)

    def __enter__(self) -> TextServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
