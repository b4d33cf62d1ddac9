"""What the pipeline benchmark feeds the pipeline: a Shadowserver scan_http CSV and the tables
a hub loads beside it (constituencies, shared indicators, enrichment), all from one seed.

Everything is generated a column at a time with numpy and polars, never a Python call per
row, so two million CSV rows are written in seconds and ten million in well under a minute.

The shape follows what a CERT sees in a real day of scan_http:

- addresses over the whole unicast IPv4 space, with a share of the rows concentrated in a
  few thousand "hot" /16 blocks (hosting and access networks); the constituencies and the
  shared indicators are denser there too, so routing and matching meet nested prefixes;
- the usual web ports, timestamps over one UTC day, HTTP status lines with their reasons,
  server banners, `WWW-Authenticate` only on 401s, hostnames on about half of the rows;
- some (ip, port) pairs reported again later the same day (`REPEAT_SHARE`), which the
  de-duplication must drop, and about 0.5% junk addresses (`JUNK_SHARE`) that must go to
  quarantine with a reason.

The header line is copied from `tests/data/shadowserver/scan_http.csv`, so the file is
exactly what the parser's own tests read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from entente.members.reference_data import read_member_states
from entente.pipeline.addresses import format_v4, parse_addresses
from entente.pipeline.enrich.as_names import AsNames
from entente.pipeline.enrich.data import EnrichmentData
from entente.pipeline.enrich.prefixes import Prefixes, pack_countries
from entente.pipeline.enrich.sources import SourceData, SourceFormat
from entente.pipeline.matching import ROWS_SCHEMA
from entente.sharing.choices import AnalysisState, ThreatLevel
from entente.vocabulary.markings import TLP, Distribution

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "shadowserver" / "scan_http.csv"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
CHUNK_ROWS = 1_000_000
REPEAT_SHARE = 0.04
JUNK_SHARE = 0.005
HOT_SHARE = 0.45
OUTSIDE_SHARE = 0.03
HOT_BLOCKS = 3_000
ASN_POOL = 20_000
EVENTS = 20_000

U32 = npt.NDArray[np.uint32]

_FIRST_UNICAST = 1 << 24  # 1.0.0.0
_END_UNICAST = 224 << 24  # 224.0.0.0, multicast and above
_OUTSIDE = ("HK", "TW", "PR", "MO", "GU")
_JUNK = ("", "not-an-ip", "256.12.3.4", "10.0.0", "192.168.1.1.1", "1.2.3.4/24", "::zz")
_PORTS = (80, 8080, 443, 8000, 8443, 81, 8081, 8888, 88, 5000)
_PORT_WEIGHTS = (0.42, 0.2, 0.1, 0.08, 0.06, 0.03, 0.03, 0.03, 0.02, 0.03)
_STATUS = (
    (200, "OK"),
    (401, "Unauthorized"),
    (403, "Forbidden"),
    (404, "Not Found"),
    (301, "Moved Permanently"),
    (302, "Found"),
    (500, "Internal Server Error"),
    (503, "Service Unavailable"),
)
_STATUS_WEIGHTS = (0.45, 0.1, 0.1, 0.15, 0.08, 0.07, 0.03, 0.02)
_SERVERS = (
    "nginx/1.18.0",
    "nginx",
    "Apache/2.4.41 (Ubuntu)",
    "Apache/2.4.29 (Ubuntu) OpenSSL/1.1.1",
    "Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips PHP/7.4.33",
    "lighttpd/1.4.59",
    "Boa/0.94.14rc21",
    "Microsoft-IIS/10.0",
    "mini_httpd/1.30 26Oct2018",
    "GoAhead-Webs",
    "Jetty(9.4.z-SNAPSHOT)",
    "uc-httpd 1.0.0",
    "openresty",
)
_CONTENT_TYPES = (
    "text/html; charset=UTF-8",
    "text/html; charset=UTF-8",
    "text/html; charset=iso-8859-1",
    "text/html",
    "application/json",
    "text/plain; charset=utf-8",
)
_REALMS = ('Basic realm="Router"', 'Basic realm="index.htm"', 'Digest realm="IPCamera"')
_COOKIES = (
    "PHPSESSID=3f1c0a9e5b7d4c2a9e8f7a6b5c4d3e2f; path=/; HttpOnly",
    "JSESSIONID=8A1F0C2D9E3B4A5C6D7E8F9A0B1C2D3E; Path=/; Secure; HttpOnly",
    "SESSION=6b2f1c; expires=Sat, 21-Nov-2026 03:00:00 GMT; path=/",
)
_PLACES = (
    ("NOORD-HOLLAND", "AMSTERDAM"),
    ("NAIROBI AREA", "NAIROBI"),
    ("SAO PAULO", "SAO PAULO"),
    ("HESSEN", "FRANKFURT AM MAIN"),
    ("TOKYO", "TOKYO"),
    ("GREATER ACCRA", "ACCRA"),
    ("MAHARASHTRA", "MUMBAI"),
    ("ILE-DE-FRANCE", "PARIS"),
    ("CALIFORNIA", "LOS ANGELES"),
    ("LAGOS", "LAGOS"),
    ("GAUTENG", "JOHANNESBURG"),
    ("SINGAPORE", "SINGAPORE"),
)
_HOST_SUFFIXES = (
    ".example.net",
    ".dyn.example.com",
    ".static.isp-broadband.example",
    ".cust.dsl.example.org",
    ".pool.telecom-provider.example.net",
)
_HEX = pl.Series("hex", [f"{value:02x}" for value in range(256)])


@dataclass(frozen=True, slots=True)
class World:
    """The random facts shared by the CSV, the constituencies and the indicators."""

    hot_blocks: U32
    """/16 network numbers (as uint32 addresses) where rows and prefixes concentrate."""
    asns: npt.NDArray[np.int64]
    countries: list[str]

    @classmethod
    def make(cls, rng: np.random.Generator) -> World:
        blocks = rng.integers(_FIRST_UNICAST >> 16, _END_UNICAST >> 16, HOT_BLOCKS)
        asns = np.unique(rng.integers(1, 400_000, ASN_POOL * 2))[:ASN_POOL]
        countries = [row["alpha2"] for row in read_member_states()]
        return cls((blocks << 16).astype(np.uint32), asns.astype(np.int64), countries)

    def addresses(self, rng: np.random.Generator, count: int) -> U32:
        """Unicast IPv4 addresses: uniform, but `HOT_SHARE` of them in the hot blocks
        (some blocks much hotter than others, as a few networks dominate real scans)."""
        uniform = rng.integers(_FIRST_UNICAST, _END_UNICAST, count, dtype=np.uint64)
        weights = 1.0 / np.arange(1, len(self.hot_blocks) + 1) ** 0.8
        hot = self.hot_blocks[rng.choice(len(self.hot_blocks), count, p=weights / weights.sum())]
        hot = hot.astype(np.uint64) + rng.integers(0, 1 << 16, count, dtype=np.uint64)
        return np.where(rng.random(count) < HOT_SHARE, hot, uniform).astype(np.uint32)


# ---- the CSV ----------------------------------------------------------------------------


def header_line() -> str:
    """The header of the sample scan_http file, byte for byte."""
    with SAMPLE.open(encoding="utf-8") as handle:
        return handle.readline().rstrip("\r\n")


def write_scan_http(path: Path, rows: int, world: World, rng: np.random.Generator) -> int:
    """Write `rows` scan_http rows to `path` (header first); returns the file's size."""
    with path.open("wb") as handle:
        handle.write((header_line() + "\n").encode())
        for start in range(0, rows, CHUNK_ROWS):
            scan_http_chunk(world, rng, min(CHUNK_ROWS, rows - start)).write_csv(
                handle, include_header=False, quote_style="non_numeric"
            )
    return path.stat().st_size


