"""TAXII 2.1 servers under load, driven with taxii2-client's calls (issue 6): medallion 3.0.0,
the OASIS reference server, and Entente's own (`src/entente/interop/taxii/`, `/taxii2/api/`),
with exactly the same calls, one after the other in the same run.

What happens, in one run:
1. `bench/.venv-medallion` is created when missing (medallion 3.0.0 from PyPI, pinned by
   constraints.txt), as /work/shared/PEERS.md advises for peers; medallion starts there as
   a subprocess on a free loopback port, memory backend, one API root, one collection, one
   HTTP Basic user.
2. `--indicators` STIX 2.1 indicators (generated as JSON from one seed, no stix2 object
   per indicator: the generator is not what is measured) are POSTed with
   `Collection.add_objects`, in envelopes of `--envelope` (1,000).
3. Each time the collection reaches a size in `--get-sizes`, the whole collection is read
   with `as_pages(collection.get_objects, per_request=--page-size)`, timed; the
   `--get-budget-seconds` are checked between pages, so a read stops after the page that
   passes them and says how far it got.
4. The same for Entente: `entente serve` in a subprocess on a scratch hub (SQLite, or the
   empty database `--entente-database-url` names), migrated, with one organisation whose
   analyst's API token may write to one collection (made through the services).

medallion is super-linear on both paths, so every figure names the collection size. Its
first GET page filters the whole collection against its manifest (quadratic); later pages
are cut from the saved result. Its add compares each new object with every stored one.
Measured here with `--indicators 2000`, two runs (2 cores shared with other work): add
4,200-9,300 objects/s up to 1,000 and 1,600-2,600/s from 1,000 to 2,000; read back 61-94
objects/s at 1,000 (first page 10-16 s) and 36-39/s at 2,000 (first page 48-53 s).
Extrapolated, the first page at 5,000 takes some 5 minutes and at 10,000 some 20, hence
the default sizes; posting 100,000 takes roughly half an hour. Figures on stdout, one
`name=value` line each; progress on stderr. Do not run the default 100,000 on a shared
machine in working hours.

    .venv/bin/python bench/taxii_bench.py                          # 100,000 indicators
    .venv/bin/python bench/taxii_bench.py --indicators 2000        # quick check
    .venv/bin/python bench/taxii_bench.py --servers entente --get-sizes 1000,10000,100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from requests.auth import AuthBase, HTTPBasicAuth
from taxii2client.v21 import Collection, as_pages  # type: ignore[import-untyped]

from entente.core.audit import SYSTEM
from entente.core.config import Settings
from entente.core.db import create_db_engine, make_session_factory
from entente.core.migrate import upgrade
from entente.interop.taxii.collections import create_collection
from entente.interop.taxii.schemas import CollectionCreate, CollectionPermission
from entente.members import accounts
from entente.members.choices import OrganisationType, Role
from entente.members.schemas import OrganisationCreate, TokenCreate, UserCreate
from entente.members.service import create_organisation
from entente.pipeline.taxii_source import BearerAuth
from entente.vocabulary.markings import TLP

BENCH = Path(__file__).resolve().parent
CONSTRAINTS = BENCH.parent / "constraints.txt"
MEDALLION_VENV = BENCH / ".venv-medallion"
MEDALLION = "medallion==3.0.0"
API_ROOT, USER, PASSWORD = "api1", "bench", "bench-password"
COLLECTION_ID = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
TAXII_21 = "application/taxii+json;version=2.1"
STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def figure(name: str, value: float | int | str) -> None:
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"{name}={shown}", flush=True)


# ---- what is sent ----------------------------------------------------------------------


def indicator_batches(count: int, size: int, seed: int) -> Iterator[list[dict[str, Any]]]:
    """`count` valid STIX 2.1 indicators of IPv4 addresses, `size` at a time, from `seed`."""
    chooser = random.Random(seed)
    for start in range(0, count, size):
        batch = []
        for _ in range(start, min(start + size, count)):
            address = ".".join(str(chooser.randint(1, 254)) for _ in range(4))
            stamp = "2026-11-20T%02d:%02d:%02d.000Z" % (  # noqa: UP031 -- a fixed layout
                chooser.randrange(24),
                chooser.randrange(60),
                chooser.randrange(60),
            )
            batch.append(
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": f"indicator--{uuid.UUID(int=chooser.getrandbits(128), version=4)}",
                    "created": stamp,
                    "modified": stamp,
                    "name": f"C2 {address}",
                    "description": f"A C2 server seen at {address}.",
                    "indicator_types": ["malicious-activity"],
                    "pattern": f"[ipv4-addr:value = '{address}']",
                    "pattern_type": "stix",
                    "valid_from": stamp,
                }
            )
        yield batch


# ---- driving a server (the same calls for every server) --------------------------------


@dataclass(frozen=True)
class Target:
    """A TAXII 2.1 collection to load and read: its URL and how to log in."""

    name: str  # the figures' prefix: medallion, entente
    collection_url: str
    auth: AuthBase

    def collection(self) -> Collection:
        return Collection(self.collection_url, auth=self.auth)


def measure(target: Target, args: argparse.Namespace) -> None:
    """POST `--indicators` in envelopes, reading the whole collection at each `--get-sizes`."""
    sizes = sorted(size for size in args.get_sizes if size <= args.indicators)
    posted, post_seconds, segment_start, segment_seconds = 0, 0.0, 0, 0.0
    with target.collection() as collection:
        for batch in indicator_batches(args.indicators, args.envelope, args.seed):
            started = time.perf_counter()
            status = collection.add_objects({"objects": batch}, timeout=args.timeout)
            elapsed = time.perf_counter() - started
            if status.success_count != len(batch):
                raise RuntimeError(f"{target.name} took {status.success_count} of {len(batch)}")
            posted += len(batch)
            post_seconds += elapsed
            segment_seconds += elapsed
            if sizes and posted >= sizes[0]:
                size = sizes.pop(0)
                rate = (posted - segment_start) / segment_seconds
                figure(f"{target.name}_post_objects_per_s_up_to_{size}", rate)
                segment_start, segment_seconds = posted, 0.0
                say(f"{target.name}: {posted:,} objects posted; reading them back")
                read_back(target.name, collection, size, args)
    figure(f"{target.name}_posted", posted)
    figure(f"{target.name}_post_objects_per_s", posted / post_seconds)


def read_back(name: str, collection: Collection, size: int, args: argparse.Namespace) -> None:
    """The whole collection, page by page, within the time budget."""
    started = time.perf_counter()
    first_page = 0.0
    read = 0
    pages = as_pages(collection.get_objects, per_request=args.page_size)
    for number, envelope in enumerate(pages, 1):
        read += len(envelope.get("objects", []))
        if number == 1:
            first_page = time.perf_counter() - started
        if time.perf_counter() - started > args.get_budget_seconds:
            break
    elapsed = time.perf_counter() - started
    figure(f"{name}_get_first_page_s_at_{size}", first_page)
    figure(f"{name}_get_objects_per_s_at_{size}", read / elapsed)
    figure(f"{name}_get_objects_read_at_{size}", read)
    figure(f"{name}_get_complete_at_{size}", "yes" if read >= size else "no (budget)")


# ---- medallion -------------------------------------------------------------------------


def medallion_python() -> Path:
    """The venv's Python, with medallion installed if missing."""
    python = MEDALLION_VENV / "bin" / "python"
    if not _has(python, "medallion", MEDALLION.split("==")[1]):
        say(f"creating {MEDALLION_VENV.relative_to(BENCH.parent)} with {MEDALLION}")
        subprocess.run([sys.executable, "-m", "venv", str(MEDALLION_VENV)], check=True)
        install = [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(CONSTRAINTS),
            MEDALLION,
        ]
        subprocess.run(install, check=True)
    return python


