"""Normalise a batch: every vocabulary column is checked against its field's type and
rewritten in canonical form, a whole column at a time.

Each type has a normaliser that turns a column into its canonical values (null where the
input was empty or invalid) and a mask of the rows whose value was given but invalid. The
normalisers are eager polars/numpy calls, one column each, run on a thread per core:
polars releases the GIL, so columns proceed in parallel as in a lazy `select`, while each
intermediate (the stripped text, a parsed number) is computed once; polars' common
subexpression elimination does not reach inside `when/then` chains, and repeating them
cost three times as much. Python loops run only over distinct non-ASCII names (IDNA),
distinct IPv6 values, and the rows whose date-time is not in the common format.

A row with an invalid value in any field leaves the batch for quarantine; the first bad
field (in column order) names it. An empty value becomes null, never an error. A column
that is not a vocabulary field, `extra.<name>` or bookkeeping (`_...`) is a parser bug and
raises `UnknownField`. `extra.<name>` columns pass through unchecked. Field types and their
rules: docs/fields.md.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import idna
import numpy as np
import polars as pl

from entente.pipeline.addresses import AddressColumn, format_v4, parse_addresses
from entente.pipeline.batches import StageOutput, empty_quarantine, quarantine
from entente.vocabulary.fields import (
    FIELDS,
    Field,
    FieldType,
    classification_taxonomies,
    classification_type_aliases,
    classification_types,
    country_codes,
    field,
    is_extra,
    unknown_country_codes,
)
from entente.vocabulary.markings import TLP

TAXONOMY = "classification.taxonomy"
TYPE = "classification.type"
_UTC = "UTC"


@dataclass(frozen=True, slots=True)
class NormalisedBatch(StageOutput):
    """The stage's output, plus the parsed addresses of the kept rows' IP-address columns.

    Why hand them on: checking an address parses it, and enrichment, routing and matching
    need it parsed; parsing a column again cost as much as any of those stages.
    """

    addresses: dict[str, AddressColumn]


@dataclass(frozen=True, slots=True)
class _Normalised:
    """A column's canonical values (null where empty or invalid) and where it was invalid;
    for an address column, also the parsed addresses of every row."""

    canonical: pl.Series
    bad: pl.Series
    addresses: AddressColumn | None = None


@dataclass(frozen=True, slots=True)
class _Check:
    """Rows that fail one check, the field to blame and the reason (evaluated on the raw rows)."""

    field: str
    bad: pl.Series
    reason: pl.Expr


_Normaliser = Callable[[pl.Series, Field], _Normalised]


def normalise(batch: pl.DataFrame) -> NormalisedBatch:
    """Check and canonicalise every vocabulary column; bad rows go to quarantine with a reason."""
    fields = _vocabulary_fields(batch)
    with ThreadPoolExecutor(max_workers=min(len(fields), os.cpu_count() or 1) or 1) as pool:
        results = list(pool.map(lambda spec: _normalise_column(batch, spec), fields))
    canonical = pl.DataFrame([result.canonical for result in results])
    checks = [
        _Check(spec.name, result.bad, _reason(spec))
        for spec, result in zip(fields, results, strict=True)
    ]
    canonical, classification_checks = _classify(canonical)
    output, kept_rows = _split(batch, canonical, checks + classification_checks)
    addresses = {
        spec.name: result.addresses if kept_rows is None else result.addresses.select(kept_rows)
        for spec, result in zip(fields, results, strict=True)
        if result.addresses is not None
    }
    return NormalisedBatch(output.kept, output.quarantined, addresses)


def _normalise_column(batch: pl.DataFrame, spec: Field) -> _Normalised:
    result = _NORMALISERS[spec.type](batch.get_column(spec.name), spec)
    canonical = result.canonical.cast(spec.polars_type).alias(spec.name)
    return _Normalised(canonical, result.bad.fill_null(False), result.addresses)


def _vocabulary_fields(batch: pl.DataFrame) -> list[Field]:
    for name in batch.columns:
        if not (name.startswith("_") or is_extra(name)):
            field(name)  # raises UnknownField (with close matches) outside the vocabulary
    return [
        FIELDS[name]
        for name in batch.columns
        if name in FIELDS and FIELDS[name].type is not FieldType.EXTRA
    ]


def _split(
    batch: pl.DataFrame, canonical: pl.DataFrame, checks: list[_Check]
) -> tuple[StageOutput, np.ndarray | None]:
    """Kept and quarantined rows, and the mask of kept rows (None when all are kept)."""
    seen = np.zeros(batch.height, dtype=np.bool_)
    quarantined = []
    for check in checks:
        newly = check.bad.to_numpy() & ~seen
        if newly.any():
            quarantined.append(quarantine(batch, pl.Series(newly), check.field, check.reason))
            seen |= newly
    kept = batch.with_columns(canonical.get_columns())
    kept_rows = ~seen if seen.any() else None
    if kept_rows is not None:
        kept = kept.filter(pl.Series(kept_rows))
    put_aside = pl.concat(quarantined) if quarantined else empty_quarantine()
    return StageOutput(kept, put_aside), kept_rows


def _classify(canonical: pl.DataFrame) -> tuple[pl.DataFrame, list[_Check]]:
    """Fill an empty taxonomy from the type (each RSIT type has one class); a row whose
    taxonomy and type disagree is a mapping error, so it goes to quarantine."""
    if TYPE not in canonical.columns:
        return canonical, []
    from_type = canonical[TYPE].replace_strict(
        dict(classification_types()), default=None, return_dtype=pl.String
    )
    if TAXONOMY not in canonical.columns:
        return canonical.with_columns(from_type.alias(TAXONOMY)), []
    taxonomy = canonical[TAXONOMY]
    mismatch = (taxonomy != from_type).fill_null(False)
    reason = pl.format(
        "classification.taxonomy: '{}' does not fit classification.type '{}'",
        pl.col(TAXONOMY).cast(pl.String),
        pl.col(TYPE).cast(pl.String),
    )
    filled = canonical.with_columns(pl.coalesce(pl.col(TAXONOMY), from_type).alias(TAXONOMY))
    return filled, [_Check(TAXONOMY, mismatch, reason)]


# --- reasons -----------------------------------------------------------------------------------

_EXPECTED = {
    FieldType.BOOLEAN: "true or false",
    FieldType.PORT: "a port (0 to 65535)",
    FieldType.ASN: "an AS number (1 to 4294967295)",
    FieldType.IP_ADDRESS: "an IP address",
    FieldType.IP_NETWORK: "an IP network (CIDR)",
    FieldType.FQDN: "a DNS name",
    FieldType.URL: "a URL (scheme://host...)",
    FieldType.DATETIME: "a date-time (ISO 8601, YYYY-MM-DD HH:MM:SS or epoch seconds)",
    FieldType.COUNTRY_CODE: "an ISO 3166-1 alpha-2 country code",
    FieldType.CLASSIFICATION_TAXONOMY: "an RSIT incident class",
    FieldType.CLASSIFICATION_TYPE: "an RSIT incident type",
    FieldType.TLP: "a TLP 2.0 marking",
}


def _expected(spec: Field) -> str:
    if spec.choices:
        return "one of " + ", ".join(spec.choices)
    if spec.type is FieldType.FLOAT:
        return f"a number ({spec.constraints})" if spec.constraints else "a number"
    if spec.type is FieldType.HASH:
        return f"a hexadecimal digest of {spec.length} digits"
    return _EXPECTED.get(spec.type, "valid")


def _reason(spec: Field) -> pl.Expr:
    # Evaluated on the quarantined rows of the *input* batch, so it shows the value as read.
    template = f"{spec.name}: '{{}}' is not {_expected(spec)}"
    return pl.format(template, pl.col(spec.name).cast(pl.String))


# --- shared pieces -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    """A column as text without surrounding white space, and where a value was given at all.

    Empty text stays "" here rather than null: every parser below turns "" into null anyway,
    and `given` keeps it from counting as an error.
    """

    value: pl.Series
    given: pl.Series


def _text(values: pl.Series) -> _Text:
    text = values if values.dtype == pl.String else values.cast(pl.String)
    stripped = text.str.strip_chars()
    return _Text(stripped, (stripped.str.len_bytes() > 0).fill_null(False))


def _where(mask: pl.Series | np.ndarray, values: pl.Series) -> pl.Series:
    """`values` where `mask` holds, null elsewhere."""
    return pl.select(pl.when(pl.lit(pl.Series(mask))).then(pl.lit(values))).to_series()


def _checked(given: pl.Series, canonical: pl.Series) -> _Normalised:
    """A value was given but has no canonical form: that is what makes a row bad."""
    return _Normalised(canonical, given & canonical.is_null())


def _unchecked(canonical: pl.Series) -> _Normalised:
    return _Normalised(canonical, pl.Series(np.zeros(len(canonical), dtype=np.bool_)))


def _by_distinct(normaliser: _Normaliser) -> _Normaliser:
    """Run `normaliser` once per distinct value and spread the results over the rows.

    For the few-valued columns (country codes, RSIT classes, TLP, choices): a column of two
    million rows holds a few dozen spellings, so mapping codes costs less than string work.
    """

    def normalise_distinct(values: pl.Series, spec: Field) -> _Normalised:
        if values.dtype != pl.String:
            return normaliser(values, spec)
        distinct = values.drop_nulls().unique()
        codes = values.cast(pl.Enum(distinct.to_list())).to_physical()
        result = normaliser(distinct, spec)
        return _Normalised(result.canonical.gather(codes), result.bad.gather(codes))

    return normalise_distinct


def _lookup(text: pl.Series, spellings: dict[str, str]) -> pl.Series:
    return text.replace_strict(spellings, default=None, return_dtype=pl.String)


# --- normalisers by type -----------------------------------------------------------------------


def _string(values: pl.Series, spec: Field) -> _Normalised:
    if spec.choices:
        return _by_distinct(_chosen)(values, spec)
    text = _text(values)
    return _unchecked(_where(text.given, text.value))


def _lowercase_string(values: pl.Series, spec: Field) -> _Normalised:
    if spec.choices:
        return _by_distinct(_chosen)(values, spec)
    if _few_valued(values):
        return _by_distinct(_plain_lowercase_string)(values, spec)
    return _plain_lowercase_string(values, spec)


def _plain_lowercase_string(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    return _unchecked(_where(text.given, text.value.str.to_lowercase()))


_SAMPLED_ROWS = 1000


def _few_valued(values: pl.Series) -> bool:
    """Whether a text column looks like a handful of values repeated (a protocol, a report's
    identifier), by its first rows; then `_by_distinct` lowercases each value once. Either
    way the result is the same: only the cost differs. (Not worth it for mere stripping.)"""
    return values.len() > _SAMPLED_ROWS and values.head(_SAMPLED_ROWS).n_unique() <= 100


def _chosen(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    spellings = {choice.lower(): choice for choice in spec.choices}
    return _checked(text.given, _lookup(text.value.str.to_lowercase(), spellings))


def _float(values: pl.Series, spec: Field) -> _Normalised:
    if values.dtype.is_numeric():
        given, number = values.is_not_null(), values.cast(pl.Float64)
    else:
        text = _text(values)
        given, number = text.given, text.value.cast(pl.Float64, strict=False)
    low = -np.inf if spec.minimum is None else spec.minimum
    high = np.inf if spec.maximum is None else spec.maximum
    return _checked(given, _where(number.is_finite() & number.is_between(low, high), number))


_WORDS = {"true": True, "t": True, "yes": True, "y": True, "1": True}
_WORDS |= {"false": False, "f": False, "no": False, "n": False, "0": False}


def _boolean(values: pl.Series, spec: Field) -> _Normalised:
    if values.dtype == pl.Boolean:
        return _unchecked(values)
    text = _text(values)
    flags = text.value.str.to_lowercase().replace_strict(
        _WORDS, default=None, return_dtype=pl.Boolean
    )
    return _checked(text.given, flags)


def _whole_numbers(values: pl.Series) -> tuple[pl.Series, pl.Series, _Text | None]:
    """Where a value was given, its Int64 (null where not a whole number), and the text."""
    if values.dtype.is_integer():
        return values.is_not_null(), values.cast(pl.Int64, strict=False), None
    text = _text(values)
    return text.given, text.value.cast(pl.Int64, strict=False), text


def _port(values: pl.Series, spec: Field) -> _Normalised:
    given, number, _ = _whole_numbers(values)
    return _checked(given, _where(number.is_between(0, 65535), number))


def _asn(values: pl.Series, spec: Field) -> _Normalised:
    given, number, text = _whole_numbers(values)
    # Most feeds write bare numbers; "AS64500" and "as 64500" are read on a second pass.
    prefixed = np.flatnonzero((given & number.is_null()).to_numpy())
    if text is not None and prefixed.size:
        number.scatter(prefixed, _strip_as(text.value.gather(prefixed)))
    return _checked(given, _where(number.is_between(1, 4_294_967_295), number))


def _strip_as(text: pl.Series) -> pl.Series:
    digits = text.str.extract(r"^[Aa][Ss]\s*([0-9]+)$")
    return digits.cast(pl.Int64, strict=False)


def _ip_address(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    parsed = parse_addresses(text.value)
    unspecified_v4 = parsed.is_v4 & (parsed.v4 == 0)
    unspecified_v6 = parsed.is_v6 & (parsed.hi == 0) & (parsed.lo == 0)
    valid = parsed.valid & ~unspecified_v4 & ~unspecified_v6
    # IPv4 text that passed the parser's pattern is already canonical (no leading zeros).
    canonical = _where(valid, text.value)
    v6_rows = np.flatnonzero(parsed.is_v6 & valid)
    if v6_rows.size:
        written = text.value.gather(v6_rows)
        # IPv6 is rare in feeds and repeats; ipaddress writes each distinct value once.
        spellings = {value: _compressed_v6(value) for value in written.unique().to_list()}
        canonical.scatter(v6_rows, written.replace_strict(spellings, return_dtype=pl.String))
    # The unspecified address is refused: later stages must not find it parsed.
    parsed.version[~valid] = 0
    return _Normalised(canonical, text.given & canonical.is_null(), parsed)


def _compressed_v6(text: str) -> str:
    # Through int() so a zone index ("fe80::1%eth0") is dropped, as IntelMQ does.
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(text))))


def _ip_network(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    parts = text.value.str.splitn("/", 2).struct.rename_fields(["address", "length"])
    address, written = parts.struct.field("address"), parts.struct.field("length")
    parsed = parse_addresses(address)
    width = np.where(parsed.is_v4, 32, 128)
    given_length = written.cast(pl.Int64, strict=False).fill_null(-1).to_numpy()
    length = np.where(written.is_not_null().to_numpy(), given_length, width)
    valid = parsed.is_v4 & (length >= 0) & (length <= width)
    shift = np.clip(32 - length, 0, 32).astype(np.uint64)
    mask = (np.uint64(0xFFFFFFFF) << shift) & np.uint64(0xFFFFFFFF)
    network = (parsed.v4.astype(np.uint64) & mask).astype(np.uint32)
    lengths = pl.Series(length).cast(pl.String)
    cidr = pl.select(pl.concat_str([format_v4(network), lengths], separator="/")).to_series()
    canonical = _where(valid, cidr)
    v6_rows = np.flatnonzero(parsed.is_v6)
    if v6_rows.size:
        v6_text = text.value.gather(v6_rows)
        spellings = {value: _v6_network(value) for value in v6_text.unique().to_list()}
        canonical.scatter(v6_rows, v6_text.replace_strict(spellings, return_dtype=pl.String))
    return _checked(text.given, canonical)


def _v6_network(text: str) -> str | None:
    try:
        return str(ipaddress.IPv6Network(text, strict=False))
    except ValueError:
        return None


# Labels of letters, digits, '-' and '_' (used in SRV/DMARC names), 1-63 long; the last
# one must hold a letter, so an IPv4 address is not taken for a name.
_FQDN = r"^([a-z0-9_-]{1,63}\.)*[a-z0-9_-]*[a-z][a-z0-9_-]*$"
_LABEL_TOO_LONG = r"[^.]{64}"


def _fqdn(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    name = text.value.str.to_lowercase()
    encoded = _idna_spellings(name)
    if encoded:
        name = name.replace(encoded)
    name = name.str.strip_suffix(".")
    length = name.str.len_bytes()
    valid = name.str.contains(_FQDN) & (length <= 253)
    longer = (length > 63).fill_null(False)
    if longer.any():  # only then can a label exceed 63 characters
        valid &= ~(longer & name.str.contains(_LABEL_TOO_LONG))
    return _checked(text.given, _where(valid, name))


def _idna_spellings(names: pl.Series) -> dict[str, str]:
    """IDNA (`xn--`) forms of the distinct non-ASCII names; few rows carry such names, so
    `idna` runs once per distinct value."""
    # A non-ASCII character takes more than one byte: cheaper to find than by a pattern.
    non_ascii = names.filter((names.str.len_bytes() != names.str.len_chars()).fill_null(False))
    spellings = {}
    for name in non_ascii.unique().to_list():
        try:
            spellings[name] = idna.encode(name.removesuffix("."), uts46=True).decode("ascii")
        except idna.IDNAError:
            spellings[name] = ""  # fails the name pattern, so the row is quarantined
    return spellings


_URL = (
    r"^([A-Za-z][A-Za-z0-9+.-]*)://"  # scheme
    r"([^@/?#\s]*@)?"  # user information
    r"(\[[0-9A-Fa-f:.]+\]|[^\[\]/?#:@\s]+)"  # host
    r"(:[0-9]{0,5})?"  # port
    r"([/?#]\S*)?$"  # path, query, fragment
)


def _url(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    parts = text.value.str.extract_groups(_URL).struct.unnest()
    scheme = parts["1"].str.to_lowercase().replace({"hxxp": "http", "hxxps": "https"})
    pieces = [scheme, pl.lit("://"), parts["2"], parts["3"].str.to_lowercase(), parts["4"]]
    url = pl.select(pl.concat_str([*pieces, parts["5"]], ignore_nulls=True)).to_series()
    return _checked(text.given, _where(scheme.is_not_null(), url))


def _datetime(values: pl.Series, spec: Field) -> _Normalised:
    dtype = values.dtype
    if isinstance(dtype, pl.Datetime):
        zoned = (
            values.dt.replace_time_zone(_UTC)
            if dtype.time_zone is None
            else values.dt.convert_time_zone(_UTC)
        )
        return _unchecked(zoned.dt.cast_time_unit("us"))
    if dtype == pl.Date:
        return _unchecked(values.cast(pl.Datetime("us")).dt.replace_time_zone(_UTC))
    if dtype.is_numeric():
        seconds = _where(values.is_between(0, _LATEST_EPOCH), values.cast(pl.Float64))
        micros = (seconds * 1_000_000).round().cast(pl.Int64)
        return _checked(values.is_not_null(), _utc_micros(micros))
    text = _text(values)
    # Most feeds write one of two formats (the second is what the parsers' `add_utc` writes);
    # parse those everywhere, the other formats only where both failed. The two never read
    # the same text, so which goes first changes only the cost: the one the first rows use.
    first, second = _plain_utc_times, _iso_utc_times
    sample = text.value.head(_SAMPLED_ROWS)
    if first(sample).null_count() > second(sample).null_count():
        first, second = second, first
    times = first(text.value)
    missed = np.flatnonzero((text.given & times.is_null()).to_numpy())
    if missed.size:
        times.scatter(missed, second(text.value.gather(missed)))
    others = np.flatnonzero((text.given & times.is_null()).to_numpy())
    if others.size:
        times.scatter(others, _parse_other_times(text.value.gather(others)))
    return _checked(text.given, times)


def _plain_utc_times(text: pl.Series) -> pl.Series:
    """`2026-11-20 03:14:15`, taken as UTC; else null."""
    return text.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", time_zone=_UTC, strict=False)


def _iso_utc_times(text: pl.Series) -> pl.Series:
    """`2026-11-20T03:14:15+00:00` (ISO 8601 with a numeric zone), as UTC; else null."""
    return text.str.to_datetime("%Y-%m-%dT%H:%M:%S%z", time_unit="us", time_zone=_UTC, strict=False)


_LATEST_EPOCH = 99_999_999_999
"""Epoch seconds have at most 11 digits (year 5138): a 13-digit millisecond timestamp is
refused instead of being read as a date 50,000 years ahead."""


def _utc_micros(micros: pl.Series) -> pl.Series:
    return pl.select(pl.lit(micros).cast(pl.Datetime("us")).dt.replace_time_zone(_UTC)).to_series()


_EPOCH_TEXT = r"^[0-9]{1,11}(\.[0-9]{1,6})?$"
_ISO_8601 = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})"  # date
    r"(?:[Tt ]([0-9]{2}:[0-9]{2})(:[0-9]{2}(?:[.,][0-9]{1,9})?)?)?"  # time, seconds optional
    r"\s*([Zz]|UTC|GMT|[+-][0-9]{2}(?::?[0-9]{2})?)?$"  # zone; none means UTC
)


def _parse_other_times(text: pl.Series) -> pl.Series:
    """ISO 8601 in its common shapes and epoch seconds, as UTC."""
    value = pl.col("t")
    whole = value.str.extract(r"^([0-9]+)").cast(pl.Int64, strict=False)
    fraction = value.str.extract(r"\.([0-9]+)$").str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    epoch = pl.when(value.str.contains(_EPOCH_TEXT)).then(
        (whole * 1_000_000 + fraction).cast(pl.Datetime("us")).dt.replace_time_zone(_UTC)
    )
    parts = value.str.extract_groups(_ISO_8601)
    zone = parts.struct.field("4")
    offset = (
        pl.when(zone.is_null() | zone.is_in(["Z", "z", "UTC", "GMT"]))
        .then(pl.lit("+00:00"))
        .when(zone.str.len_bytes() == 3)
        .then(zone + ":00")
        .when(zone.str.len_bytes() == 5)
        .then(zone.str.slice(0, 3) + ":" + zone.str.slice(3))
        .otherwise(zone)
    )
    iso = pl.concat_str(
        parts.struct.field("1"),
        pl.lit("T"),
        parts.struct.field("2").fill_null("00:00"),
        parts.struct.field("3").fill_null(":00").str.replace(",", ".", literal=True),
        offset,
    ).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", time_unit="us", time_zone=_UTC, strict=False)
    # These are the few rows the common format missed, so evaluating both shapes is cheap.
    return text.to_frame("t").select(pl.coalesce(epoch, iso)).to_series()


def _country_code(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    code = text.value.str.to_uppercase()
    known = code.is_in(sorted(country_codes()))
    # "ZZ" (unknown) becomes null like an empty value; anything else unlisted is an error.
    unknown = code.is_in(sorted(unknown_country_codes()))
    return _Normalised(_where(known, code), text.given & ~known & ~unknown)


def _taxonomy(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    spellings = _spellings(classification_taxonomies())
    return _checked(text.given, _lookup(text.value.str.to_lowercase(), spellings))


def _type(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    spellings = _spellings(classification_types()) | dict(classification_type_aliases())
    return _checked(text.given, _lookup(text.value.str.to_lowercase(), spellings))


def _spellings(names: Iterable[str]) -> dict[str, str]:
    # IntelMQ and older feeds write "malicious code" for "malicious-code".
    return {spelling: name for name in names for spelling in (name, name.replace("-", " "))}


def _hash(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    digest = text.value.str.to_lowercase()
    valid = digest.str.contains(f"^[0-9a-f]{{{spec.length}}}$")
    return _checked(text.given, _where(valid, digest))


def _tlp(values: pl.Series, spec: Field) -> _Normalised:
    text = _text(values)
    marking = text.value.str.to_lowercase().str.strip_prefix("tlp:").str.strip_chars()
    # TLP 1.0's WHITE is TLP 2.0's CLEAR.
    spellings = {level.value: level.value for level in TLP} | {"white": TLP.CLEAR.value}
    return _checked(text.given, _lookup(marking, spellings))


_NORMALISERS: dict[FieldType, _Normaliser] = {
    FieldType.STRING: _string,
    FieldType.LOWERCASE_STRING: _lowercase_string,
    FieldType.FLOAT: _float,
    FieldType.BOOLEAN: _by_distinct(_boolean),
    FieldType.PORT: _port,
    FieldType.ASN: _asn,
    FieldType.IP_ADDRESS: _ip_address,
    FieldType.IP_NETWORK: _ip_network,
    FieldType.FQDN: _fqdn,
    FieldType.URL: _url,
    FieldType.DATETIME: _datetime,
    FieldType.COUNTRY_CODE: _by_distinct(_country_code),
    FieldType.CLASSIFICATION_TAXONOMY: _by_distinct(_taxonomy),
    FieldType.CLASSIFICATION_TYPE: _by_distinct(_type),
    FieldType.HASH: _hash,
    FieldType.TLP: _by_distinct(_tlp),
}
