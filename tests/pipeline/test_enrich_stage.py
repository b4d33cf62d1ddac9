"""The enrichment stage on batches: fills only what is empty, both sides, types kept."""

from __future__ import annotations

import polars as pl
import pytest

from entente.pipeline.addresses import parse_addresses
from entente.pipeline.enrich import EnrichmentData, enrich
from entente.pipeline.enrich.service import sample_data

ENRICHED = ["source.asn", "source.as_name", "source.geolocation.cc"]


@pytest.fixture(scope="module")
def data() -> EnrichmentData:
    return sample_data()


def test_fills_missing_columns_from_the_sample(data: EnrichmentData) -> None:
    batch = pl.DataFrame(
        {
            "source.ip": ["8.8.8.8", "1.1.1.1", "193.0.0.1", "192.0.2.77", "203.0.113.200"],
            "_line": [1, 2, 3, 4, 5],
        }
    )
    out = enrich(batch, data)
    assert out.select(ENRICHED).rows() == [
        (15169, "GOOGLE", "US"),
        (13335, "CLOUDFLARENET", "AU"),
        (3333, "RIPE-NCC-AS Reseaux IP Europeens Network Coordination Centre (RIPE NCC)", "NL"),
        (64497, "SAMPLE-DOC-NG made-up sample network (RFC 5737 documentation range)", "NG"),
        (64507, "SAMPLE-DOC-FI made-up sample network (RFC 5737 documentation range)", "FI"),
    ]
    assert out.schema["source.asn"] == pl.Int64
    assert out.schema["source.as_name"] == pl.String
    assert out.schema["source.geolocation.cc"] == pl.String
    assert out["_line"].to_list() == [1, 2, 3, 4, 5]


def test_never_overwrites_what_the_feed_gave(data: EnrichmentData) -> None:
    batch = pl.DataFrame(
        {
            "source.ip": ["8.8.8.8", "8.8.8.8", "8.8.8.8", "8.8.8.8"],
            "source.asn": [64999, None, None, None],
            "source.as_name": [None, "FEED-NAME", None, None],
            "source.geolocation.cc": ["CH", None, None, "DE"],
        },
        schema_overrides={"source.asn": pl.Int64},
    )
    out = enrich(batch, data)
    assert out.select(ENRICHED).rows() == [
        # The feed's ASN stays, and the name follows it (unknown here), not 8.8.8.8's AS.
        (64999, None, "CH"),
        (15169, "FEED-NAME", "US"),
        (15169, "GOOGLE", "US"),
        (15169, "GOOGLE", "DE"),
    ]


def test_a_complete_batch_comes_back_unchanged(data: EnrichmentData) -> None:
    batch = pl.DataFrame(
        {
            "source.ip": ["8.8.8.8"],
            "source.asn": [1],
            "source.as_name": ["GIVEN"],
            "source.geolocation.cc": ["ZA"],
        }
    )
    assert enrich(batch, data).equals(batch)


def test_destination_is_enriched_when_present(data: EnrichmentData) -> None:
    batch = pl.DataFrame({"source.ip": ["192.0.2.1"], "destination.ip": ["2001:db8:3::80"]})
    out = enrich(batch, data)
    assert out.row(0, named=True) == {
        "source.ip": "192.0.2.1",
        "destination.ip": "2001:db8:3::80",
        "source.asn": 64496,
        "source.as_name": "SAMPLE-DOC-GH made-up sample network (RFC 5737 documentation range)",
        "source.geolocation.cc": "GH",
        "destination.asn": 65538,
        "destination.as_name": (
            "SAMPLE-DOC6-SG made-up sample network (RFC 3849 documentation range)"
        ),
        "destination.geolocation.cc": "SG",
    }


def test_unknown_invalid_and_null_addresses_stay_null(data: EnrichmentData) -> None:
    batch = pl.DataFrame({"source.ip": ["10.0.0.1", "not-an-ip", None, "2001:db8:ff::1", ""]})
    out = enrich(batch, data)
    assert out.select(ENRICHED).null_count().row(0) == (5, 5, 5)
    assert out.height == 5


def test_a_batch_without_addresses_is_left_alone(data: EnrichmentData) -> None:
    batch = pl.DataFrame({"source.fqdn": ["example.org"]})
    assert enrich(batch, data).equals(batch)


def test_feed_columns_keep_their_type(data: EnrichmentData) -> None:
    batch = pl.DataFrame(
        {"source.ip": ["8.8.8.8", "1.1.1.1"], "source.asn": [None, None]},
        schema={"source.ip": pl.String, "source.asn": pl.Null},
    ).with_columns(pl.lit(None, dtype=pl.Categorical).alias("source.geolocation.cc"))
    out = enrich(batch, data)
    assert out["source.asn"].to_list() == [15169, 13335]
    assert out.schema["source.asn"] == pl.Int64  # an all-null column takes the lookup's type
    assert out.schema["source.geolocation.cc"] == pl.Categorical
    assert out["source.geolocation.cc"].cast(pl.String).to_list() == ["US", "AU"]


def test_empty_batch(data: EnrichmentData) -> None:
    batch = pl.DataFrame({"source.ip": []}, schema={"source.ip": pl.String})
    out = enrich(batch, data)
    assert out.height == 0
    assert set(ENRICHED) <= set(out.columns)


def test_a_value_the_feeds_narrower_type_cannot_hold_stays_null(data: EnrichmentData) -> None:
    batch = pl.DataFrame(
        {"source.ip": ["8.8.8.8", "198.18.0.1"], "source.asn": [None, None]},
        schema={"source.ip": pl.String, "source.asn": pl.Int32},
    )
    out = enrich(batch, data)
    # 198.18.0.1 is in the sample's private-use AS 4200000000, beyond Int32.
    assert out["source.asn"].to_list() == [15169, None]
    assert out.schema["source.asn"] == pl.Int32
    assert out["source.as_name"][1] is None


def test_addresses_parsed_by_an_earlier_stage_are_used(data: EnrichmentData) -> None:
    batch = pl.DataFrame({"source.ip": ["8.8.8.8", "192.0.2.200"]})
    # Deliberately the other order: proves the handed-over parse is what gets looked up.
    parsed = parse_addresses(pl.Series(["192.0.2.200", "8.8.8.8"]))
    out = enrich(batch, data, parsed={"source.ip": parsed})
    assert out["source.asn"].to_list() == [64499, 15169]
    assert enrich(batch, data)["source.asn"].to_list() == [15169, 64499]
