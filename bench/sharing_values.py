"""Synthetic indicator values for the sharing benchmark, in the proportions feeds carry them.

Addresses cluster the way real ones do: most come from a few hundred "hosting" /16 blocks,
so the networks members share (also mostly inside those blocks) contain some of them and
correlation by CIDR containment has real work. Every value goes through the application's
own `canonicalise`, so what the benchmark loads is what the API would have stored.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable

import numpy as np

from entente.sharing.indicators import IndicatorType, canonicalise

# Share of each type among shared indicators: addresses first, then names, URLs and hashes.
TYPE_SHARES: dict[IndicatorType, float] = {
    IndicatorType.IPV4: 0.40,
    IndicatorType.DOMAIN: 0.14,
    IndicatorType.URL: 0.12,
    IndicatorType.SHA256: 0.10,
    IndicatorType.MD5: 0.07,
    IndicatorType.HOSTNAME: 0.04,
    IndicatorType.SHA1: 0.03,
    IndicatorType.IPV6: 0.03,
    IndicatorType.EMAIL_SRC: 0.02,
    IndicatorType.CIDR: 0.01,
    IndicatorType.FILENAME: 0.01,
    IndicatorType.CVE: 0.01,
    IndicatorType.JA3: 0.01,
    IndicatorType.ASN: 0.01,
}
TYPES = list(TYPE_SHARES)
TYPE_WEIGHTS = np.array([TYPE_SHARES[t] for t in TYPES]) / sum(TYPE_SHARES.values())

HOT_BLOCKS = 300  # /16 blocks where most shared addresses live
HOT_SHARE = 0.6
# IPv4 prefix lengths of shared networks: mostly /24 and smaller, a few wide allocations.
CIDR_PREFIXES = np.array([8, 10, 12, 14, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29])
CIDR_WEIGHTS = np.array([2, 2, 3, 3, 40, 15, 15, 15, 25, 25, 30, 40, 450, 60, 60, 50, 40, 40])

_WORDS = [
    "secure",
    "login",
    "update",
    "cdn",
    "mail",
    "portal",
    "account",
    "verify",
    "cloud",
    "pay",
    "bank",
    "service",
    "support",
    "auth",
    "data",
    "sync",
    "office",
    "docs",
    "invoice",
    "track",
    "parcel",
    "wallet",
    "crypto",
    "share",
    "drive",
    "meet",
    "vpn",
]
_TLDS = [
    "com",
    "net",
    "org",
    "info",
    "top",
    "xyz",
    "ru",
    "cn",
    "br",
    "io",
    "biz",
    "online",
    "site",
    "co",
    "shop",
]
_PATHS = [
    "wp-content/plugins",
    "wp-admin",
    "bins",
    "gate",
    "panel",
    "api/v2",
    "download",
    "images",
    "admin",
    "js",
]
_EXTENSIONS = ["exe", "dll", "js", "vbs", "hta", "ps1", "lnk", "zip", "iso", "docm"]


class ValueMaker:
    """Fresh canonical values of any type; unique except where real values collide too."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        first = rng.integers(11, 224, HOT_BLOCKS, dtype=np.uint64)
        second = rng.integers(0, 256, HOT_BLOCKS, dtype=np.uint64)
        self.hot_blocks = (first << np.uint64(24)) | (second << np.uint64(16))
        self.serial = itertools.count(1)
        self._makers: dict[IndicatorType, Callable[[int], list[str]]] = {
            IndicatorType.IPV4: self.ipv4,
            IndicatorType.IPV6: self.ipv6,
            IndicatorType.CIDR: self.cidr,
            IndicatorType.DOMAIN: lambda n: [self._domain() for _ in range(n)],
            IndicatorType.HOSTNAME: lambda n: [self._hostname() for _ in range(n)],
            IndicatorType.URL: lambda n: [self._url() for _ in range(n)],
            IndicatorType.EMAIL_SRC: lambda n: [self._email() for _ in range(n)],
            IndicatorType.SHA256: lambda n: self._hex(n, 32),
            IndicatorType.SHA1: lambda n: self._hex(n, 20),
            IndicatorType.MD5: lambda n: self._hex(n, 16),
            IndicatorType.JA3: lambda n: self._hex(n, 16),
            IndicatorType.FILENAME: lambda n: [self._filename() for _ in range(n)],
            IndicatorType.CVE: self.cve,
            IndicatorType.ASN: lambda n: [f"AS{a}" for a in self.rng.integers(1000, 400_000, n)],
        }

    def make(self, kind: IndicatorType, count: int) -> list[str]:
        """`count` canonical values of `kind`."""
        return [canonicalise(kind, raw) for raw in self._makers[kind](count)]

    def addresses(self, count: int) -> np.ndarray:
        """IPv4 addresses as integers: most inside the hot blocks, the rest anywhere public."""
        hot = self.rng.random(count) < HOT_SHARE
        in_block = self.hot_blocks[self.rng.integers(0, HOT_BLOCKS, count)] | self.rng.integers(
            0, 65_536, count, dtype=np.uint64
        )
        anywhere = self.rng.integers(0x0B00_0000, 0xDF00_0000, count, dtype=np.uint64)
        return np.where(hot, in_block, anywhere)

    def ipv4(self, count: int) -> list[str]:
        return [_dotted(int(a)) for a in self.addresses(count)]

    def ipv6(self, count: int) -> list[str]:
        high = self.rng.integers(0, 2**63, count, dtype=np.uint64)
        low = self.rng.integers(0, 2**63, count, dtype=np.uint64)
        # A few /32 allocations (2a0b:xxxx::/32), random below.
        site = self.rng.integers(0, 64, count)
        return [
            str(
                ipaddress.IPv6Address((0x2A0B_0000 + int(s)) << 96 | (int(h) >> 32) << 64 | int(lo))
            )
            for s, h, lo in zip(site, high, low, strict=True)
        ]

    def cidr(self, count: int) -> list[str]:
        """Networks: nine in ten IPv4 (prefix lengths as `CIDR_WEIGHTS`), the rest IPv6."""
        prefixes = self.rng.choice(CIDR_PREFIXES, count, p=CIDR_WEIGHTS / CIDR_WEIGHTS.sum())
        bases = self.addresses(count)
        v6 = self.rng.random(count) < 0.1
        v6_prefixes = self.rng.choice([32, 40, 48, 56, 64], count)
        v6_bases = self.ipv6(count)
        return [
            f"{v6_base}/{v6_prefix}" if is_v6 else f"{_dotted(int(base))}/{prefix}"
            for is_v6, v6_base, v6_prefix, base, prefix in zip(
                v6, v6_bases, v6_prefixes, bases, prefixes, strict=True
            )
        ]

    def cve(self, count: int) -> list[str]:
        years = self.rng.integers(2014, 2027, count)
        numbers = self.rng.integers(1000, 50_000, count)
        return [f"CVE-{y}-{n}" for y, n in zip(years, numbers, strict=True)]

    def _word(self) -> str:
        return _WORDS[int(self.rng.integers(0, len(_WORDS)))]

    def _domain(self) -> str:
        tld = _TLDS[int(self.rng.integers(0, len(_TLDS)))]
        return f"{self._word()}-{self._word()}{next(self.serial)}.{tld}"

    def _hostname(self) -> str:
        return f"{self._word()}.{self._domain()}"

    def _url(self) -> str:
        path = _PATHS[int(self.rng.integers(0, len(_PATHS)))]
        if self.rng.random() < 0.3:
            host = _dotted(int(self.addresses(1)[0]))
            return f"http://{host}:8080/{path}/{next(self.serial)}"
        return f"https://{self._hostname()}/{path}/{self._word()}.php?id={next(self.serial)}"

    def _email(self) -> str:
        return f"{self._word()}.{self._word()}{next(self.serial)}@{self._domain()}"

    def _filename(self) -> str:
        extension = _EXTENSIONS[int(self.rng.integers(0, len(_EXTENSIONS)))]
        return f"{self._word()}_{next(self.serial)}.{extension}"

    def _hex(self, count: int, size: int) -> list[str]:
        raw = self.rng.bytes(count * size).hex()
        width = size * 2
        return [raw[i * width : (i + 1) * width] for i in range(count)]


def _dotted(address: int) -> str:
    return f"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}"
