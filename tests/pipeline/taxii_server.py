"""medallion 3.0.0, the OASIS TAXII 2.1 reference server, as a subprocess on a loopback port.

Its memory backend reads one JSON data file at start (API roots, collections, objects) and
keeps what is added in memory; collections cannot be created over TAXII, so every
collection a test module needs is declared up front (`collections`). Users are HTTP Basic
(its only scheme). See /work/shared/PEERS.md for how it behaves under load.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import stix2
from taxii2client.v21 import Collection

API_ROOT = "api1"
USER, PASSWORD = "hub", "s3cret-medallion"
STIX_21 = "application/stix+json;version=2.1"
TAXII_21 = "application/taxii+json;version=2.1"
_IDS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def collection_id(title: str) -> str:
    """A collection's id, derived from its title so tests can name either."""
    return str(uuid.uuid5(_IDS, title))


@dataclass
class Medallion:
    """A running medallion: its process, port and log."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def api_root(self) -> str:
        return f"http://127.0.0.1:{self.port}/{API_ROOT}/"

    def collection(self, title: str) -> Collection:
        """The collection, over taxii2-client, logged in as the server's user."""
        url = f"{self.api_root}collections/{collection_id(title)}/"
        return Collection(url, user=USER, password=PASSWORD)

    def add(self, title: str, objects: Sequence[dict[str, Any]]) -> None:
        """Add objects to a collection (one envelope), checking every one was taken."""
        with self.collection(title) as collection:
            status = collection.add_objects({"objects": list(objects)})
        assert status.success_count == len(objects), status.failures

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_medallion(
    directory: Path,
    collections: Iterable[str],
    max_page_size: int = 100,
    unreadable: Iterable[str] = (),
    twins: Iterable[str] = (),
) -> Medallion:
    """Start medallion with one API root holding `collections` (by title, all readable and
    writable except those in `unreadable`; two collections titled each of `twins`), and
    wait until it answers."""
    port = free_port()
    root = f"http://127.0.0.1:{port}/{API_ROOT}/"
    declared = [(collection_id(title), title) for title in [*collections, *unreadable]]
    declared += [(collection_id(f"{title} {n}"), title) for title in twins for n in (1, 2)]
    data = {
        "/discovery": {
            "title": "Entente test TAXII server",
            "default": root,
            "api_roots": [root],
        },
        API_ROOT: {
            "information": {
                "title": "Test API root",
                "versions": [TAXII_21],
                "max_content_length": 100 * 1024 * 1024,
            },
            "status": [],
            "collections": [
                {
                    "id": identifier,
                    "title": title,
                    "can_read": title not in unreadable,
                    "can_write": True,
                    "media_types": [STIX_21],
                    "objects": [],
                    "manifest": [],
                }
                for identifier, title in declared
            ],
        },
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "data.json").write_text(json.dumps(data), encoding="utf-8")
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(directory / "data.json"),
        },
        "users": {USER: PASSWORD},
        "taxii": {"max_page_size": max_page_size},
    }
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")
    log = directory / "medallion.log"
    command = [sys.executable, "-m", "medallion.scripts.run", "--host", "127.0.0.1"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port), str(directory / "config.json")],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Medallion(process, port, log)
    _wait_until_up(server)
    return server


def _wait_until_up(server: Medallion, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"medallion exited: {server.log.read_text()[-2000:]}")
        try:
            answer = httpx.get(server.api_root, auth=(USER, PASSWORD), headers={"Accept": TAXII_21})
            if answer.status_code == httpx.codes.OK:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"medallion did not answer in {seconds:g} s: {server.log.read_text()}")


def indicators(addresses: Iterable[str], label: str = "c2") -> list[dict[str, Any]]:
    """STIX 2.1 indicators of IPv4 addresses, made by the stix2 library, as JSON objects."""
    return [
        json.loads(
            stix2.Indicator(
                name=f"{label} {address}",
                description=f"A {label} server seen at {address}.",
                pattern=f"[ipv4-addr:value = '{address}']",
                pattern_type="stix",
                valid_from="2026-11-20T00:00:00Z",
                indicator_types=["malicious-activity"],
            ).serialize()
        )
        for address in addresses
    ]