def copy_head(source: Path, target: Path, rows: int) -> int:
    """The header and the first `rows` data lines of `source` into `target` (no line of
    the generated file spans two lines, so lines are rows); returns the rows copied."""
    copied = -1
    with source.open("rb") as reading, target.open("wb") as writing:
        for line in reading:
            if copied >= rows:
                break
            writing.write(line)
            copied += 1
    return max(copied, 0)


def scan_http_chunk(world: World, rng: np.random.Generator, size: int) -> pl.DataFrame:
    """`size` rows with the sample's columns; see the module docstring for their shape."""
    ips, ports = _endpoints(world, rng, size)
    seconds = np.sort(rng.integers(0, 86_400, size))
    status = rng.choice(len(_STATUS), size, p=_STATUS_WEIGHTS)
    place = rng.integers(0, len(_PLACES), size)
    codes = np.array([code for code, _ in _STATUS], dtype=np.int64)[status]
    ip_text = format_v4(ips)
    junk = rng.random(size) < JUNK_SHARE
    ip_text = pl.select(
        pl.when(pl.Series(junk)).then(_pick(rng, _JUNK, size)).otherwise(ip_text)
    ).to_series()
    stamps = pl.from_epoch(pl.Series(int(DAY.timestamp()) + seconds), time_unit="s")
    frame = pl.DataFrame(
        {
            "timestamp": stamps.dt.strftime("%Y-%m-%d %H:%M:%S"),
            "ip": ip_text,
            "protocol": pl.repeat("tcp", size, eager=True),
            "port": ports,
            "hostname": _hostnames(rng, ip_text, size),
            "tag": pl.repeat("http", size, eager=True),
            "asn": _sometimes(rng, world.asns[rng.integers(0, len(world.asns), size)], 0.96, 0),
            "geo": _countries(world, rng, size),
            "region": pl.Series([r for r, _ in _PLACES]).gather(place),
            "city": pl.Series([c for _, c in _PLACES]).gather(place),
            "naics": rng.choice(np.array([0, 517311, 518210, 541512]), size),
            "sic": rng.choice(np.array([0, 737401]), size),
            "http": _pick(rng, ("HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0"), size),
            "http_code": codes,
            "http_reason": pl.Series([r for _, r in _STATUS]).gather(status),
        }
    )
    return frame.with_columns(_response_columns(rng, size, codes, stamps))


