"""The `misp_feed` parser on a MISP feed directory: attributes by type, tags, the index
files, quarantine reasons, broken files, and a directory feed reading each event once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pymisp import MISPEvent
from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM
from entente.core.config import Settings
from entente.core.errors import ParseError
from entente.pipeline import feeds
from entente.pipeline.choices import RunStatus
from entente.pipeline.normalise import normalise
from entente.pipeline.parsers import parser
from entente.pipeline.parsers.misp_feed import COLUMNS, TYPE_FIELDS, MispFeedParser
from entente.pipeline.runner import FeedRunner
from entente.pipeline.schemas import FeedCreate
from entente.pipeline.sources import Scope

FEED = Path(__file__).parents[1] / "data" / "misp_feed"
DOCS = Path(__file__).parents[2] / "docs" / "feeds.md"
PHISHING = FEED / "4a1f9c2e-8d3b-4e6a-9f10-2b7c5d8e1a01.json"
LOADER = FEED / "7c3d2b1a-5e6f-4a8b-9c0d-1e2f3a4b5c02.json"
BRUTE_FORCE = FEED / "b2e4d6f8-1a3c-4e5f-8a7b-9c0d1e2f3a03.json"
EVENTS = (PHISHING, LOADER, BRUTE_FORCE)


def parse(path: Path, block: int = 50_000) -> tuple[pl.DataFrame, pl.DataFrame]:
    outputs = list(MispFeedParser(block=block).parse(path, {}))
    assert outputs
    assert {tuple(output.kept.columns) for output in outputs} == {(*COLUMNS, "_file", "_line")}
    return (
        pl.concat([output.kept for output in outputs]),
        pl.concat([output.quarantined for output in outputs]),
    )


def by_type(kept: pl.DataFrame, kind: str) -> dict[str, Any]:
    return kept.filter(pl.col("extra.misp_type") == kind).row(0, named=True)


def write_event(tmp_path: Path, event: dict[str, Any], name: str = "event.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"Event": event}))
    return path


def test_the_sample_events_load_with_pymisp_and_give_a_row_per_attribute() -> None:
    for path in EVENTS:
        event = MISPEvent()
        event.load_file(str(path))
        attributes = len(event.attributes) + sum(len(item.attributes) for item in event.objects)
        kept, quarantined = parse(path)
        assert (kept.height, quarantined.height) == (attributes, 0)
        assert kept["_line"].to_list() == list(range(1, attributes + 1))
        assert set(kept["extra.event_uuid"]) == {event.uuid}
        assert set(kept["event_description.text"]) == {event.info}


def test_the_parser_is_registered() -> None:
    assert isinstance(parser("misp_feed"), MispFeedParser)


def test_every_field_the_types_fill_is_a_column() -> None:
    targets = {name for names in TYPE_FIELDS.values() for name in names}
    assert targets | {"source.network"} <= set(COLUMNS)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("ip-dst|port", {"source.ip": "203.0.113.45", "source.port": "8443"}),
        ("domain|ip", {"source.fqdn": "update-check.example.com", "source.ip": "203.0.113.45"}),
        ("hostname", {"source.fqdn": "cdn.update-check.example.com"}),
        (
            "sha256",
            {
                "malware.hash.sha256": (
                    "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
                )
            },
        ),
        ("md5", {"malware.hash.md5": "44d88612fea8a8f36de82e1278abb02f", "extra.to_ids": "false"}),
        (
            "filename|sha256",
            {
                "extra.filename": "invoice_2026-11.pdf.exe",
                "malware.hash.sha256": (
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                ),
            },
        ),
        (
            "malware-sample",
            {
                "extra.filename": "loader.dll",
                "malware.hash.md5": "d41d8cd98f00b204e9800998ecf8427e",
            },
        ),
        ("AS", {"source.asn": "64496"}),
        ("ip-src", {"source.network": "192.0.2.0/24", "source.ip": None}),
        ("mutex", {"extra.value": "Global\\LoaderMutex_2026", "source.ip": None}),
    ],
)
def test_each_attribute_type_maps_to_its_fields(kind: str, expected: dict[str, str]) -> None:
    kept, _ = parse(LOADER)
    row = by_type(kept, kind)
    assert {field: row[field] for field in expected} == expected
    assert row["extra.misp_type"] == kind


def test_the_phishing_event() -> None:
    kept, _ = parse(PHISHING)
    assert (
        by_type(kept, "url")["source.url"] == "https://login-verify.example.net/office365/index.php"
    )
    assert by_type(kept, "domain")["source.fqdn"] == "login-verify.example.net"
    assert by_type(kept, "ip-dst")["source.ip"] == "198.51.100.23"
    assert by_type(kept, "ip-dst")["comment"] == "hosting the kit"
    assert by_type(kept, "email-src")["source.account"] == "billing@invoice-notice.example.org"
    link = by_type(kept, "link")
    assert (link["event_description.url"], link["extra.to_ids"]) == (
        "https://www.example.org/blog/2026/11/phishing-wave",
        "false",
    )
    assert set(kept["classification.type"]) == {"phishing"}
    assert set(kept["tlp"]) == {"clear"}
    assert set(kept["time.source"]) == {"1795598400"}
    assert set(kept["extra.threat_level"]) == {"medium"}
    assert set(kept["extra.orgc"]) == {"CERT-Example"}


def test_object_attributes_are_rows_with_their_object() -> None:
    kept, _ = parse(LOADER)
    in_objects = kept.filter(pl.col("extra.object_name").is_not_null())
    assert in_objects.select("extra.object_name", "extra.object_relation").rows() == [
        ("file", "filename"),
        ("file", "md5"),
        ("file", "sha1"),
        ("file", "sha256"),
        ("file", "size-in-bytes"),
        ("ip-port", "ip"),
        ("ip-port", "dst-port"),
        ("ip-port", "domain"),
    ]
    assert in_objects["extra.object_uuid"].n_unique() == 2
    assert in_objects["_line"].to_list() == list(range(11, 19))


def test_attribute_tags_override_the_events() -> None:
    loader, _ = parse(LOADER)
    assert by_type(loader, "hostname")["tlp"] == "amber"
    assert by_type(loader, "sha256")["tlp"] == "green"
    assert set(loader["classification.type"]) == {"c2-server"}
    brute_force, _ = parse(BRUTE_FORCE)
    assert brute_force.select("source.ip", "classification.type").rows() == [
        ("192.0.2.77", "brute-force"),
        ("2001:db8::bad:1", "brute-force"),
        ("192.0.2.78", "brute-force"),
        ("198.51.100.200", "scanner"),
    ]
    assert by_type(brute_force, "ip-src|port")["source.port"] == "22"


def test_the_samples_pass_the_normaliser() -> None:
    for path in EVENTS:
        kept, _ = parse(path)
        result = normalise(kept)
        assert result.quarantined.height == 0, result.quarantined["_reason"].to_list()


@pytest.mark.parametrize("name", ["manifest.json", "hashes.csv"])
def test_the_feed_index_files_give_nothing(name: str) -> None:
    assert list(parser("misp_feed").parse(FEED / name, {})) == []


def test_bad_attributes_are_quarantined_and_deleted_ones_skipped(tmp_path: Path) -> None:
    good = {"type": "ip-src", "value": "192.0.2.1", "uuid": "a-1"}
    path = write_event(
        tmp_path,
        {
            "Attribute": [
                good,
                {"value": "192.0.2.2"},
                {"type": "ip-dst", "value": ""},
                {"type": "ip-dst|port", "value": "192.0.2.3"},
                "192.0.2.4",
                {"type": "ip-src", "value": "192.0.2.5", "deleted": True},
            ],
            "Object": [
                {"name": "gone", "deleted": True, "Attribute": [good]},
                {
                    "name": "ip-port",
                    "Attribute": [{"type": "port", "value": "22"}, {"type": "ip-dst"}],
                },
            ],
            "info": "written after the attributes",
            "Tag": [{"name": "tlp:red"}],
        },
    )
    kept, quarantined = parse(path)
    assert quarantined.select("_line", "_field", "_reason").rows() == [
        (2, "type", "attribute has no type"),
        (3, "value", "ip-dst attribute has no value"),
        (4, "value", "ip-dst|port value '192.0.2.3' has no '|' between its parts"),
        (5, None, "not a MISP attribute"),
        (9, "value", "ip-dst attribute has no value"),
    ]
    assert quarantined["_raw"].to_list()[0] == 'Attribute[1] {"value":"192.0.2.2"}'
    assert quarantined["_raw"].to_list()[-1].startswith("Object[1].Attribute[1] ")
    assert kept.select("_line", "extra.value").rows() == [(1, "192.0.2.1"), (8, "22")]
    assert set(kept["event_description.text"]) == {"written after the attributes"}
    assert set(kept["tlp"]) == {"red"}
    assert set(kept["classification.type"]) == {"undetermined"}


def test_small_batches_give_the_same_rows() -> None:
    whole, _ = parse(LOADER)
    outputs = list(MispFeedParser(block=4).parse(LOADER, {}))
    assert len(outputs) == 5
    assert pl.concat([output.kept for output in outputs]).equals(whole)


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_a_blank_file_gives_nothing(tmp_path: Path, content: str) -> None:
    path = tmp_path / "blank.json"
    path.write_text(content)
    assert list(parser("misp_feed").parse(path, {})) == []


@pytest.mark.parametrize(
    "content",
    ['{"response": [{"Event": {}}]}', "[]", '{"type": "bundle", "objects": []}'],
)
def test_json_that_is_not_a_feed_event_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(ParseError, match="not a MISP feed event") as raised:
        list(parser("misp_feed").parse(path, {}))
    assert (raised.value.file, raised.value.line) == (str(path), 1)


def test_a_cut_short_event_is_refused_at_its_end(tmp_path: Path) -> None:
    text = LOADER.read_text()
    cut = text[: len(text) // 2]
    path = tmp_path / "cut.json"
    path.write_text(cut)
    with pytest.raises(ParseError, match="premature EOF") as raised:
        list(parser("misp_feed").parse(path, {}))
    assert raised.value.line == cut.count("\n") + 1
    assert raised.value.column == str(len(cut.rsplit("\n", 1)[-1]) + 1)


def test_a_stray_character_is_refused_at_its_line_and_column(tmp_path: Path) -> None:
    lines = PHISHING.read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace(",", ",,", 1)
    path = tmp_path / "stray.json"
    path.write_text("".join(lines))
    with pytest.raises(ParseError, match="not valid JSON") as raised:
        list(parser("misp_feed").parse(path, {}))
    assert (raised.value.line, raised.value.column) == (6, str(lines[5].index(",,") + 2))


def test_the_type_table_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = [kind.replace("|", "\\|") for kind in TYPE_FIELDS]  # escaped in tables
    assert [kind for kind in documented if f"`{kind}`" not in text] == []


# --- a directory feed pointed at the MISP feed ------------------------------------------------


def test_a_directory_feed_reads_each_event_once(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    directory = tmp_path / "misp-feed"
    shutil.copytree(FEED, directory)
    data = FeedCreate(
        name="misp-dir",
        parser="misp_feed",
        source_kind="directory",
        source=str(directory),
        options={"dedup_key": ["extra.event_uuid", "extra.attribute_uuid"]},
    )
    feed = feeds.create_feed(session, SYSTEM, data)
    runner = FeedRunner(session, settings.model_copy(update={"data_dir": tmp_path / "var"}))
    attributes = sum(parse(path)[0].height for path in EVENTS)

    report = runner.run(feed)

    assert report.failures == []
    by_file = {Path(run.file).name: run for run in report.runs}
    assert sorted(by_file) == sorted(path.name for path in FEED.iterdir())
    assert all(run.status is RunStatus.SUCCEEDED for run in report.runs)
    assert by_file["manifest.json"].rows_in == by_file["hashes.csv"].rows_in == 0
    assert sum(run.rows_in for run in report.runs) == attributes
    assert sum(run.rows_stored for run in report.runs) == attributes
    assert sum(run.quarantined for run in report.runs) == 0

    again = runner.run(feed, Scope.ALL)
    assert sum(run.rows_stored for run in again.runs) == 0
    assert sum(run.duplicates for run in again.runs) == attributes
