"""Fixtures of the pipeline tests: a feed provider's web server on a loopback port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.pipeline.feed_server import FeedServer, handler_for


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[FeedServer]:
    """A server for `tmp_path / "served"`, on a free loopback port, for one test."""
    root = tmp_path / "served"
    root.mkdir()
    server = FeedServer(root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
