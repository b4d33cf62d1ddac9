"""A real HTTP server on a loopback port for the feed-source tests: it serves a directory
the way a feed provider's web server does (ETag, Last-Modified, 304 on a matching
If-None-Match), and can be told to answer a path with a script of replies first (a 500,
a dropped connection, a body without a length)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path

DROP = -1
"""A scripted status that closes the connection without answering."""


@dataclass
class Reply:
    status: int
    body: bytes = b""
    # False: no Content-Length, the body ends when the connection closes.
    with_length: bool = True


@dataclass
class FeedServer:
    """The server's state: what it serves, its scripts, and the requests it answered."""

    root: Path
    port: int = 0
    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    # (path, If-None-Match, If-Modified-Since) of every request, in order.
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def asked(self, path: str) -> list[tuple[str, str, str]]:
        return [request for request in self.requests if request[0] == f"/{path.lstrip('/')}"]


def handler_for(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            server.requests.append(
                (
                    path,
                    self.headers.get("If-None-Match", ""),
                    self.headers.get("If-Modified-Since", ""),
                )
            )
            script = server.scripts.get(path)
            if script:
                self._reply(script.pop(0))
                return
            file = server.root / path.lstrip("/")
            if not file.is_file():
                self._reply(Reply(404, b"not found"))
                return
            body = file.read_bytes()
            etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(file.stat().st_mtime, usegmt=True))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _reply(self, reply: Reply) -> None:
            if reply.status == DROP:
                self.close_connection = True
                return
            self.send_response(reply.status)
            if reply.with_length:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests assert on `server.requests`."""

    return Handler
