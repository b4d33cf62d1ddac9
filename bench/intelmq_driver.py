"""IntelMQ 3.5.0's own bots over the benchmark's scan_http CSV, in-process, for a figure beside
Entente's. Run by `bench/pipeline_bench.py` with the Python of `bench/.venv-intelmq` (it
imports only IntelMQ and the standard library, never Entente).

How the bots are driven, as docs/developing.md and /work/shared/PEERS.md describe:

- through IntelMQ's own test harness (`intelmq.lib.test.BotTestCase`: `setUpClass`,
  `prepare_bot`), which gives each bot an in-memory pipeline instead of Redis queues, so
  the figures leave out the Redis round trip a real deployment makes per message per bot;
- `drop_privileges` is patched to succeed (the harness refuses root without an `intelmq`
  user); logging at INFO, as a production bot runs (the harness defaults to DEBUG);
- the Shadowserver parser gets one Report whose `raw` is the base64 of the whole CSV, and
  the timed part is `bot.start()`; its `test_mode` points it at the offline schema file
  `--schema` (no internet here to download Shadowserver's);
- then each expert that can run offline gets the parser's events, one `bot.start()` per
  message, timed over all of them: the deduplicator (Redis `--redis-db`, its keys deleted
  afterwards) and the ASN lookup (pyasn over `--ipasn`, the prefixes Entente enriches from).
  The MaxMind geolocation expert needs a GeoLite2-City database, which cannot be fetched
  offline (Entente's test databases are Country/ASN ones), so it is not run.

Prints `name=value` lines on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import base64
import resource
import sys
import time
import unittest
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

FILE_NAME = "2026-11-20-scan_http-bench.csv"
"""The Report's `extra.file_name`: the parser picks the report (scan_http) from it."""
STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[intelmq {time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def figure(name: str, value: float | int | str) -> None:
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"{name}={shown}", flush=True)


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM). Not `ru_maxrss`: Linux carries the starting
    process's peak over `exec` into it, so it would report the benchmark's own peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def allowed_as_root() -> Iterator[None]:
    with mock.patch("intelmq.lib.utils.drop_privileges", return_value=True):
        yield


class BotRun:
    """One bot in IntelMQ's test harness: prepare it, feed it, time `start()`."""

    def __init__(self, bot: type, parameters: dict[str, Any], first_message: Any) -> None:
        from intelmq.lib.test import BotTestCase

        class Case(BotTestCase, unittest.TestCase):  # type: ignore[misc]
            @classmethod
            def set_bot(cls) -> None:
                cls.bot_reference = bot
                cls.default_input_message = first_message

        with allowed_as_root():
            Case.setUpClass()
        self.case = Case()
        self.errors = 0
        self.case.prepare_bot(parameters={"logging_level": "INFO", **parameters})

    @contextmanager
    def harness(self) -> Iterator[None]:
        """The patches `BotTestCase.run_bot` holds while the bot runs."""
        case = self.case
        with ExitStack() as stack:
            stack.enter_context(
                mock.patch("intelmq.lib.utils.load_configuration", new=case.mocked_config)
            )
            stack.enter_context(
                mock.patch("intelmq.lib.utils.log", case.get_mocked_logger(case.logger))
            )
            yield

    def run(self, messages: list[bytes] | None) -> tuple[float, list[bytes]]:
        """Process the prepared message (None) or `messages`, one `start()` each; returns
        the seconds spent in `start()` and the serialised output messages."""
        case = self.case
        if messages is not None:
            case.pipe.state[f"{case.bot_id}-input"] = messages
        count = len(case.pipe.state[f"{case.bot_id}-input"])
        with self.harness():
            start = time.perf_counter()
            for _ in range(count):
                case.bot.start(
                    error_on_pipeline=False,
                    source_pipeline=case.pipe,
                    destination_pipeline=case.pipe,
                )
            seconds = time.perf_counter() - start
            case.bot.stop(exitcode=0)
        outputs = [
            item
            for queue in case.pipe.destination_queues["_default"]
            for item in case.pipe.state[queue]
        ]
        log = case.log_stream.getvalue()
        self.errors = log.count(" - ERROR - ")
        if self.errors:
            first = log[log.index(" - ERROR - ") :].split("\n", 1)[0]
            say(f"{case.bot_name}: {self.errors} errors logged, the first:{first}")
        return seconds, outputs


