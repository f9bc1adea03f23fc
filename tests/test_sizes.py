"""Sizes as people write them: K/M/G/T and KiB..TiB are powers of 1024 (docker, ulimit), KB..TB
powers of 1000 (transformers' max_shard_size), a bare number is bytes."""

from __future__ import annotations

import pytest

from whyload.sizes import format_size, parse_size


@pytest.mark.parametrize(("text", "size"), [
    ("2G", 2 * 1024**3), ("2g", 2 * 1024**3), ("512M", 512 * 1024**2), ("1K", 1024),
    ("1T", 1024**4), ("1.5GiB", 3 * 1024**3 // 2), ("64MiB", 64 * 1024**2), ("1KiB", 1024),
    ("1TiB", 1024**4), (" 2 G ", 2 * 1024**3), ("0.5K", 512),
])
def test_binary_units_are_powers_of_1024(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "size"), [
    ("5GB", 5 * 10**9), ("500MB", 500 * 10**6), ("30KB", 30_000), ("1TB", 10**12),
    ("1.1GB", 1_100_000_000), ("5gB", 5 * 10**9),
])
def test_decimal_units_are_powers_of_1000(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "size"), [("4096", 4096), ("4096B", 4096), ("1", 1),
                                            ("99999999T", 99999999 * 1024**4)])
def test_a_bare_number_is_bytes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "message"), [
    ("", "is not a size"), ("lots", "is not a size"), ("1e3", "is not a size"),
    ("inf", "is not a size"), ("nan", "is not a size"), ("1.5.5", "is not a size"),
    ("G", "is not a size"), ("2X", "unknown unit 'X'"), ("2KG", "unknown unit 'KG'"),
    ("-5G", "must be positive"), ("-1", "must be positive"), ("0", "at least one byte"),
    ("0G", "at least one byte"), ("0.1", "at least one byte"),
    ("5Gb", "write 5GB for bytes"), ("1.5Mib", "write 1.5MiB for bytes"),
    ("9" * 31, "is not a size"),
])
def test_anything_else_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_size(text)
    assert repr(text) in str(raised.value) and "5GB" in str(raised.value)


@pytest.mark.parametrize(("size", "text"), [(0, "0 B"), (100, "100 B"), (1536, "1.5 KiB"),
                                            (64 << 20, "64 MiB"), (2 * 1024**3, "2 GiB"),
                                            (5 * 10**9, "4.7 GiB"), (2**50, "1024 TiB")])
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize("text", ["2G", "1.5GiB", "64MiB", "3T", "1KiB"])
def test_format_reads_back(text: str) -> None:
    assert parse_size(format_size(parse_size(text)).replace(" ", "")) == parse_size(text)
