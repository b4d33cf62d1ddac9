"""Names, URLs and file hashes of a batch matched against indicators by canonical text.

- A `domain` indicator matches the row's name and every name below it: `evil.example`
  matches `evil.example` and `a.b.evil.example`, never `notevil.example`. Whoever controls a
  domain controls every name under it, which is how DNS block lists read a domain too.
- A `hostname` indicator names one host, so it matches that exact name only.
- A `url` indicator matches a URL whose canonical form (`sharing.indicators.canonicalise`,
  the same function that stored the indicator) is equal to it.
- `md5`, `sha1` and `sha256` indicators match their own hash field, case-insensitively.

Work is done on DISTINCT values and joined back to the rows. Two steps run in Python, over
distinct values only, because their rules (IDNA, RFC 3986 normalisation) have no vectorised
form: non-ASCII names, and the URLs a vectorised prefilter cannot rule out (see `url_pairs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from entente.core.errors import AppError
from entente.pipeline.matching.networks import EVENT, INDICATOR, PAIR_SCHEMA, ROW, empty_pairs
from entente.sharing.indicators import IndicatorType, canonicalise
from entente.sharing.indicators.canonical import MAX_LENGTHS

KEY = "key"
"""A canonical indicator value, the join key of every value table."""
VALUE = "value"
"""A row's value as normalised for matching."""
VALUE_TABLE_SCHEMA = {KEY: pl.String, INDICATOR: pl.Int64, EVENT: pl.Int64}

# The authority of an absolute URL, as `sharing.indicators.network.canonical_url` splits it:
# the host follows the last "@" and ends at the first ":".
_AUTHORITY = r"^[A-Za-z][A-Za-z0-9+.\-]*://([^/?#]*)"
# What makes the prefilter unsure, so the URL goes to `canonicalise` whatever its host:
# anything but printable ASCII (whitespace, IDN), brackets (defanging, IPv6 hosts) and the
# defanged schemes `refang` rewrites.
_UNSURE_CHARACTERS = r"[^\x21-\x7E]|[\[\(\{]"
_DEFANGED_SCHEME = r"(?:hxxp|h\*\*p|fxp)s?:"
_UNRESERVED = r"A-Za-z0-9\-._~"
_PATH_CHARACTERS = rf"[{_UNRESERVED}!$&'*+,;=:@/]"
_QUERY_CHARACTERS = rf"[{_UNRESERVED}!$&'*+,;=:@/?]"
CANONICAL_URL = (
    r"^[a-z][a-z0-9+.\-]*://"  # lower-case scheme
    r"[a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*"  # lower-case host, no root dot, no user, no port
    rf"/{_PATH_CHARACTERS}*"  # a path, with nothing to escape or unescape
    rf"(?:\?{_QUERY_CHARACTERS}+)?(?:#{_QUERY_CHARACTERS}+)?$"  # no empty "?" or "#"
)
"""URLs `canonicalise` leaves unchanged when it accepts them (a property test checks it),
so they are compared as they are, provided they are no longer than it accepts and carry no
defanged scheme (`hxxp:`) for `refang` to rewrite."""
# The last two labels of a name, with any root dot and spaces after them. Every domain and
# hostname indicator has at least two labels, so a name equal to or below one ends in its
# last two. (The whole match, not a group: an end-anchored search without captures is the
# regex engine's fast reverse scan.)
_TAIL = r"[^.\s]+\.[^.\s]+\.?\s*$"
_NON_ASCII = r"[^\x00-\x7F]"


@dataclass(frozen=True, slots=True)
class NameTable:
    """Domain and hostname indicators, with the last two labels of each for a prefilter."""

    domains: pl.DataFrame  # VALUE_TABLE_SCHEMA
    hostnames: pl.DataFrame
    tails: pl.Series  # a name whose last two labels are none of these matches nothing

    @classmethod
    def build(cls, domains: pl.DataFrame, hostnames: pl.DataFrame) -> NameTable:
        names = pl.DataFrame({KEY: pl.concat([domains[KEY], hostnames[KEY]])})
        tails = names.select(_tail(pl.col(KEY))).get_column(KEY)
        return cls(domains=domains, hostnames=hostnames, tails=tails.drop_nulls().unique())

    def pairs(self, names: pl.Series) -> pl.DataFrame:
        """(row, indicator, event) for the domains at or above each row's name and the
        hostnames equal to it. Names compare lower-case, without the root dot, IDNs as
        A-labels."""
        if self.tails.is_empty():
            return empty_pairs()
        rows = self._may_match(_present(names)).with_columns(
            pl.col(VALUE).str.strip_chars().str.to_lowercase().str.strip_suffix(".")
        )
        own = _a_labels(rows.get_column(VALUE).unique())
        candidates = [own]
        level = own
        while not level.is_empty():  # one round per label of the longest name, not per row
            level = level.with_columns(pl.col(KEY).str.replace(r"^[^.]*\.", "")).filter(
                pl.col(KEY).str.contains(".", literal=True)
            )
            candidates.append(level)
        hits = pl.concat(
            [own.join(self.hostnames, on=KEY), pl.concat(candidates).join(self.domains, on=KEY)]
        )
        return _back_to_rows(rows, hits.select(VALUE, INDICATOR, EVENT))

    def _may_match(self, rows: pl.DataFrame) -> pl.DataFrame:
        """The rows whose name ends in a known tail, or that IDNA could still change."""
        with_tail = rows.with_columns(_tail(pl.col(VALUE)))
        tail = pl.col(KEY)
        known = with_tail.filter(tail.is_in(self.tails.implode()) | tail.str.contains(_NON_ASCII))
        # A name with no ASCII dot may still have two labels: IDNA reads U+3002 as a dot.
        tailless = with_tail.filter(tail.is_null())
        tailless = tailless.filter(pl.col(VALUE).str.contains(_NON_ASCII))
        return pl.concat([known, tailless]).drop(KEY)


