"""The safetensors header, validated in the order the safetensors library validates it.

Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON (padded with spaces), then the
tensor bytes. `read_metadata` in the library's `tensor.rs` checks, in this order:

    HeaderTooSmall               fewer than 8 bytes
    HeaderTooLarge               N > 100,000,000
    InvalidHeaderLength          8 + N past the end of the file
    InvalidHeader                the header is not UTF-8
    InvalidHeaderDeserialization not JSON, or not a map of {dtype, shape, data_offsets}
    InvalidOffset                tensors (sorted by offset) are not contiguous from 0
    ValidationOverflow           shape x dtype size overflows
    TensorInvalidInfo            a tensor's span differs from shape x dtype size
    MetadataIncompleteBuffer     the last offset does not end exactly at the end of the file

Only the header is read (at most 100 MB, the library's own limit); tensor bytes never are.
"""

from __future__ import annotations

import enum
import json
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from whyload.readers.sniff import SAFETENSORS_HEADER_LIMIT
from whyload.readers.tensors import DTYPE_BITS, TensorInfo

SAFETENSORS_DTYPES = frozenset(DTYPE_BITS) - {"C128"}  # torch has complex128; safetensors not
USIZE_MAX = 2**64 - 1


class HeaderError(str, enum.Enum):
    """The library's own error names (what safetensors < 0.6 prints); `message` is what newer
    releases print after "Error while deserializing header: "."""

    TOO_SMALL = "HeaderTooSmall"
    TOO_LARGE = "HeaderTooLarge"
    INVALID_LENGTH = "InvalidHeaderLength"
    NOT_UTF8 = "InvalidHeader"
    NOT_DESERIALIZABLE = "InvalidHeaderDeserialization"
    INVALID_OFFSET = "InvalidOffset"
    OVERFLOW = "ValidationOverflow"
    MISALIGNED = "MisalignedSlice"
    INVALID_INFO = "TensorInvalidInfo"
    INCOMPLETE = "MetadataIncompleteBuffer"

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    HeaderError.TOO_SMALL: "header too small",
    HeaderError.TOO_LARGE: "header too large",
    HeaderError.INVALID_LENGTH: "invalid header length",
    HeaderError.NOT_UTF8: "invalid UTF-8 in header",
    HeaderError.NOT_DESERIALIZABLE: "invalid JSON in header",
    HeaderError.INVALID_OFFSET: "invalid offset for tensor",
    HeaderError.OVERFLOW: "overflow computing buffer size from shape and/or element type",
    HeaderError.MISALIGNED: "misaligned slice",
    HeaderError.INVALID_INFO: "invalid shape, data type, or offset for tensor",
    HeaderError.INCOMPLETE: "incomplete metadata, file not fully covered",
}


@dataclass(frozen=True)
class SafetensorsHeader:
    """What the header says, and the first thing wrong with it (None when the file is valid)."""

    file_size: int
    header_len: int | None = None
    error: HeaderError | None = None
    error_detail: str = ""
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    data_end: int | None = None  # where the header says the tensor bytes end (from file start)

    @property
    def expected_size(self) -> int | None:
        """The file size the header promises, when it can be computed."""
        return self.data_end

    @property
    def format(self) -> str | None:
        meta = self.metadata or {}
        value = meta.get("format")
        return value if isinstance(value, str) else None