def run_parser(csv_path: Path, schema: Path) -> tuple[int, list[bytes]]:
    import intelmq.bots.parsers.shadowserver._config as shadowserver_config
    from intelmq.bots.parsers.shadowserver.parser import ShadowserverParserBot

    # test_mode loads `schema_base`; pointing it at our file is the offline schema.
    vars(shadowserver_config)["__config"].schema_base = str(schema)
    text = csv_path.read_bytes()
    rows = text.count(b"\n") - 1
    report = {
        "__type": "Report",
        "feed.name": "Accessible-HTTP",
        "raw": base64.b64encode(text).decode("ascii"),
        "time.observation": "2026-11-20T04:00:00+00:00",
        "extra.file_name": FILE_NAME,
    }
    say(f"parser: {rows:,} rows ({len(text) / 1e6:.0f} MB)")
    run = BotRun(ShadowserverParserBot, {"test_mode": True}, report)
    seconds, events = run.run(None)
    figure("intelmq_parser_rows", rows)
    figure("intelmq_parser_events", len(events))
    figure("intelmq_parser_errors_logged", run.errors)
    figure("intelmq_parser_s", seconds)
    figure("intelmq_parser_rows_per_s", rows / seconds)
    figure("intelmq_parser_peak_rss_mib", peak_rss_mib())
    return rows, events


def run_deduplicator(events: list[bytes], redis_db: int) -> list[bytes]:
    import redis
    from intelmq.bots.experts.deduplicator.expert import DeduplicatorExpertBot

    parameters = {
        "redis_cache_host": "127.0.0.1",
        "redis_cache_port": 6379,
        "redis_cache_db": redis_db,
        "redis_cache_ttl": 86_400,
        # The same key as Entente's de-duplication: address, port, report.
        "filter_type": "whitelist",
        "filter_keys": "source.ip,source.port,classification.identifier,feed.name",
    }
    client = redis.Redis(host="127.0.0.1", port=6379, db=redis_db)
    before = set(client.scan_iter())
    say(f"deduplicator: {len(events):,} events, Redis db {redis_db}")
    run = BotRun(DeduplicatorExpertBot, parameters, events[0])
    seconds, kept = run.run(list(events))
    added = [key for key in client.scan_iter() if key not in before]
    for start in range(0, len(added), 10_000):
        client.delete(*added[start : start + 10_000])
    figure("intelmq_dedup_events", len(events))
    figure("intelmq_dedup_kept", len(kept))
    figure("intelmq_dedup_s", seconds)
    figure("intelmq_dedup_events_per_s", len(events) / seconds)
    return kept


def run_asn_lookup(events: list[bytes], ipasn: Path) -> None:
    from intelmq.bots.experts.asn_lookup.expert import ASNLookupExpertBot

    say(f"asn lookup: {len(events):,} events, pyasn over {ipasn.name}")
    run = BotRun(ASNLookupExpertBot, {"database": str(ipasn)}, events[0])
    seconds, enriched = run.run(list(events))
    figure("intelmq_asn_lookup_events", len(events))
    figure("intelmq_asn_lookup_found", sum(b'"source.network"' in event for event in enriched))
    figure("intelmq_asn_lookup_s", seconds)
    figure("intelmq_asn_lookup_events_per_s", len(events) / seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--ipasn", type=Path)
    parser.add_argument("--redis-db", type=int, default=14)
    args = parser.parse_args(argv)
    _rows, events = run_parser(args.csv, args.schema)
    ran = ["shadowserver parser"]
    try:
        kept = run_deduplicator(events, args.redis_db)
        ran.append("deduplicator (Redis)")
    except Exception as exc:  # a missing Redis must not lose the parser figure
        say(f"deduplicator not run: {exc!r}")
        kept = events
    if args.ipasn is not None:
        try:
            run_asn_lookup(kept, args.ipasn)
            ran.append("asn_lookup (pyasn)")
        except Exception as exc:  # pyasn may have failed to build
            say(f"asn lookup not run: {exc!r}")
    figure("intelmq_bots_run", "; ".join(ran) + "; not run: maxmind_geoip (needs GeoLite2-City)")
    figure("intelmq_peak_rss_mib", peak_rss_mib())


if __name__ == "__main__":
    main()
