"""Bitcoin address checks: base58check (P2PKH, P2SH) and bech32/bech32m (segwit).

A typo in an address still looks like an address; only the checksum tells, and a wrong
address on a ransom note would correlate with nothing. The checks follow the specifications
(https://en.bitcoin.it/wiki/Base58Check_encoding, BIP 173, BIP 350); they are short enough
that a dependency would cost more than it saves.
"""

from __future__ import annotations

import hashlib

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: index for index, char in enumerate(_BASE58_ALPHABET)}
# Mainnet version bytes: 0x00 pay-to-pubkey-hash ("1..."), 0x05 pay-to-script-hash ("3...").
_MAINNET_VERSIONS = frozenset({0x00, 0x05})
_BASE58_PAYLOAD_BYTES = 25

_BECH32_ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {char: index for index, char in enumerate(_BECH32_ALPHABET)}
_BECH32_CONSTANT = 1
_BECH32M_CONSTANT = 0x2BC830A3
_BECH32_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_MAX_BECH32_LENGTH = 90
_MAINNET_HRP = "bc"


def canonical_bitcoin_address(raw: str) -> str:
    """The address, lower-cased if bech32; ValueError with the reason if it is not a valid one."""
    if raw[:3].lower() == "bc1":
        return _canonical_segwit(raw)
    if raw[:1] in ("1", "3"):
        _check_base58(raw)
        return raw
    raise ValueError(
        "a mainnet address starts with 1 or 3 (base58) or bc1 (bech32); testnet is not accepted"
    )


def _check_base58(raw: str) -> None:
    number = 0
    for char in raw:
        if char not in _BASE58_INDEX:
            raise ValueError(f"{char!r} is not a base58 character")
        number = number * 58 + _BASE58_INDEX[char]
    leading_zero_bytes = len(raw) - len(raw.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    payload = b"\x00" * leading_zero_bytes + body
    if len(payload) != _BASE58_PAYLOAD_BYTES:
        raise ValueError("a base58 address decodes to 25 bytes")
    data, checksum = payload[:-4], payload[-4:]
    if hashlib.sha256(hashlib.sha256(data).digest()).digest()[:4] != checksum:
        raise ValueError("the base58check checksum does not match (a typo?)")
    if data[0] not in _MAINNET_VERSIONS:
        raise ValueError(f"version byte {data[0]:#04x} is not a mainnet P2PKH or P2SH address")


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_BECH32_GENERATORS):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _canonical_segwit(raw: str) -> str:
    if raw != raw.lower() and raw != raw.upper():
        raise ValueError("a bech32 address may not mix upper and lower case")
    address = raw.lower()
    if len(address) > _MAX_BECH32_LENGTH:
        raise ValueError(f"a bech32 address has at most {_MAX_BECH32_LENGTH} characters")
    hrp, _, data_part = address.rpartition("1")
    if hrp != _MAINNET_HRP:
        raise ValueError("a mainnet segwit address starts with bc1")
    if any(char not in _BECH32_INDEX for char in data_part):
        raise ValueError("the data part has a character outside the bech32 alphabet")
    data = [_BECH32_INDEX[char] for char in data_part]
    if len(data) < 7:  # witness version + at least one value + six checksum values
        raise ValueError("the address is too short")
    constant = _polymod(_hrp_expand(hrp) + data)
    version = data[0]
    expected = _BECH32_CONSTANT if version == 0 else _BECH32M_CONSTANT
    if constant != expected:
        raise ValueError("the bech32 checksum does not match (a typo?)")
    _check_witness_program(version, data[1:-6])
    return address


def _check_witness_program(version: int, values: list[int]) -> None:
    """BIP 141 limits: version 0..16, program 2..40 bytes, exactly 20 or 32 for version 0."""
    if version > 16:
        raise ValueError(f"witness version {version} is above 16")
    program = _five_to_eight_bits(values)
    if not 2 <= len(program) <= 40:
        raise ValueError("the witness program must be 2 to 40 bytes")
    if version == 0 and len(program) not in (20, 32):
        raise ValueError("a version 0 witness program is 20 or 32 bytes")


def _five_to_eight_bits(values: list[int]) -> bytes:
    accumulator, bits, out = 0, 0, bytearray()
    for value in values:
        accumulator = ((accumulator << 5) | value) & 0xFFF  # 12 bits is all a step can hold
        bits += 5
        while bits >= 8:
            bits -= 8
            out.append((accumulator >> bits) & 0xFF)
    if bits >= 5 or (accumulator << (8 - bits)) & 0xFF:
        raise ValueError("the witness program has invalid padding")
    return bytes(out)
