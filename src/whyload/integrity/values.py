"""`verify --deep`: NaN, infinities and all-zero matrices in the stored tensors, read with numpy
over mmap (no torch, nothing unpickled), in bounded slices.

safetensors: each tensor's span comes from the header. torch zip: each storage is one stored
member `<root>/data/<key>`; its dtype comes from the persistent id in data.pkl, walked as opcodes.
"""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whyload.integrity.zipspans import ZipLayout
from whyload.readers.pickle import Call, Global, Limits, Persistent, walk_pickle
from whyload.readers.safetensors import read_safetensors_header
from whyload.readers.torch import MAX_DATA_PKL, STORAGE_DTYPES

if TYPE_CHECKING:
    import numpy.typing as npt

SLICE_ELEMENTS = 1 << 24
FLOATS = {"F16": "float16", "F32": "float32", "F64": "float64"}  # numpy, imported when used
# integers and booleans hold no NaN or infinity: nothing to scan, nothing to report unscanned
NO_NAN = frozenset({"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64"})
BF16 = "BF16"  # numpy has no bfloat16: read as uint16 and test the bits


@dataclass(frozen=True)
class TensorValues:
    """One tensor (or torch storage) with something wrong in its values."""

    file: str
    names: tuple[str, ...]  # the tensors (several when tied weights share one storage)
    dtype: str
    shape: tuple[int, ...]
    nan: int = 0
    inf: int = 0
    all_zero: bool = False


@dataclass(frozen=True)
class ValueScan:
    file: str
    scanned: int = 0  # tensors or storages read
    bad: tuple[TensorValues, ...] = ()
    not_scanned: tuple[tuple[str, str], ...] = ()  # (tensor or file, why)


def scan_values(path: Path, name: str, kind: str, layout: ZipLayout | None) -> ValueScan:
    """Scan a safetensors file or a torch zip; never raises on bad bytes."""
    try:
        if kind == "safetensors":
            return _scan_safetensors(path, name)
        if kind == "torch-zip" and layout is not None and layout.error is None:
            return _scan_torch_zip(path, name, layout)
    except (OSError, ValueError, struct.error, zipfile.BadZipFile) as exc:
        return ValueScan(name, not_scanned=((name, f"unreadable: {exc}"),))
    why = ("a legacy (torch < 1.6) pickle: its storages are not laid out for mmap"
           if kind == "pickle" else f"{kind}: not scanned")
    return ValueScan(name, not_scanned=((name, why),))


def _scan_safetensors(path: Path, name: str) -> ValueScan:
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        header = read_safetensors_header(f, size)
        if header.error is not None or header.header_len is None:
            return ValueScan(name, not_scanned=((name, "the header is invalid"),))
        f.seek(8)
        raw = json.loads(f.read(header.header_len).decode("utf-8"))
    base = 8 + header.header_len
    bad: list[TensorValues] = []
    skipped: list[tuple[str, str]] = []
    scanned = 0
    for tensor, info in header.tensors.items():
        begin = int(raw[tensor]["data_offsets"][0])
        found = _scan_span(path, base + begin, info.dtype, info.numel)
        if found is None:
            if info.dtype not in NO_NAN:
                skipped.append((tensor, f"dtype {info.dtype}"))
            continue
        scanned += 1
        nan, inf, zero = found
        if nan or inf or (zero and len(info.shape) >= 2 and info.dtype in (*FLOATS, BF16)):
            bad.append(TensorValues(name, (tensor,), info.dtype, info.shape, nan, inf, zero))
    return ValueScan(name, scanned, tuple(bad), tuple(skipped))


