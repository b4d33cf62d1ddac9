"""Address strings to numbers a column at a time, checked against `ipaddress`."""

from __future__ import annotations

import ipaddress

import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from entente.pipeline.addresses import format_v4, parse_addresses

_texts = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.text(alphabet="0123456789.:abcdef ", max_size=20),
    st.none(),
)


def _expected(text: str | None) -> tuple[int, int]:
    """(version, integer) as `ipaddress` reads the stripped text; (0, 0) if it refuses."""
    if text is None:
        return 0, 0
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return 0, 0
    return address.version, int(address)


@given(st.lists(_texts, max_size=40))
def test_every_row_parses_as_ipaddress_reads_it(texts: list[str | None]) -> None:
    parsed = parse_addresses(pl.Series(texts, dtype=pl.String))
    for row, text in enumerate(texts):
        version, number = _expected(text)
        assert parsed.version[row] == version, text
        if version == 4:
            assert int(parsed.v4[row]) == number
        if version == 6:
            assert (int(parsed.hi[row]) << 64) | int(parsed.lo[row]) == number


def test_leading_zeros_and_out_of_range_octets_are_refused() -> None:
    parsed = parse_addresses(pl.Series(["010.1.1.1", "1.2.3.256", "1.2.3", "1.2.3.4.5", ""]))
    assert parsed.version.tolist() == [0, 0, 0, 0, 0]


@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=50))
def test_format_v4_is_the_inverse_of_parsing(numbers: list[int]) -> None:
    values = np.array(numbers, dtype=np.uint32)
    text = format_v4(values)
    assert text.to_list() == [str(ipaddress.IPv4Address(n)) for n in numbers]
    assert parse_addresses(text).v4.tolist() == numbers


def test_select_keeps_rows_aligned() -> None:
    parsed = parse_addresses(pl.Series(["192.0.2.1", "x", "2001:db8::1"]))
    chosen = parsed.select(np.array([True, False, True]))
    assert chosen.version.tolist() == [4, 6]
    assert chosen.v4.tolist()[0] == int(ipaddress.IPv4Address("192.0.2.1"))
