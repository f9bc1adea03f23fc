"""torch checkpoints (`.bin`, `.pt`, `.pth`, `.ckpt`), read without torch and without unpickling.

Two layouts exist:

    zip (torch >= 1.6)                      legacy (torch < 1.6)
    <root>/data.pkl      the object graph    pickle: magic number 0x1950a86a20f9469cfc6c
    <root>/version       "3"                 pickle: protocol version 1001
    <root>/byteorder     "little"            pickle: sys_info
    <root>/data/<key>    one storage each    pickle: the object graph
    <root>/.data/serialization_id            pickle: storage keys, then the raw storages
    end of central directory (PK\\x05\\x06) in the last 65,557 bytes

In both, each tensor is a call to `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
...)` whose storage is a persistent id `('storage', torch.FloatStorage, key, location, numel)`.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from whyload.readers.pickle import (
    Call,
    CallSite,
    Global,
    Limits,
    Persistent,
    PickleStream,
    Unknown,
    walk_pickle,
)
from whyload.readers.tensors import DTYPE_BITS, TensorInfo

EOCD_SEARCH = 65_557  # 22-byte record + the longest zip comment
MAX_CENTRAL_DIRECTORY = 64 << 20
MAX_DATA_PKL = 64 << 20  # a 70B model's shard has a data.pkl of ~1 MB
MAX_INFLATION = 200  # data.pkl is stored uncompressed by torch; a huge ratio is a zip bomb
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# what zipfile raises on bad bytes: NotImplementedError for an unknown version or compression,
# RuntimeError for an encrypted member, OverflowError for an offset past what seek() takes
ZIP_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error,
              NotImplementedError, RuntimeError, zlib.error, OverflowError)
MAX_MEMBERS_SCANNED = 10_000  # zip members looked at for pickles besides data.pkl
MAX_SCANNED_BYTES = 256 << 20  # decompressed bytes walked across those members
MAX_CALLS_KEPT = 200  # calls other than tensor rebuilds kept as evidence
ROUTINE_CALLS = frozenset({
    "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils."
    "_rebuild_tensor_v3", "torch._utils._rebuild_parameter", "collections.OrderedDict",
    "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
})
RECORDS = ("data.pkl", "version", ".format_version", "byteorder", ".storage_alignment",
           ".data/version", ".data/serialization_id")

STORAGE_DTYPES = {
    "FloatStorage": "F32", "DoubleStorage": "F64", "HalfStorage": "F16",
    "BFloat16Storage": "BF16", "LongStorage": "I64", "IntStorage": "I32",
    "ShortStorage": "I16", "CharStorage": "I8", "ByteStorage": "U8", "BoolStorage": "BOOL",
    "ComplexFloatStorage": "C64", "ComplexDoubleStorage": "C128",
    "Float8_e4m3fnStorage": "F8_E4M3", "Float8_e5m2Storage": "F8_E5M2",
    "UInt16Storage": "U16", "UInt32Storage": "U32", "UInt64Storage": "U64",
}  # fmt: skip
TENSOR_REBUILDERS = {
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v3",
}


@dataclass(frozen=True)
class PickleCall:
    """A call a pickle makes on load (other than rebuilding a tensor), its constant arguments
    as plain data, and where: `member` is the zip member, `depth` > 0 inside a nested pickle."""

    target: str
    args: tuple[str | int | float | bool | None, ...]
    opcode: str
    depth: int = 0
    member: str | None = None


@dataclass(frozen=True)
class HiddenPickle:
    """A pickle in a zip member other than data.pkl: torch.load never reads it, other loaders
    (np.load, pickle.load on the extracted file) may."""

    member: str
    globals: tuple[str, ...]
    calls: tuple[PickleCall, ...]


@dataclass(frozen=True)
class TorchCheckpoint:
    layout: str  # "zip" or "legacy"
    error: str | None = None  # first structural problem; tensors may still be partly known
    truncated: bool = False
    members: tuple[str, ...] = ()
    missing_records: tuple[str, ...] = ()  # data.pkl, version
    version: str | None = None
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    nesting: tuple[str, ...] = ()  # keys leading from the top object to the state dict
    top_keys: tuple[str, ...] = ()  # the top-level dict's keys, when it is not the state dict
    pickled_object: str | None = None  # a class, when a whole object (not a dict) was saved
    globals: tuple[str, ...] = ()  # module.name, in the order the pickle names them
    opcodes: tuple[str, ...] = ()  # every opcode the object graph uses
    pickle_error: str | None = None
    expected_size: int | None = None  # what the file should weigh, when that can be told
    calls: tuple[PickleCall, ...] = ()  # calls other than tensor rebuilds (bounded)
    nested_pickles: int = 0  # pickles inside the pickle (bytes handed to a call), walked too
    hidden_pickles: tuple[HiddenPickle, ...] = ()  # zip members besides data.pkl that are pickles


def read_torch_zip(f: BinaryIO, file_size: int) -> TorchCheckpoint:
    f.seek(max(0, file_size - EOCD_SEARCH))
    tail = f.read(EOCD_SEARCH)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0:
        return TorchCheckpoint(
            "zip", truncated=True,
            error=f"no end-of-central-directory record: the zip stops after {file_size:,} bytes",
        )
    if at + 22 <= len(tail):
        (directory_size,) = struct.unpack("<I", tail[at + 12 : at + 16])
        if MAX_CENTRAL_DIRECTORY < directory_size < 0xFFFFFFFF:  # 0xFFFFFFFF: see ZIP64
            return TorchCheckpoint("zip", error=f"a {directory_size:,}-byte zip directory; "
                                   "not read", pickle_error="zip directory too large to read")
    f.seek(0)
    try:
        zf = zipfile.ZipFile(f)
    except ZIP_ERRORS as exc:
        return TorchCheckpoint("zip", truncated=True,
                               error=f"the zip directory is unreadable: {exc}")
    with zf:
        infos = zf.infolist()
        names = tuple(i.filename for i in infos)
        pkl = [i for i in infos if i.filename.endswith("data.pkl") and i.filename.count("/") == 1]
        ver = [i for i in infos if i.filename.endswith("/version") and i.filename.count("/") == 1]
        missing = tuple(r for r, present in (("data.pkl", pkl), ("version", ver)) if not present)
        if missing:
            return TorchCheckpoint(
                "zip", members=names, missing_records=missing,
                error=f"a zip without {' and '.join(missing)}: not a torch checkpoint",
                hidden_pickles=_hidden_pickles(zf, infos, "", ""),
            )
        end_of_data = max((i.header_offset + len(i.filename) + 30 + i.compress_size
                           for i in infos), default=0)
        if end_of_data > file_size:
            return TorchCheckpoint("zip", truncated=True, members=names,
                                   error=f"members extend to byte {end_of_data:,} "
                                   f"but the file has {file_size:,}")
        version = _read_small(zf, ver[0])
        info = pkl[0]
        inflation = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_DATA_PKL or inflation > MAX_INFLATION:
            why = (f"data.pkl inflates to {info.file_size:,} bytes "
                   f"({inflation:.0f}x its stored size); not read")
            return TorchCheckpoint("zip", members=names, version=version, error=why,
                                   pickle_error=why)
        try:
            with zf.open(info) as member:  # streamed: never more than the walker holds
                stream = walk_pickle(member, Limits(max_stream_bytes=MAX_DATA_PKL))
        except ZIP_ERRORS as exc:
            return TorchCheckpoint("zip", members=names, version=version,
                                   error=f"data.pkl is unreadable: {exc}",
                                   pickle_error=f"data.pkl is unreadable: {exc}")
        root = pkl[0].filename.split("/", 1)[0]
        sizes = {i.filename[len(root) + 6 :]: i.file_size for i in infos
                 if i.filename.startswith(f"{root}/data/")}
        ckpt = _checkpoint("zip", stream, members=names, version=version, storage_sizes=sizes)
        hidden = _hidden_pickles(zf, infos, root, info.filename)
        return dataclasses.replace(ckpt, hidden_pickles=hidden) if hidden else ckpt


def _hidden_pickles(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], root: str,
                    data_pkl: str) -> tuple[HiddenPickle, ...]:
    """Members other than data.pkl, torch's small records and its numbered storages that hold
    a pickle. Bounded: members scanned, decompressed bytes read, inflation ratio."""
    found: list[HiddenPickle] = []
    budget = MAX_SCANNED_BYTES
    for info in infos[:MAX_MEMBERS_SCANNED]:
        name = info.filename
        rel = name[len(root) + 1:] if name.startswith(f"{root}/") else name
        if name == data_pkl or rel in RECORDS or name.endswith("/") or info.file_size < 16 or (
                rel.startswith("data/") and rel[5:].isdigit()):
            continue
        size = min(info.file_size, MAX_DATA_PKL, budget)
        if size < 16 or info.file_size / max(info.compress_size, 1) > MAX_INFLATION:
            continue
        try:
            with zf.open(info) as member:
                head = member.read(2)
                if head == b"\x93N":  # a .npy array (np.savez): object arrays are pickles
                    data = object_array_pickle(head + member.read(size - 2))
                elif len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
                    data = head + member.read(size - 2)
                else:
                    continue
        except ZIP_ERRORS:
            continue
        if len(data) < 16:
            continue
        budget -= len(data)
        stream = walk_pickle(io.BytesIO(data), Limits(max_stream_bytes=MAX_DATA_PKL))
        if stream.globals:
            found.append(HiddenPickle(name, tuple(g.dotted for g in stream.globals),
                                      _kept_calls(stream.calls, name)))
        if budget <= 16:
            break
    return tuple(found)


def object_array_pickle(npy: bytes) -> bytes:
    """The pickle an .npy file holds after its header when its dtype is object ('O'), else b"".

        \\x93NUMPY  major minor  header length (2 bytes in v1, 4 in v2/v3)  header dict  data
    """
    if not npy.startswith(b"\x93NUMPY") or len(npy) < 10:
        return b""
    if npy[6] == 1:
        (length,), start = struct.unpack("<H", npy[8:10]), 10
    elif len(npy) >= 12:
        (length,), start = struct.unpack("<I", npy[8:12]), 12
    else:
        return b""
    header = npy[start:start + length]
    if b"'descr': '|O'" not in header and b"'descr': 'O'" not in header:
        return b""
    return npy[start + length:]


def _constant(value: Any) -> str | int | float | bool | None:
    """A call argument as evidence: constants as they are (long text cut), the rest named."""
    if value is None or isinstance(value, (bool, int, float)):
        return value if not isinstance(value, int) or abs(value) < 1 << 53 else str(value)
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "…"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, Global):
        return value.dotted
    return f"<{type(value).__name__}>"


def _kept_calls(calls: list[CallSite], member: str | None = None) -> tuple[PickleCall, ...]:
    kept = [PickleCall(c.target, tuple(_constant(a) for a in c.args[:8]), c.opcode, c.depth,
                       member) for c in calls if c.target not in ROUTINE_CALLS]
    return tuple(kept[:MAX_CALLS_KEPT])


def read_legacy_torch(f: BinaryIO, file_size: int) -> TorchCheckpoint:
    magic = walk_pickle(f)
    if magic.error or magic.value != LEGACY_MAGIC:
        # a plain pickle, not torch's legacy container: read it as the object itself
        f.seek(0)
        return _checkpoint("pickle", walk_pickle(f))
    protocol = walk_pickle(f)
    sys_info = walk_pickle(f)
    if protocol.error or sys_info.error:
        cut = protocol.truncated or sys_info.truncated
        why = f"the preamble is {'cut' if cut else 'corrupt'}: {protocol.error or sys_info.error}"
        return TorchCheckpoint("legacy", truncated=cut, error=why, pickle_error=why)
    stream = walk_pickle(f)
    checkpoint = _checkpoint("legacy", stream, version=str(protocol.value))
    if stream.error:
        return checkpoint
    # then a pickled list of storage keys, then each storage: an 8-byte count and its bytes
    keys = walk_pickle(f)
    sizes = _legacy_storage_bytes(stream.value)
    if keys.error or not isinstance(keys.value, list):
        return checkpoint
    expected = f.tell() + sum(8 + sizes.get(str(k), 0) for k in keys.value)
    if expected <= file_size:
        return checkpoint
    return dataclasses.replace(
        checkpoint, truncated=True, expected_size=expected,
        error=f"the tensor data stops at byte {file_size:,}; the storages need {expected:,}")


def _legacy_storage_bytes(value: Any) -> dict[str, int]:
    """storage key -> its size in bytes, from the persistent ids ('storage', type, key,
    location, numel, view) the legacy format writes for each tensor."""
    out: dict[str, int] = {}
    todo, seen = [value], 0
    while todo and seen < 1_000_000:
        item = todo.pop()
        seen += 1
        if isinstance(item, Persistent):
            pid = item.pid
            if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(
                    pid[1], Global) and isinstance(pid[4], int):
                dtype = STORAGE_DTYPES.get(pid[1].name, "")
                out[str(pid[2])] = pid[4] * DTYPE_BITS.get(dtype, 8) // 8
        elif isinstance(item, Call):
            todo.extend((item.func, *item.args, item.state, *item.items.values()))
        elif isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
    return out


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    if info.file_size > 64:
        return None
    try:
        return zf.read(info).decode("ascii", "replace").strip()
    except ZIP_ERRORS:
        return None


def _module_tensors(module: Any, prefix: str = "", depth: int = 0) -> dict[str, TensorInfo]:
    """The state-dict view of a pickled nn.Module: its __dict__'s `_parameters`, `_buffers`
    and, recursively, `_modules` — the same names `model.state_dict()` would give."""
    out: dict[str, TensorInfo] = {}
    state = module.state if isinstance(module, Call) else None
    if not isinstance(state, dict) or depth > 64:
        return out
    for slot in ("_parameters", "_buffers"):
        for name, value in (_as_dict(state.get(slot)) or {}).items():
            info = _tensor_info(value)
            if info is not None:
                out[f"{prefix}{name}"] = info
    for name, child in (_as_dict(state.get("_modules")) or {}).items():
        out.update(_module_tensors(child, f"{prefix}{name}.", depth + 1))
    return out


def _checkpoint(
    layout: str,
    stream: PickleStream,
    *,
    members: tuple[str, ...] = (),
    version: str | None = None,
    storage_sizes: dict[str, int] | None = None,
) -> TorchCheckpoint:
    nesting, state = _find_state_dict(stream.value)
    tensors: dict[str, TensorInfo] = {}
    for key, value in (state or {}).items():
        info = _tensor_info(value)
        if isinstance(key, str) and info is not None:
            tensors[key] = info
    top = stream.value
    top_keys: tuple[str, ...] = ()
    top_dict = _as_dict(top)
    if nesting and top_dict is not None:
        top_keys = tuple(str(k) for k in top_dict)
    pickled_object = None
    if isinstance(top, Call) and isinstance(top.func, Global) and _as_dict(top) is None:
        pickled_object = top.func.dotted
        tensors = _module_tensors(top) or tensors
    error = None
    if stream.error:
        error = f"the pickle could not be walked to its end: {stream.error}"
    return TorchCheckpoint(
        layout,
        error=error,
        truncated=stream.truncated,
        members=members,
        version=version,
        tensors=tensors,
        nesting=nesting,
        top_keys=top_keys,
        pickled_object=pickled_object,
        globals=tuple(g.dotted for g in stream.globals),
        opcodes=tuple(sorted(stream.opcode_names)),
        pickle_error=stream.error,
        calls=_kept_calls(stream.calls),
        nested_pickles=stream.nested,
    )


def _as_dict(value: Any) -> dict[Any, Any] | None:
    """A dict, or an OrderedDict/defaultdict built by a call, as its items."""
    if isinstance(value, dict):
        return value
    if (isinstance(value, Call) and isinstance(value.func, Global)
            and value.func.dotted in ("collections.OrderedDict", "collections.defaultdict",
                                      "builtins.dict", "__builtin__.dict")):
        return value.items
    return None


def _find_state_dict(value: Any, depth: int = 0) -> tuple[tuple[str, ...], dict[Any, Any] | None]:
    """The dict of tensors: the top object, or one nested in a training checkpoint
    (`state_dict`, `model`, `module`, ...). Breadth-first, the biggest wins."""
    d = _as_dict(value)
    if d is None:
        return (), None
    if _count_tensors(d) > 0 and _count_tensors(d) * 2 >= len(d):
        return (), d
    best: tuple[tuple[str, ...], dict[Any, Any] | None] = ((), None)
    best_count = 0
    if depth >= 4:
        return best
    for key, sub in d.items():
        path, found = _find_state_dict(sub, depth + 1)
        count = _count_tensors(found) if found else 0
        if count > best_count:
            best, best_count = ((str(key), *path), found), count
    return best


def _count_tensors(d: dict[Any, Any]) -> int:
    return sum(1 for v in d.values() if _tensor_info(v) is not None)


def _tensor_info(value: Any, depth: int = 0) -> TensorInfo | None:
    if not isinstance(value, Call) or not isinstance(value.func, Global) or depth > 8:
        return None
    name = value.func.dotted
    if name in ("torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state"):
        return _tensor_info(value.args[0], depth + 1) if value.args else None
    if name == "torch._tensor._rebuild_from_type_v2" and len(value.args) >= 3:
        inner = value.args[2]
        if isinstance(inner, tuple):
            return _tensor_info(Call(value.args[0], inner), depth + 1)
        return None
    if name not in TENSOR_REBUILDERS or len(value.args) < 3:
        return None
    storage, _offset, size = value.args[0], value.args[1], value.args[2]
    if not isinstance(storage, Persistent) or not isinstance(size, tuple):
        return None
    pid = storage.pid
    if not (isinstance(pid, tuple) and len(pid) >= 4 and pid[0] == "storage"):
        return None
    storage_type = pid[1]
    dtype = "?"
    if isinstance(storage_type, Global):
        dtype = STORAGE_DTYPES.get(storage_type.name, storage_type.name)
    if name == "torch._utils._rebuild_tensor_v3" and len(value.args) >= 7:
        d = value.args[6]  # the dtype is passed explicitly
        if isinstance(d, Global):
            dtype = d.name
    location = pid[3] if isinstance(pid[3], str) else None
    shape = tuple(int(s) for s in size if isinstance(s, int))
    return TensorInfo(dtype=dtype, shape=shape, device=location)


__all__ = ["HiddenPickle", "PickleCall", "TorchCheckpoint", "Unknown", "read_legacy_torch",
           "read_torch_zip"]