@dataclass(frozen=True, slots=True)
class UrlTable:
    """URL indicators, with their hosts for a prefilter."""

    urls: pl.DataFrame  # VALUE_TABLE_SCHEMA
    hosts: pl.Series

    @classmethod
    def build(cls, urls: pl.DataFrame) -> UrlTable:
        hosts = urls.select(url_host(pl.col(KEY))).get_column(KEY)
        return cls(urls=urls, hosts=hosts.drop_nulls().unique())

    def pairs(self, values: pl.Series) -> pl.DataFrame:
        """(row, indicator, event) for URL indicators equal to each row's URL once canonical.

        Canonicalising costs about 12 us a URL, so two vectorised steps spare most of it:
        a URL already in canonical form (`CANONICAL_URL`, the common case in feeds) is
        compared as it is; of the others, those whose host is the host of no URL indicator
        are dropped, when the canonical host can be predicted exactly (printable ASCII,
        nothing `refang` would rewrite, no IPv6 literal: the host lower-cased without its
        root dot). Only the rest are canonicalised, once per distinct URL.
        """
        if self.urls.is_empty():
            return empty_pairs()
        rows = _present(values).with_columns(pl.col(VALUE).str.strip_chars())
        url = pl.col(VALUE)
        canonical = (
            url.str.contains(CANONICAL_URL)
            & (url.str.len_bytes() <= MAX_LENGTHS[IndicatorType.URL])
            & ~url.str.to_lowercase().str.contains(_DEFANGED_SCHEME)
        )
        looks_canonical = rows.select(canonical.fill_null(False)).to_series()
        as_is = rows.filter(looks_canonical).join(self.urls, left_on=VALUE, right_on=KEY)
        others = rows.filter(~looks_canonical)
        return pl.concat([as_is.select(list(PAIR_SCHEMA)), self._canonicalised(others)])

    def _canonicalised(self, rows: pl.DataFrame) -> pl.DataFrame:
        distinct = pl.DataFrame({VALUE: rows.get_column(VALUE).unique()})
        unsure = pl.col(VALUE).str.contains(_UNSURE_CHARACTERS) | pl.col(
            VALUE
        ).str.to_lowercase().str.contains(_DEFANGED_SCHEME)
        known_host = url_host(pl.col(VALUE)).is_in(self.hosts.implode()).fill_null(False)
        maybe = distinct.filter(unsure | known_host).get_column(VALUE)
        # A loop over the distinct URLs left: RFC 3986 normalisation is per value.
        canonical = [_canonical(IndicatorType.URL, url) for url in maybe]
        keys = pl.DataFrame({VALUE: maybe, KEY: pl.Series(canonical, dtype=pl.String)})
        hits = keys.join(self.urls, on=KEY).select(VALUE, INDICATOR, EVENT)
        return _back_to_rows(rows, hits)


def exact_pairs(values: pl.Series, table: pl.DataFrame) -> pl.DataFrame:
    """(row, indicator, event) for indicators equal to each row's hex hash, in any case."""
    if table.is_empty():
        return empty_pairs()
    rows = _present(values).with_columns(pl.col(VALUE).str.strip_chars().str.to_lowercase())
    return rows.join(table, left_on=VALUE, right_on=KEY).select(list(PAIR_SCHEMA))


def url_host(url: pl.Expr) -> pl.Expr:
    """The host of an absolute URL, lower-case without its root dot (null: no authority)."""
    authority = url.str.extract(_AUTHORITY, 1)
    host = authority.str.replace(r"^.*@", "").str.extract(r"^([^:]*)", 1)
    return host.str.to_lowercase().str.strip_suffix(".").alias(KEY)


def _tail(name: pl.Expr) -> pl.Expr:
    """The last two labels of a name, lower-case (null: fewer than two)."""
    tail = name.str.extract(_TAIL, 0).str.strip_chars().str.strip_suffix(".")
    return tail.str.to_lowercase().alias(KEY)


def _present(values: pl.Series) -> pl.DataFrame:
    """(row, value) of the rows with a value."""
    frame = pl.DataFrame({VALUE: values.cast(pl.String)}).with_row_index(ROW)
    return frame.filter(pl.col(VALUE).is_not_null())


def _a_labels(names: pl.Series) -> pl.DataFrame:
    """(value, key): each distinct name and its canonical form (IDNs through IDNA)."""
    frame = pl.DataFrame({VALUE: names})
    non_ascii = frame.get_column(VALUE).str.contains(_NON_ASCII)
    if not non_ascii.any():
        return frame.with_columns(pl.col(VALUE).alias(KEY))
    # A loop over distinct non-ASCII names only: IDNA (UTS 46) has no vectorised form.
    unusual = frame.filter(non_ascii).get_column(VALUE)
    canonical = [_canonical(IndicatorType.DOMAIN, name) for name in unusual]
    encoded = pl.DataFrame({VALUE: unusual, KEY: pl.Series(canonical, dtype=pl.String)})
    plain = frame.filter(~non_ascii).with_columns(pl.col(VALUE).alias(KEY))
    return pl.concat([plain, encoded.drop_nulls(KEY)])


def _canonical(indicator_type: IndicatorType, value: str) -> str | None:
    """The canonical form, or None when the value is not a valid one (it then matches nothing)."""
    try:
        return canonicalise(indicator_type, value)
    except AppError:
        return None


def _back_to_rows(rows: pl.DataFrame, hits: pl.DataFrame) -> pl.DataFrame:
    return rows.join(hits, on=VALUE).select(list(PAIR_SCHEMA))