def _scan_torch_zip(path: Path, name: str, layout: ZipLayout) -> ValueScan:
    with path.open("rb") as f, zipfile.ZipFile(f) as zf:
        pkl = [i for i in zf.infolist()
               if i.filename.endswith("/data.pkl") and i.filename.count("/") == 1]
        if not pkl or pkl[0].file_size > MAX_DATA_PKL:
            return ValueScan(name, not_scanned=((name, "no readable data.pkl"),))
        with zf.open(pkl[0]) as member:
            stream = walk_pickle(member, Limits(max_stream_bytes=MAX_DATA_PKL))
        root = pkl[0].filename.split("/", 1)[0]
    storages = storage_tensors(stream.value)
    spans = {s.name: s for s in layout.spans}
    bad: list[TensorValues] = []
    skipped: list[tuple[str, str]] = []
    scanned = 0
    for key, (dtype, names, shapes) in sorted(storages.items()):
        span = spans.get(f"{root}/data/{key}")
        label = ", ".join(names)
        if span is None:
            skipped.append((label, "its storage is missing or compressed"))
            continue
        bits = {"F16": 16, "BF16": 16, "F32": 32, "F64": 64}.get(dtype)
        found = _scan_span(path, span.start, dtype, span.size * 8 // bits) if bits else None
        if found is None:
            if dtype not in NO_NAN:
                skipped.append((label, f"dtype {dtype}"))
            continue
        scanned += 1
        nan, inf, zero = found
        matrix = any(len(s) >= 2 for s in shapes)
        if nan or inf or (zero and matrix):
            shape = max(shapes, key=len) if shapes else ()
            bad.append(TensorValues(name, tuple(names), dtype, shape, nan, inf, zero))
    return ValueScan(name, scanned, tuple(bad), tuple(skipped))


def storage_tensors(value: Any) -> dict[str, tuple[str, list[str], list[tuple[int, ...]]]]:
    """storage key -> (dtype, the tensor names that view it, their shapes), from a walked
    data.pkl: every `_rebuild_tensor*(Persistent(('storage', <type>, key, ...)), offset, size)`
    reachable through dicts, with the dict keys joined by dots as its name."""
    out: dict[str, tuple[str, list[str], list[tuple[int, ...]]]] = {}
    todo: list[tuple[str, Any, int]] = [("", value, 0)]
    visited = 0
    while todo and visited < 2_000_000:
        prefix, item, depth = todo.pop()
        visited += 1
        if depth > 64:
            continue
        if isinstance(item, Call) and isinstance(item.func, Global):
            dotted = item.func.dotted
            if dotted.startswith("torch._utils._rebuild_tensor") and len(item.args) >= 3:
                storage, size = item.args[0], item.args[2]
                pid = storage.pid if isinstance(storage, Persistent) else None
                if isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage":
                    dtype = STORAGE_DTYPES.get(pid[1].name, pid[1].name) if isinstance(
                        pid[1], Global) else "?"
                    entry = out.setdefault(str(pid[2]), (dtype, [], []))
                    entry[1].append(prefix or "<tensor>")
                    entry[2].append(tuple(s for s in size if isinstance(s, int))
                                    if isinstance(size, tuple) else ())
                continue
            todo.extend((prefix, a, depth + 1) for a in item.args)
            todo.extend((f"{prefix}.{k}" if prefix else str(k), v, depth + 1)
                        for k, v in item.items.items())
            if item.state is not None:
                todo.append((prefix, item.state, depth + 1))
        elif isinstance(item, dict):
            todo.extend((f"{prefix}.{k}" if prefix else str(k), v, depth + 1)
                        for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            todo.extend((prefix, v, depth + 1) for v in item)
    return out


def _scan_span(path: Path, start: int, dtype: str, count: int) -> tuple[int, int, bool] | None:
    """(NaN count, infinity count, all zero) of `count` elements of `dtype` at byte `start`;
    None when numpy cannot read the dtype."""
    import numpy as np

    if dtype == BF16:
        np_dtype = "uint16"
    elif dtype in FLOATS:
        np_dtype = FLOATS[dtype]
    else:
        return None
    if count <= 0:
        return 0, 0, False
    data = np.memmap(path, dtype=np_dtype, mode="r", offset=start, shape=(count,))
    nan = inf = 0
    all_zero = True
    for lo in range(0, count, SLICE_ELEMENTS):
        part = data[lo : lo + SLICE_ELEMENTS]
        n, i, z = _bf16_counts(part) if dtype == BF16 else _float_counts(part)
        nan += n
        inf += i
        all_zero = all_zero and z
    del data
    return nan, inf, all_zero


def _float_counts(part: npt.NDArray[Any]) -> tuple[int, int, bool]:
    import numpy as np

    if bool(np.isfinite(part).all()):
        return 0, 0, not part.any()
    return int(np.isnan(part).sum()), int(np.isinf(part).sum()), False


def _bf16_counts(part: npt.NDArray[Any]) -> tuple[int, int, bool]:
    exponent_full = (part & 0x7F80) == 0x7F80
    if not exponent_full.any():
        return 0, 0, not (part & 0x7FFF).any()
    mantissa = (part & 0x007F) != 0
    return int((exponent_full & mantissa).sum()), int((exponent_full & ~mantissa).sum()), False
