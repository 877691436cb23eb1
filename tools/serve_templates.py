"""Serve a directory on 127.0.0.1 as a static web server would serve published templates.

Usage: python3 tools/serve_templates.py DIR PORT_FILE

Binds a free port, writes it to PORT_FILE, then serves DIR until killed, with
`.txt` files as `text/plain; charset=utf-8` (what GitLab Pages sends, and what
Mailman needs to read a non-ASCII template right). The demo runs it so that
its local Mailman core can fetch the texts `listsync render --templates-out`
wrote.
"""

from __future__ import annotations

import functools
import os
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Handler(SimpleHTTPRequestHandler):
    def guess_type(self, path: str | os.PathLike[str]) -> str:
        if str(path).endswith(".txt"):
            return "text/plain; charset=utf-8"
        return super().guess_type(path)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    directory, port_file = Path(sys.argv[1]), Path(sys.argv[2])
    handler = functools.partial(Handler, directory=str(directory))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        port_file.write_text(f"{server.server_address[1]}\n")
        server.serve_forever()


if __name__ == "__main__":
    main()