def _has(python: Path, package: str, version: str) -> bool:
    if not python.exists():
        return False
    probe = f"import importlib.metadata as m; print(m.version({package!r}))"
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    return found.returncode == 0 and found.stdout.strip() == version


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_medallion(python: Path, scratch: Path, page_size: int) -> Iterator[str]:
    """medallion on a free loopback port; yields its collection's URL."""
    port = free_port()
    root = f"http://127.0.0.1:{port}/{API_ROOT}/"
    data = {
        "/discovery": {"title": "bench", "default": root, "api_roots": [root]},
        API_ROOT: {
            "information": {
                "title": "bench",
                "versions": [TAXII_21],
                "max_content_length": 256 * 1024 * 1024,
            },
            "status": [],
            "collections": [
                {
                    "id": COLLECTION_ID,
                    "title": "Indicators",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    (scratch / "data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(scratch / "data.json"),
        },
        "users": {USER: PASSWORD},
        "taxii": {"max_page_size": page_size},
    }
    (scratch / "config.json").write_text(json.dumps(config))
    command = [
        str(python),
        "-m",
        "medallion.scripts.run",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with (scratch / "medallion.log").open("wb") as log:
        process = subprocess.Popen([*command, str(scratch / "config.json")], stdout=log, stderr=log)
    try:
        _wait_until_up(root, process)
        yield f"{root}collections/{COLLECTION_ID}/"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(
    root: str, process: subprocess.Popen[bytes], seconds: float = 30.0, name: str = "medallion"
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited before answering (medallion: see medallion.log)")
        try:
            answer = httpx.get(root, auth=(USER, PASSWORD), headers={"Accept": TAXII_21})
            if answer.status_code == httpx.codes.OK:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer within {seconds:g} s")


# ---- Entente --------------------------------------------------------------------------


@contextmanager
def running_entente(scratch: Path, database_url: str) -> Iterator[tuple[str, str]]:
    """`entente serve` on a scratch hub with one collection an organisation may write to:
    (the collection's URL, that organisation's analyst's API token)."""
    database_url = database_url or f"sqlite:///{scratch}/entente.db"
    settings = Settings(database_url=database_url, data_dir=scratch / "data")
    collection_id, token = _entente_hub(settings)
    port = free_port()
    environment = {
        **os.environ,
        "ENTENTE_DATABASE_URL": database_url,
        "ENTENTE_DATA_DIR": str(scratch / "data"),
        "ENTENTE_LOG_LEVEL": "WARNING",
    }
    command = [str(Path(sys.executable).with_name("entente")), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{root}/healthz", process, name="entente serve")
        yield f"{root}/taxii2/api/collections/{collection_id}/", token
    finally:
        process.terminate()
        process.wait(timeout=30)


def _entente_hub(settings: Settings) -> tuple[str, str]:
    """Migrate the hub and make its writer, token and collection through the services."""
    engine = create_db_engine(settings)
    upgrade(engine)
    with make_session_factory(engine, settings)() as session:
        organisation = create_organisation(
            session,
            SYSTEM,
            OrganisationCreate(
                name="Bench CERT", type=OrganisationType.NATIONAL_CERT, member_state="GH"
            ),
        )
        user = accounts.create_user(
            session,
            SYSTEM,
            None,
            UserCreate(
                username="bench",
                email="bench@example.org",
                password="taxii-load-test-2026",
                role=Role.ANALYST,
                organisation_id=organisation.id,
            ),
        )
        _token, clear = accounts.create_token(session, SYSTEM, user, TokenCreate(name="bench"))
        collection = create_collection(
            session,
            SYSTEM,
            CollectionCreate(
                title="Bench",
                max_tlp=TLP.GREEN,
                permissions=[
                    CollectionPermission(
                        organisation_id=organisation.id, can_read=True, can_write=True
                    )
                ],
            ),
        )
        collection_id = collection.uuid
    engine.dispose()
    return collection_id, clear


# ---- the command -----------------------------------------------------------------------


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--envelope", type=int, default=1_000, help="objects per POST")
    parser.add_argument("--page-size", type=int, default=100, help="objects per GET (limit)")
    parser.add_argument(
        "--get-sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1_000, 2_000, 5_000],
        help="collection sizes at which the whole collection is read back",
    )
    parser.add_argument("--get-budget-seconds", type=float, default=120.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="add_objects status wait")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--servers",
        type=lambda text: set(text.split(",")),
        default={"medallion", "entente"},
        help="which to run, comma-separated (medallion's paths are super-linear: run it at "
        "sizes it can finish, Entente's at the full size)",
    )
    parser.add_argument(
        "--entente-database-url",
        default="",
        help="an empty database for Entente's hub (default: a scratch SQLite file); "
        "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/taxii_bench",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    figure("indicators", args.indicators)
    figure("envelope", args.envelope)
    figure("page_size", args.page_size)
    if "medallion" in args.servers:
        python = medallion_python()
        with (
            tempfile.TemporaryDirectory(prefix="taxii-bench-") as scratch,
            running_medallion(python, Path(scratch), args.page_size) as collection_url,
        ):
            say(f"medallion up; posting {args.indicators:,} indicators")
            measure(Target("medallion", collection_url, HTTPBasicAuth(USER, PASSWORD)), args)

    if "entente" in args.servers:
        with (
            tempfile.TemporaryDirectory(prefix="taxii-bench-entente-") as scratch,
            running_entente(Path(scratch), args.entente_database_url) as (url, token),
        ):
            say(f"Entente up; posting {args.indicators:,} indicators")
            measure(Target("entente", url, BearerAuth(token)), args)


if __name__ == "__main__":
    main()
