"""Sizes written by people: '2G', '512MiB', '5GB', '1000'.

The two families of units are both in use, so each is read as its own world reads it:
K, M, G, T and KiB, MiB, GiB, TiB are powers of 1024 (docker --memory and ulimit read `2G` so);
KB, MB, GB, TB are powers of 1000 (transformers reads `max_shard_size="5GB"` so). A bare number
is bytes, and so is a number with B.
"""

from __future__ import annotations

import re

UNITS: dict[str, int] = {
    "": 1, "B": 1,
    "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4,
    "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4,
    "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
}
# at most 30 digits on either side of the point: enough for any size, and never a giant int
_SIZE = re.compile(r"\s*(?P<number>\d{1,30}(?:\.\d{1,30})?)\s*(?P<unit>[A-Za-z]{0,3})\s*")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_EXAMPLE = "e.g. 2G or 2GiB = 2 x 1024^3 bytes, 5GB = 5 x 10^9 bytes, 4096 = bytes"


def parse_size(text: str) -> int:
    """'2G' -> 2 * 1024**3, '5GB' -> 5 * 10**9, '1.5GiB', '4096' -> bytes. Raises ValueError
    (which names the text and gives an example) for anything else, and for sizes that are not
    at least one byte."""
    if text.strip().startswith("-"):
        raise ValueError(f"{text!r}: a size must be positive; {_EXAMPLE}")
    match = _SIZE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a size; {_EXAMPLE}")
    number, unit = match["number"], match["unit"]
    if unit.endswith("b"):  # transformers reads "5Gb" as gigabits: say so rather than guess
        upper = unit.upper()
        in_bytes = upper[0] + ("iB" if upper.endswith("IB") else "B")
        raise ValueError(f"{text!r}: a lowercase b means bits; write {number}{in_bytes} for "
                         f"bytes; {_EXAMPLE}")
    scale = UNITS.get(unit.upper())
    if scale is None:
        raise ValueError(f"{text!r} is not a size: unknown unit {unit!r}; {_EXAMPLE}")
    whole, _, fraction = number.partition(".")
    # exact integer arithmetic: 1.1 GB is 1_100_000_000 bytes, not what a float makes of it
    size: int = int(whole) * scale + int(fraction or 0) * scale // 10 ** len(fraction)
    if size < 1:
        raise ValueError(f"{text!r}: a size must be at least one byte; {_EXAMPLE}")
    return size


def format_size(size: int) -> str:
    """Bytes in the largest binary unit that keeps a number of at least 1: 67108864 -> '64 MiB',
    1536 -> '1.5 KiB', 100 -> '100 B'."""
    value = float(size)
    for unit in _BINARY_UNITS:
        if abs(value) < 1024 or unit == _BINARY_UNITS[-1]:
            break
        value /= 1024
    if unit == "B":
        return f"{size} B"
    return f"{value:.1f} {unit}".replace(".0 ", " ")