def _endpoints(world: World, rng: np.random.Generator, size: int) -> tuple[U32, Any]:
    """Addresses and ports, with `REPEAT_SHARE` of the rows repeating an earlier pair."""
    ips = world.addresses(rng, size)
    ports = np.array(_PORTS)[rng.choice(len(_PORTS), size, p=_PORT_WEIGHTS)]
    ports = np.where(rng.random(size) < 0.05, rng.integers(1024, 65_536, size), ports)
    repeat = np.flatnonzero(rng.random(size) < REPEAT_SHARE)
    repeat = repeat[repeat > 0]
    earlier = (rng.random(len(repeat)) * repeat).astype(np.int64)
    ips[repeat], ports[repeat] = ips[earlier], ports[earlier]
    return ips, ports


def _response_columns(
    rng: np.random.Generator, size: int, codes: npt.NDArray[np.int64], stamps: pl.Series
) -> list[pl.Series]:
    is_401 = pl.Series(codes == 401)
    realm = pl.select(pl.when(is_401).then(_pick(rng, _REALMS, size)).otherwise(None)).to_series()
    later = stamps + pl.Series(rng.integers(0, 3, size) * 1_000_000).cast(pl.Duration("us"))
    return [
        _pick(rng, _CONTENT_TYPES, size).alias("content_type"),
        _pick(rng, ("close", "keep-alive"), size).alias("connection"),
        realm.alias("www_authenticate"),
        _nullable(rng, _pick(rng, _COOKIES, size), 0.4).alias("set_cookie"),
        _pick(rng, _SERVERS, size).alias("server"),
        pl.Series("content_length", rng.integers(0, 120_000, size)),
        _nullable(rng, pl.repeat("chunked", size, eager=True), 0.3).alias("transfer_encoding"),
        later.dt.strftime("%a, %d %b %Y %H:%M:%S GMT").alias("http_date"),
    ]


def _hostnames(rng: np.random.Generator, ips: pl.Series, size: int) -> pl.Series:
    names = pl.concat_str(
        [
            pl.lit("host-"),
            ips.str.replace_all(".", "-", literal=True),
            _pick(rng, _HOST_SUFFIXES, size),
        ]
    )
    return _nullable(rng, pl.select(names).to_series(), 0.85)


