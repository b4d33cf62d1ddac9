"""The enrichment stage: ASN, AS name and country for each row's addresses, from offline data.

Only empty (null) values are filled; a value the feed gave is never replaced. The feed's
value is what its provider saw when it observed the event (routes and registrations change
over time, and a provider such as Shadowserver resolves them at scan time), and it may come
from better data than ours; overwriting it would also make a row's fields depend on when it
was re-processed. The AS name follows the row's final ASN, the feed's when it gave one, so
a row never pairs one source's ASN with another's name.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from entente.pipeline.addresses import AddressColumn, parse_addresses
from entente.pipeline.enrich.data import EnrichmentData

SIDES = ("source", "destination")
"""IntelMQ harmonisation prefixes whose `<side>.ip` is enriched when the batch has it."""


def enrich(
    batch: pl.DataFrame,
    data: EnrichmentData,
    parsed: Mapping[str, AddressColumn] | None = None,
) -> pl.DataFrame:
    """`batch` with `<side>.asn`, `<side>.as_name` and `<side>.geolocation.cc` filled from
    `<side>.ip` where they are null, for each side whose `.ip` column the batch has.

    Columns that are missing are added (Int64, String, String); columns the feed already
    has keep their type. Rows whose address is missing, invalid or not covered by the data
    stay null. Never drops or quarantines a row: missing enrichment is not an error.

    `parsed` may hand over `parse_addresses` results an earlier stage already has, keyed by
    column (`{"source.ip": ...}`, aligned with the batch): parsing two million address
    strings costs several times more than enriching them.
    """
    for side in SIDES:
        column = f"{side}.ip"
        if column in batch.columns:
            addresses = (parsed or {}).get(column) or parse_addresses(batch[column])
            batch = _enrich_side(batch, data, side, addresses)
    return batch


def _enrich_side(
    batch: pl.DataFrame, data: EnrichmentData, side: str, addresses: AddressColumn
) -> pl.DataFrame:
    asn_field, name_field, country_field = (
        f"{side}.asn",
        f"{side}.as_name",
        f"{side}.geolocation.cc",
    )
    if all(_complete(batch, name) for name in (asn_field, name_field, country_field)):
        return batch
    asn, country = data.networks.lookup(addresses)
    asn = _filled(batch, asn_field, asn)
    name = _filled(batch, name_field, data.as_names.name_of(asn))
    country = _filled(batch, country_field, country)
    return batch.with_columns(asn, name, country)


def _complete(batch: pl.DataFrame, name: str) -> bool:
    return name in batch.columns and batch[name].null_count() == 0


def _filled(batch: pl.DataFrame, name: str, looked_up: pl.Series) -> pl.Series:
    """The batch's column `name` with its nulls filled from `looked_up` (its type kept)."""
    if name not in batch.columns:
        return looked_up.alias(name)
    given = batch[name]
    if given.null_count() == 0:
        return given
    target = looked_up.dtype if given.dtype == pl.Null else given.dtype
    # strict=False: a value the feed's narrower type cannot hold stays null rather than
    # failing the batch (normalised batches use the vocabulary's Int64 and String anyway).
    return given.cast(target).fill_null(looked_up.cast(target, strict=False)).alias(name)
