"""Readers of the public text formats: RouteViews pfx2as, RIR delegated statistics, AS names.

Each reader checks a whole file as polars column expressions and raises a `ParseError` at
the first line that is not in its format. docs/enrichment.md shows each format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from entente.pipeline.addresses import parse_addresses
from entente.pipeline.enrich.as_names import ASN, MAX_ASN, NAME, AsNames
from entente.pipeline.enrich.prefixes import (
    V4_BITS,
    Prefixes,
    pack_countries,
    ranges_to_prefixes,
)
from entente.pipeline.enrich.sources import (
    LINE,
    TEXT,
    SourceData,
    SourceFormat,
    parse_networks,
    raise_at_first,
    read_lines,
)

COMMENT = pl.col(TEXT).str.starts_with("#")

_PFX2AS = r"^(?<address>\S+)[\t ]+(?<length>\d{1,3})[\t ]+(?<asn>\d{1,10})(?:[_,]\d{1,10})*$"
"""`prefix<TAB>length<TAB>asn`. A prefix seen with several origins (MOAS) reads `a_b`, an AS
set `a,b` (mixed: `a_b,c`); the first ASN is kept: it is the origin most of the collectors
saw first, and an alert needs one network owner to name, not a set."""


def read_pfx2as(path: Path) -> SourceData:
    """A CAIDA RouteViews prefix-to-AS file (IPv4 or IPv6): origin ASN per announced prefix."""
    rows = read_lines(path).filter(~COMMENT)
    fields = rows.select(LINE, TEXT, pl.col(TEXT).str.extract_groups(_PFX2AS).alias("f")).unnest(
        "f"
    )
    raise_at_first(fields, fields["address"].is_null(), path, "expected prefix<TAB>length<TAB>asn")
    fields = fields.with_columns(pl.col("length").cast(pl.Int64), pl.col(ASN).cast(pl.UInt64))
    raise_at_first(fields, fields[ASN] > MAX_ASN, path, "ASN above 4294967295")
    networks = parse_networks(fields, "address", "length", path)
    asn = fields[ASN].to_numpy().astype(np.uint32)

    def prefixes(rows: np.ndarray, start: np.ndarray, length: np.ndarray) -> Prefixes:
        country = np.zeros(len(rows), dtype=np.uint16)
        return Prefixes(start=start, length=length, asn=asn[rows], country=country)

    return SourceData(
        name=str(path),
        format=SourceFormat.PFX2AS,
        v4=prefixes(networks.v4_rows, networks.v4_start, networks.v4_length),
        v6=prefixes(networks.v6_rows, networks.v6_start, networks.v6_length),
        skipped_longer_than_64=networks.skipped_longer_than_64,
    )


DELEGATED_FIELDS = ("registry", "cc", "type", "start", "value", "date", "status")
_NO_ASSIGNEE = ("available", "reserved")
"""Statuses of blocks no one holds yet: their country (if any) says nothing about a host."""


def read_delegated(path: Path) -> SourceData:
    """An RIR delegated (or delegated-extended) statistics file: country per address block.

    The version header and the `summary` lines are skipped, as are `asn` lines (they give an
    AS's country of registration, while enrichment takes the country from the address) and
    blocks that are available or reserved or have no country (`ZZ` or empty).
    """
    rows = read_lines(path).filter(~COMMENT)
    split = pl.col(TEXT).str.split("|")
    fields = rows.select(
        LINE,
        TEXT,
        split.list.len().alias("count"),
        *(
            split.list.get(index, null_on_oob=True).str.strip_chars().alias(name)
            for index, name in enumerate(DELEGATED_FIELDS)
        ),
    )
    is_header = fields["registry"].str.contains(r"^\d+(\.\d+)?$")
    is_summary = fields[TEXT].str.strip_chars().str.ends_with("|summary")
    fields = fields.filter(~is_header & ~is_summary)
    raise_at_first(fields, fields["count"] < 7, path, f"expected {'|'.join(DELEGATED_FIELDS)}")
    kind = fields["type"].str.to_lowercase()
    raise_at_first(fields, ~kind.is_in(["ipv4", "ipv6", "asn"]), path, "unknown record type")
    country = fields["cc"].str.to_uppercase()
    raise_at_first(fields, ~country.str.contains(r"^([A-Z]{2})?$"), path, "bad country code")
    held = (
        kind.is_in(["ipv4", "ipv6"])
        & ~country.is_in(["", "ZZ"])
        & ~fields["status"].str.to_lowercase().is_in(_NO_ASSIGNEE)
    )
    fields = fields.with_columns(country.alias("cc"), kind.alias("type")).filter(held)
    v4 = _delegated_v4(fields.filter(pl.col("type") == "ipv4"), path)
    v6_rows = fields.filter(pl.col("type") == "ipv6").with_columns(
        pl.col("value").cast(pl.Int64, strict=False).alias("length")
    )
    raise_at_first(v6_rows, v6_rows["length"].is_null(), path, "IPv6 value is not a length")
    networks = parse_networks(v6_rows, "start", "length", path)
    v6_country = pack_countries(v6_rows["cc"])[networks.v6_rows]
    v6 = Prefixes(
        start=networks.v6_start,
        length=networks.v6_length,
        asn=np.zeros(len(v6_country), dtype=np.uint32),
        country=v6_country,
    )
    return SourceData(
        name=str(path),
        format=SourceFormat.DELEGATED,
        v4=v4,
        v6=v6,
        skipped_longer_than_64=networks.skipped_longer_than_64,
    )


def _delegated_v4(rows: pl.DataFrame, path: Path) -> Prefixes:
    """IPv4 blocks are a first address and an address count, split here into CIDR prefixes."""
    addresses = parse_addresses(rows["start"])
    raise_at_first(rows, pl.Series(~addresses.is_v4), path, "not an IPv4 address")
    count = rows["value"].cast(pl.UInt64, strict=False)
    raise_at_first(rows, count.is_null() | (count == 0), path, "IPv4 value is not a count")
    first = addresses.v4.astype(np.uint64)
    sizes = count.to_numpy().astype(np.uint64)
    beyond = first + sizes > np.uint64(1 << V4_BITS)
    raise_at_first(rows, pl.Series(beyond), path, "block runs past 255.255.255.255")
    start, length, owner = ranges_to_prefixes(first, sizes)
    return Prefixes(
        start=start,
        length=length,
        asn=np.zeros(len(start), dtype=np.uint32),
        country=pack_countries(rows["cc"])[owner],
    )


_AS_NAME_LINE = r"^(?i:AS)?(?<asn>\d{1,10})[\t ]+(?<rest>.*)$"
_NAME_AND_COUNTRY = r"^(?<name>.*), (?<cc>[A-Z]{2})$"


def read_as_names(path: Path) -> SourceData:
    """An `asn.txt` file (RIPE NCC's `asnames`): `ASN NAME, CC` per line.

    The trailing `, CC` (the AS's country of registration) is dropped from the name; the
    name itself may contain commas.
    """
    rows = read_lines(path).filter(~COMMENT)
    fields = rows.select(LINE, TEXT, pl.col(TEXT).str.extract_groups(_AS_NAME_LINE).alias("f"))
    fields = fields.unnest("f")
    raise_at_first(fields, fields[ASN].is_null(), path, "expected ASN NAME, CC")
    asn = fields[ASN].cast(pl.UInt64)
    raise_at_first(fields, asn > MAX_ASN, path, "ASN above 4294967295")
    rest = fields["rest"].str.strip_chars()
    name = rest.str.extract(_NAME_AND_COUNTRY, group_index=1).fill_null(rest)
    return _names_only(path, SourceFormat.AS_NAMES, pl.DataFrame({ASN: asn, NAME: name}))


_ORG_LINE = r"^(?<org_id>[^|]*)\|[^|]*\|(?<org_name>.*)\|[^|]*\|[^|]*$"
_AUT_LINE = r"^(?<aut>\d{1,10})\|[^|]*\|(?<aut_name>.*)\|(?<org_id>[^|]*)\|[^|]*\|[^|]*$"
_SECTION = "section"


def read_as_org(path: Path) -> SourceData:
    """A CAIDA AS-to-organisation file (`as-org2info.txt`): the AS name is its organisation's.

    The file has two sections, each opened by a `# format:` comment: organisations
    (`org_id|changed|org_name|country|source`) then ASes
    (`aut|changed|aut_name|org_id|opaque_id|source`). An AS whose organisation is missing
    keeps its own short `aut_name`.
    """
    rows = read_lines(path)
    header = pl.col(TEXT).str.starts_with("# format:")
    rows = rows.with_columns(
        pl.when(header).then(pl.col(TEXT)).forward_fill().fill_null("").alias(_SECTION)
    ).filter(~COMMENT)
    raise_at_first(rows, rows[_SECTION] == "", path, "line before any '# format:' header")
    in_orgs = rows[_SECTION].str.starts_with("# format:org_id")
    orgs = rows.filter(in_orgs)
    auts = rows.filter(~in_orgs)
    org_fields = orgs.select(LINE, TEXT, pl.col(TEXT).str.extract_groups(_ORG_LINE).alias("f"))
    org_fields = org_fields.unnest("f")
    raise_at_first(org_fields, org_fields["org_id"].is_null(), path, "expected an org line")
    aut_fields = auts.select(LINE, TEXT, pl.col(TEXT).str.extract_groups(_AUT_LINE).alias("f"))
    aut_fields = aut_fields.unnest("f")
    raise_at_first(aut_fields, aut_fields["aut"].is_null(), path, "expected an aut line")
    aut_fields = aut_fields.with_columns(pl.col("aut").cast(pl.UInt64))
    raise_at_first(aut_fields, aut_fields["aut"] > MAX_ASN, path, "ASN above 4294967295")
    named = aut_fields.join(
        org_fields.select("org_id", "org_name").unique("org_id", keep="last"),
        on="org_id",
        how="left",
        maintain_order="left",
    ).select(
        pl.col("aut").alias(ASN),
        pl.coalesce(
            pl.col("org_name").str.strip_chars().replace("", None), pl.col("aut_name")
        ).alias(NAME),
    )
    return _names_only(path, SourceFormat.AS_ORG, named)


def _names_only(path: Path, source_format: SourceFormat, names: pl.DataFrame) -> SourceData:
    return SourceData(
        name=str(path),
        format=source_format,
        v4=Prefixes.empty(),
        v6=Prefixes.empty(),
        as_names=AsNames.from_frame(names),
    )