def _countries(world: World, rng: np.random.Generator, size: int) -> pl.Series:
    """Member states mostly; `OUTSIDE_SHARE` of the rows in territories no member state
    covers, which only a prefix or an AS number can route."""
    outside = pl.Series(rng.random(size) < OUTSIDE_SHARE)
    return pl.select(
        pl.when(outside)
        .then(_pick(rng, _OUTSIDE, size))
        .otherwise(_pick(rng, world.countries, size))
    ).to_series()


def _pick(rng: np.random.Generator, pool: Any, size: int) -> pl.Series:
    return pl.Series(list(pool), dtype=pl.String).gather(rng.integers(0, len(pool), size))


def _nullable(rng: np.random.Generator, values: pl.Series, share: float) -> pl.Series:
    """`values` kept on `share` of the rows, null (an empty CSV field) elsewhere."""
    kept = pl.Series(rng.random(len(values)) < share)
    return pl.select(pl.when(kept).then(values).otherwise(None)).to_series()


def _sometimes(
    rng: np.random.Generator, values: npt.NDArray[np.int64], share: float, other: int
) -> npt.NDArray[np.int64]:
    return np.where(rng.random(len(values)) < share, values, other)


# ---- constituencies ----------------------------------------------------------------------


def constituency_entries(
    world: World, rng: np.random.Generator, organisations: dict[str, int], prefixes: int
) -> list[tuple[int, str, str]]:
    """(organisation id, kind, value) for `ConstituencyIndex.build`: `prefixes` IPv4
    prefixes /12-/28, nested (a tenth are wide parents, the rest inside them, mostly kept by
    the parent's owner), AS numbers, domains, and each national CERT's own country."""
    owners = np.array(list(organisations.values()), dtype=np.int64)
    networks, lengths, holders = _nested_prefixes(world, rng, owners, prefixes)
    texts = pl.select(
        pl.concat_str([format_v4(networks), pl.lit("/"), pl.Series(lengths).cast(pl.String)])
    ).to_series()
    entries = [
        (owner, "prefix", text)
        for owner, text in zip(holders.tolist(), texts.to_list(), strict=True)
    ]
    claimed = world.asns[rng.permutation(len(world.asns))[: len(world.asns) // 4]]
    entries += [
        (int(o), "asn", str(a))
        for o, a in zip(rng.choice(owners, len(claimed)), claimed, strict=True)
    ]
    for code, organisation in organisations.items():
        entries.append((organisation, "country", code))
        entries.append((organisation, "domain", f"gov.{code.lower()}"))
        entries.append((organisation, "domain", f"cert-{code.lower()}.example"))
    return entries


def _nested_prefixes(
    world: World, rng: np.random.Generator, owners: npt.NDArray[np.int64], count: int
) -> tuple[U32, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    parents = count // 10
    length = rng.integers(12, 21, parents)
    network = world.addresses(rng, parents) & _mask(length)
    holder = rng.choice(owners, parents)
    # Children: inside a random parent, 1-10 bits longer (at most /28).
    spare = count * 2
    parent = rng.integers(0, parents, spare)
    child_length = np.minimum(length[parent] + rng.integers(1, 11, spare), 28)
    offset = rng.integers(0, 1 << 32, spare, dtype=np.uint64).astype(np.uint32)
    inside = network[parent] | (offset & ~_mask(length[parent]))
    child = inside & _mask(child_length)
    child_holder = np.where(rng.random(spare) < 0.8, holder[parent], rng.choice(owners, spare))
    frame = (
        pl.DataFrame(
            {
                "network": np.concatenate([network, child]),
                "length": np.concatenate([length, child_length]),
                "owner": np.concatenate([holder, child_holder]),
            }
        )
        .unique(["network", "length"], keep="first", maintain_order=True)
        .head(count)
    )
    return frame["network"].to_numpy(), frame["length"].to_numpy(), frame["owner"].to_numpy()


def _mask(lengths: npt.NDArray[np.int64]) -> U32:
    shift = (32 - lengths).astype(np.uint64)
    return ((np.uint64(0xFFFFFFFF) << shift) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


# ---- shared indicators ------------------------------------------------------------------

_TYPE_SHARES = (
    ("ipv4", 0.35),
    ("cidr", 0.05),
    ("domain", 0.2),
    ("hostname", 0.05),
    ("url", 0.15),
    ("md5", 0.07),
    ("sha1", 0.05),
    ("sha256", 0.08),
)
_TLDS = ("com", "net", "org", "info", "ru", "cn", "io", "xyz", "top", "de", "br", "in")
_V4_MAPPED = "00000000000000000000ffff"


def indicator_rows(
    world: World, rng: np.random.Generator, count: int, seen_ips: U32
) -> pl.DataFrame:
    """`count` indicator rows shaped as `ROWS_SCHEMA`, over `EVENTS` events (ids 1..EVENTS,
    a few events holding most indicators). Some ipv4 values are addresses of the CSV
    (`seen_ips`), so rows match; CIDRs are mostly /24-/30, a few /16-/23."""
    kinds = rng.choice(len(_TYPE_SHARES), count, p=[share for _, share in _TYPE_SHARES])
    parts = []
    for index, (kind, _) in enumerate(_TYPE_SHARES):
        size = int((kinds == index).sum())
        parts.append(_indicators_of(kind, size, world, rng, seen_ips))
    rows = pl.concat(parts, how="diagonal_relaxed")
    sizes = rng.lognormal(2.0, 1.4, EVENTS)
    events = rng.choice(EVENTS, rows.height, p=sizes / sizes.sum()) + 1
    return rows.with_columns(
        pl.Series("indicator_id", np.arange(1, rows.height + 1)),
        pl.Series("event_id", events),
    ).select(pl.col(name).cast(dtype) for name, dtype in ROWS_SCHEMA.items())


def _indicators_of(
    kind: str, size: int, world: World, rng: np.random.Generator, seen_ips: U32
) -> pl.DataFrame:
    if kind in ("ipv4", "cidr"):
        if kind == "ipv4":
            known = min(len(seen_ips), size // 15)
            low = np.concatenate([seen_ips[:known], world.addresses(rng, size - known)])
            high = low
        else:
            lengths = rng.choice(np.arange(16, 31), size, p=_cidr_weights())
            # Uniform, not in the hot blocks: a shared network seldom covers a whole ISP.
            low = rng.integers(_FIRST_UNICAST, _END_UNICAST, size).astype(np.uint32)
            low = low & _mask(lengths)
            high = low | ~_mask(lengths)
        return pl.DataFrame(
            {"type": [kind] * size, "net_low": _mapped_hex(low), "net_high": _mapped_hex(high)}
        )
    if kind in ("md5", "sha1", "sha256"):
        values = _hex_strings(rng, size, {"md5": 16, "sha1": 20, "sha256": 32}[kind])
    else:
        domains = _domains(rng, size)
        values = {
            "domain": domains,
            "hostname": "www." + domains,
            "url": "http://" + domains + "/" + _hex_strings(rng, size, 6),
        }[kind]
    return pl.DataFrame({"type": [kind] * size, "value": values})


def _cidr_weights() -> npt.NDArray[np.float64]:
    weights = np.array([0.05] * 8 + [8, 2, 2, 1.5, 1.5, 1, 1], dtype=np.float64)  # /16../30
    return weights / weights.sum()


def _domains(rng: np.random.Generator, size: int) -> pl.Series:
    first = _hex_strings(rng, size, 4)
    return pl.select(
        pl.concat_str([pl.lit("x"), first, pl.lit("."), _pick(rng, _TLDS, size)])
    ).to_series()


def _hex_strings(rng: np.random.Generator, size: int, byte_count: int) -> pl.Series:
    """`size` random lowercase hex strings of `byte_count` bytes each."""
    data = rng.integers(0, 256, (size, byte_count), dtype=np.uint8)
    return pl.select(
        pl.concat_str([_HEX.gather(data[:, i]) for i in range(byte_count)])
    ).to_series()


def _mapped_hex(addresses: U32) -> pl.Series:
    """IPv4 addresses as stored ranges are: 32 hex digits of ::ffff:a.b.c.d."""
    octets = [_HEX.gather((addresses >> shift) & 255) for shift in (24, 16, 8, 0)]
    return pl.select(pl.concat_str([pl.lit(_V4_MAPPED), *octets])).to_series()


def event_rows(rng: np.random.Generator, organisation_ids: list[int]) -> list[dict[str, Any]]:
    """The `EVENTS` events the indicators belong to, as `Event` insert values: mostly for
    all members, a tenth for the owner only (so the recipient check has work to refuse)."""
    markings = (
        (TLP.GREEN, Distribution.ALL_MEMBERS, 0.6),
        (TLP.AMBER, Distribution.ALL_MEMBERS, 0.2),
        (TLP.CLEAR, Distribution.PUBLIC, 0.1),
        (TLP.AMBER, Distribution.ORGANISATION, 0.1),
    )
    chosen = rng.choice(len(markings), EVENTS, p=[share for _, _, share in markings])
    owners = rng.choice(organisation_ids, EVENTS)
    created = DAY - timedelta(days=30)
    return [
        {
            "id": index + 1,
            "uuid": f"00000000-0000-4000-8000-{index + 1:012d}",
            "title": f"Benchmark event {index + 1}",
            "event_date": created.date(),
            "threat_level": ThreatLevel.MEDIUM,
            "analysis": AnalysisState.COMPLETE,
            "published": True,
            "version": 1,
            "created_at": created,
            "updated_at": created,
            "published_at": created,
            "owner_organisation_id": int(owners[index]),
            "tlp": markings[int(chosen[index])][0],
            "distribution": markings[int(chosen[index])][1],
        }
        for index in range(EVENTS)
    ]


# ---- enrichment --------------------------------------------------------------------------


def enrichment_prefixes(world: World, rng: np.random.Generator, count: int) -> pl.DataFrame:
    """`count` routed IPv4 prefixes (`network` uint32, `length`, `asn`, `cc`), shaped like a
    BGP table: mostly /24, then /22-/23, a fifth /8-/21; they overlap as real routes do."""
    lengths = rng.choice(
        np.arange(8, 25), count, p=_normalised([0.01] * 8 + [0.3, 0.5, 1, 1, 1.5, 4, 4, 5, 55])
    )
    networks = world.addresses(rng, count) & _mask(lengths)
    asns = world.asns[rng.integers(0, len(world.asns), count)]
    countries = pl.Series(world.countries).gather(rng.integers(0, len(world.countries), count))
    frame = pl.DataFrame({"network": networks, "length": lengths, "asn": asns, "cc": countries})
    return frame.unique(["network", "length"], keep="first", maintain_order=True)


def enrichment_data(world: World, prefixes: pl.DataFrame) -> EnrichmentData:
    """The prefixes flattened into Entente's interval tables, with a name for every AS."""
    v4 = Prefixes(
        start=prefixes["network"].to_numpy().astype(np.uint64),
        length=prefixes["length"].to_numpy().astype(np.uint8),
        asn=prefixes["asn"].to_numpy().astype(np.uint32),
        country=pack_countries(prefixes["cc"]),
    )
    asns = world.asns.astype(np.uint32)
    names = pl.select(
        pl.concat_str([pl.lit("AS-NAME-"), pl.Series(asns).cast(pl.String)])
    ).to_series()
    source = SourceData(
        name="generated",
        format=SourceFormat.PFX2AS,
        v4=v4,
        v6=Prefixes.empty(),
        as_names=AsNames.of(asns, names),
    )
    return EnrichmentData.build([source])


def write_ipasn(path: Path, prefixes: pl.DataFrame) -> None:
    """The same prefixes as pyasn's IPASN text file, for IntelMQ's ASN lookup expert."""
    lines = prefixes.select(
        pl.concat_str(
            [
                format_v4(prefixes["network"].to_numpy()),
                pl.lit("/"),
                pl.col("length").cast(pl.String),
            ]
        ).alias("prefix"),
        pl.col("asn"),
    )
    with path.open("wb") as handle:
        handle.write(b"; IP-ASN32-DAT file\n; generated by bench/pipeline_dataset.py\n")
        lines.write_csv(handle, include_header=False, separator="\t")


def _normalised(weights: list[float]) -> npt.NDArray[np.float64]:
    array = np.array(weights, dtype=np.float64)
    return array / array.sum()


def csv_ips(path: Path, count: int) -> U32:
    """Distinct valid addresses among the first rows of a generated file (for overlaps)."""
    frame = pl.read_csv(path, n_rows=count * 2, columns=["ip"], schema_overrides={"ip": pl.String})
    addresses = parse_addresses(frame["ip"])
    return np.unique(addresses.v4[addresses.is_v4])[:count]