def read_safetensors_header(f: BinaryIO, file_size: int) -> SafetensorsHeader:
    head = f.read(8)
    if len(head) < 8:
        return SafetensorsHeader(file_size, error=HeaderError.TOO_SMALL,
                                 error_detail=f"the file has {file_size} bytes, fewer than 8")
    (n,) = struct.unpack("<Q", head)
    if n > SAFETENSORS_HEADER_LIMIT:
        return SafetensorsHeader(
            file_size, header_len=n, error=HeaderError.TOO_LARGE,
            error_detail=f"the first 8 bytes claim a {n:,}-byte header; the limit is "
            f"{SAFETENSORS_HEADER_LIMIT:,}",
        )
    if 8 + n > file_size:
        return SafetensorsHeader(
            file_size, header_len=n, error=HeaderError.INVALID_LENGTH, data_end=None,
            error_detail=f"the header needs {8 + n:,} bytes but the file has {file_size:,}",
        )
    raw = f.read(n)
    if len(raw) < n:  # the file shrank while we read it
        return SafetensorsHeader(file_size, header_len=n, error=HeaderError.INVALID_LENGTH,
                                 error_detail=f"only {8 + len(raw):,} bytes could be read")
    return parse_header(raw, file_size)


def parse_header(raw: bytes, file_size: int) -> SafetensorsHeader:
    n = len(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return SafetensorsHeader(file_size, header_len=n, error=HeaderError.NOT_UTF8,
                                 error_detail=f"byte {exc.start + 8} is not UTF-8")
    try:
        doc = _serde_json(text)
    except (ValueError, RecursionError) as exc:
        return SafetensorsHeader(file_size, header_len=n, error=HeaderError.NOT_DESERIALIZABLE,
                                 error_detail=f"the header is not JSON: {exc}")
    parsed = _tensor_map(doc)
    if isinstance(parsed, str):
        return SafetensorsHeader(file_size, header_len=n, error=HeaderError.NOT_DESERIALIZABLE,
                                 error_detail=parsed)
    metadata, entries = parsed
    tensors = {name: TensorInfo(dtype=d, shape=s) for name, (d, s, _) in entries.items()}

    def fail(error: HeaderError, detail: str) -> SafetensorsHeader:
        return SafetensorsHeader(file_size, header_len=n, error=error, error_detail=detail,
                                 tensors=tensors, metadata=metadata)

    start = 0
    for name, (dtype, shape, (s, e)) in sorted(entries.items(), key=lambda kv: kv[1][2]):
        if s != start or e < s:
            return fail(HeaderError.INVALID_OFFSET,
                        f"tensor {name!r} spans [{s}, {e}) but the previous one ends at {start}")
        start = e
        # as the library: the element count, folded dimension by dimension, then times the
        # dtype's bits, must each fit a u64 (an overflow midway counts, even before a 0)
        elements = 1
        for dim in shape:
            elements *= dim
            if elements > USIZE_MAX:
                break
        nbits = elements * DTYPE_BITS[dtype]
        if elements > USIZE_MAX or nbits > USIZE_MAX:
            return fail(HeaderError.OVERFLOW, f"tensor {name!r}: shape {list(shape)} x {dtype} "
                        "overflows a 64-bit size")
        if nbits % 8:
            return fail(HeaderError.MISALIGNED,
                        f"tensor {name!r}: {list(shape)} x {dtype} is not a whole number of bytes")
        if e - s != nbits // 8:
            return fail(HeaderError.INVALID_INFO,
                        f"tensor {name!r} spans {e - s:,} bytes but {list(shape)} x {dtype} "
                        f"needs {nbits // 8:,}")
    data_end = 8 + n + start
    header = SafetensorsHeader(file_size, header_len=n, tensors=tensors, metadata=metadata,
                               data_end=data_end)
    if data_end != file_size:
        missing = data_end - file_size
        detail = (f"the header promises {data_end:,} bytes but the file has {file_size:,} "
                  f"({missing:,} missing)" if missing > 0 else
                  f"the file has {-missing:,} byte{'s' if missing < -1 else ''} after the last "
                  "tensor "
                  f"(the header accounts for {data_end:,})")
        return SafetensorsHeader(file_size, header_len=n, error=HeaderError.INCOMPLETE,
                                 error_detail=detail, tensors=tensors, metadata=metadata,
                                 data_end=data_end)
    return header


Entry = tuple[str, tuple[int, ...], tuple[int, int]]
SERDE_DEPTH = 127  # serde_json's recursion limit: 128 levels of [ and { fail
STRUCT_FIELDS = frozenset({"dtype", "shape", "data_offsets"})
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Object(dict[str, Any]):
    """A JSON object, with the keys it sets more than once (json keeps the last silently) and
    the values the last one replaced: serde validates every one of them as it reads."""

    repeated: frozenset[str] = frozenset()
    shadowed: tuple[tuple[str, Any], ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        keys = [k for k, _ in pairs]
        obj.repeated = frozenset(k for k in obj if keys.count(k) > 1)
        last = {k: i for i, (k, _) in enumerate(pairs)}
        obj.shadowed = tuple(kv for i, kv in enumerate(pairs) if last[kv[0]] != i)
    return obj


def _int(text: str) -> int | float:
    """serde reads `-0` as a float, which no usize field takes; Python reads it as 0."""
    return -0.0 if text.lstrip("-").strip("0") == "" and text.startswith("-") else int(text)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON (Python's json reads it; the library does not)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _serde_json(text: str) -> Any:
    """The header as the library's serde_json reads it, which is stricter than Python's json:
    no NaN or Infinity, no number past a double, no lone surrogate (a `\\ud800` escape), at
    most 127 levels of nesting, and no field of the header's structs set twice (`__metadata__`,
    or a tensor's dtype, shape, data_offsets; tensor names may repeat: the last wins in both)."""
    doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite, parse_int=_int,
                     object_pairs_hook=_object)
    todo: list[tuple[Any, int]] = [(doc, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (dict, list)) and depth > SERDE_DEPTH:
            raise ValueError(f"recursion limit exceeded: more than {SERDE_DEPTH} levels")
        if isinstance(value, str) and _SURROGATE.search(value):
            raise ValueError("lone surrogate in a \\u escape")
        if isinstance(value, dict):
            if _SURROGATE.search("".join(value)):
                raise ValueError("lone surrogate in a \\u escape")
            todo.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            todo.extend((v, depth + 1) for v in value)
    if isinstance(doc, _Object) and "__metadata__" in doc.repeated:
        raise ValueError("duplicate field `__metadata__`")
    return doc


def _tensor_map(doc: object) -> tuple[dict[str, Any] | None, dict[str, Entry]] | str:
    """The shape serde requires: {name: {dtype, shape, data_offsets}}, `__metadata__` of strings."""
    if not isinstance(doc, dict):
        return f"the header is a JSON {type(doc).__name__}, not an object"
    metadata: dict[str, Any] | None = None
    entries: dict[str, Entry] = {}
    for name, info in getattr(doc, "shadowed", ()):  # a tensor named twice: both must be valid
        problem = _tensor_map({name: info})
        if isinstance(problem, str):
            return problem
    for name, info in doc.items():
        if name == "__metadata__":
            if info is not None and not (
                isinstance(info, dict) and all(isinstance(v, str) for v in info.values())
            ):
                return "__metadata__ must map strings to strings"
            metadata = info
            continue
        if not isinstance(info, dict):
            return f"entry {name!r} is not an object"
        twice = STRUCT_FIELDS & getattr(info, "repeated", frozenset())
        if twice:
            return f"tensor {name!r} sets `{min(twice)}` twice"
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPES:  # [] is unhashable
            return f"tensor {name!r} has unknown dtype {dtype!r}"
        if type(shape) is not list or not _all_usize(shape):
            return f"tensor {name!r} has an invalid shape {shape!r}"
        if type(offsets) is not list or len(offsets) != 2 or not _all_usize(offsets):
            return f"tensor {name!r} has invalid data_offsets {offsets!r}"
        entries[name] = (dtype, tuple(shape), (offsets[0], offsets[1]))
    return metadata, entries


def _all_usize(values: list[object]) -> bool:
    """Every value a JSON integer in 0..2**64-1 (what serde accepts for usize)."""
    return all(type(v) is int and 0 <= v <= USIZE_MAX for v in values)
