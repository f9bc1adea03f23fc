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
    plausible_stream,
    walk_following,
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
    """A pickle torch.load does not unpickle as the checkpoint's object: a zip member other than
    data.pkl (np.load, pickle.load on the extracted file read it), a pickle after the first in
    the same stream (a loader that calls pickle.load again reads it), a member of a 7z archive.
    `where` says which: member, stream, archive."""

    member: str
    globals: tuple[str, ...]
    calls: tuple[PickleCall, ...]
    where: str = "member"
    frame_violation: str | None = None


@dataclass(frozen=True)
class ZipDamage:
    """A member whose zip records disagree with its bytes, and whether torch.load still reads
    it (torch trusts the central directory and checks no CRC; it refuses flag bits 0x1, 0x20
    and 0x40)."""

    member: str
    what: str
    torch_reads: bool


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
    damage: tuple[ZipDamage, ...] = ()  # zip records that disagree with the bytes
    frame_violation: str | None = None  # a FRAME whose length disagrees with its opcodes
    not_inspected: tuple[str, ...] = ()  # what the scan could not read, and why


FLAG_BITS = {0x1: "encrypted (0x1)", 0x20: "patched data (0x20)",
             0x40: "strong encryption (0x40)"}  # torch's reader (miniz) refuses these


def member_bytes(f: BinaryIO, info: zipfile.ZipInfo, limit: int
                 ) -> tuple[bytes | None, list[ZipDamage], str | None]:
    """A member's bytes read as leniently as torch reads them: from the offset the central
    directory gives, whatever name the local header carries, without trusting the CRC or the
    flag bits. Returns the bytes (None when they can't be had), the damage seen, and why the
    bytes could not be read."""
    damage: list[ZipDamage] = []
    name = info.filename
    for bit, what in FLAG_BITS.items():
        if info.flag_bits & bit:
            damage.append(ZipDamage(name, f"general-purpose flag {what} set", False))
    try:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            return None, damage, "no local header where the central directory points"
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        local_name = f.read(name_len)
        if local_name != info.orig_filename.encode("utf-8", "replace") and \
                local_name != info.orig_filename.encode("cp437", "replace"):
            damage.append(ZipDamage(name, "the local header names it "
                                    f"{local_name.decode('utf-8', 'replace')!r}", True))
        f.seek(info.header_offset + 30 + name_len + extra_len)
        if info.compress_type == zipfile.ZIP_STORED:
            data = f.read(min(info.compress_size, limit))
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            data = _inflate(f, info.compress_size, limit)
        else:
            return None, damage, f"compression method {info.compress_type} is not read"
    except (OSError, struct.error, ValueError, OverflowError) as exc:  # Overflow: a ZIP64
        return None, damage, f"unreadable: {exc}"                      # offset seek() can't take
    except zlib.error as exc:
        return None, damage, f"its deflate stream is corrupt: {exc}"
    if len(data) == info.file_size and zlib.crc32(data) != info.CRC:
        damage.append(ZipDamage(name, f"its CRC is wrong (recorded {info.CRC:08x}, bytes "
                                f"{zlib.crc32(data):08x})", True))
    return data, damage, None


def _inflate(f: BinaryIO, compressed: int, limit: int, chunk: int = 1 << 16) -> bytes:
    """Up to `limit` bytes of a raw deflate stream, reading no more input than they need."""
    inflater = zlib.decompressobj(-15)
    out = bytearray()
    left = compressed
    while left > 0 and len(out) < limit and not inflater.eof:
        raw = f.read(min(chunk, left))
        if not raw:
            break
        left -= len(raw)
        out += inflater.decompress(raw, limit - len(out))
    return bytes(out)


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
                                   "not read", pickle_error="zip directory too large to read",
                                   not_inspected=("the zip directory is too large to read",))
    f.seek(0)
    try:
        zf = zipfile.ZipFile(f)
    except ZIP_ERRORS as exc:
        return TorchCheckpoint("zip", truncated=True,
                               error=f"the zip directory is unreadable: {exc}")
    with zf:
        infos = zf.infolist()
        names = tuple(i.filename for i in infos)
        # torch's reader names the archive after the first record's folder and reads that
        # folder's data.pkl: with several roots, it is the one walked as the checkpoint
        first = infos[0].filename.split("/", 1)[0] if infos else ""
        pkl = sorted((i for i in infos if i.filename.endswith("/data.pkl")
                      and i.filename.count("/") == 1),
                     key=lambda i: i.filename != f"{first}/data.pkl")
        ver = sorted((i for i in infos if i.filename.endswith("/version")
                      and i.filename.count("/") == 1),
                     key=lambda i: i.filename != f"{first}/version")
        missing = tuple(r for r, present in (("data.pkl", pkl), ("version", ver)) if not present)
        if missing:
            hidden, zip_damage, unread = _hidden_pickles(f, infos, None, "")
            return TorchCheckpoint(
                "zip", members=names, missing_records=missing,
                error=f"a zip without {' and '.join(missing)}: not a torch checkpoint",
                hidden_pickles=hidden, damage=zip_damage, not_inspected=unread,
                frame_violation=_first_violation(hidden),
            )
        end_of_data = max((i.header_offset + len(i.filename) + 30 + i.compress_size
                           for i in infos), default=0)
        if end_of_data > file_size:
            return TorchCheckpoint("zip", truncated=True, members=names,
                                   error=f"members extend to byte {end_of_data:,} "
                                   f"but the file has {file_size:,}")
        version = _read_small(f, ver[0])
        info = pkl[0]
        inflation = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_DATA_PKL or inflation > MAX_INFLATION:
            why = (f"data.pkl inflates to {info.file_size:,} bytes "
                   f"({inflation:.0f}x its stored size); not read")
            return TorchCheckpoint("zip", members=names, version=version, error=why,
                                   pickle_error=why, not_inspected=(why,))
        data, damage, unreadable = member_bytes(f, info, MAX_DATA_PKL)
        if data is None:
            why = f"data.pkl is unreadable: {unreadable}"
            return TorchCheckpoint("zip", members=names, version=version, error=why,
                                   pickle_error=why, damage=tuple(damage), not_inspected=(why,))
        body = io.BytesIO(data)
        stream = walk_pickle(body, Limits(max_stream_bytes=MAX_DATA_PKL))
        following = walk_following(body, len(data)) if stream.error is None else []
        root = pkl[0].filename.split("/", 1)[0]
        sizes = {i.filename[len(root) + 6 :]: i.file_size for i in infos
                 if i.filename.startswith(f"{root}/data/")}
        ckpt = _checkpoint("zip", stream, members=names, version=version, storage_sizes=sizes)
        hidden, more_damage, unread = _hidden_pickles(f, infos, root, info.filename)
        if any(n.startswith(f"{root}/code/") for n in names):  # a TorchScript archive
            hidden = tuple(dataclasses.replace(h, where="torchscript")
                           if _torchscript_record(h.member, root) else h for h in hidden)
        ckpt = dataclasses.replace(
            ckpt, hidden_pickles=hidden, damage=tuple(damage) + more_damage,
            not_inspected=unread, frame_violation=stream.frame_violation or
            _first_violation(hidden))
        return _with_streams(ckpt, following, "stream")


def _torchscript_record(member: str, root: str) -> bool:
    """The pickles torch.jit.save writes besides data.pkl, which torch.jit.load reads."""
    rel = member[len(root) + 1:] if member.startswith(f"{root}/") else member
    return rel in ("constants.pkl", "traced_inputs.pkl") or (
        rel.startswith("code/") and rel.endswith(".debug_pkl"))


def _first_violation(hidden: tuple[HiddenPickle, ...]) -> str | None:
    return next((f"{h.member}: {h.frame_violation}" for h in hidden if h.frame_violation), None)


def _is_storage(rel: str) -> bool:
    return rel.startswith("data/") and rel[5:].isdigit()


def _hidden_pickles(f: BinaryIO, infos: list[zipfile.ZipInfo], root: str | None, data_pkl: str
                    ) -> tuple[tuple[HiddenPickle, ...], tuple[ZipDamage, ...], tuple[str, ...]]:
    """Members other than the data.pkl torch unpickles that hold a pickle — whatever their
    name: a `data.pkl` at the root or under a second folder, `data.txt`, a storage record
    `data/0` whose bytes are a pickle, the object arrays of an .npy. Bounded: members scanned,
    decompressed bytes read, inflation ratio; what the bounds or the bytes keep from being read
    is returned as not inspected."""
    found: list[HiddenPickle] = []
    damage: list[ZipDamage] = []
    unread: list[str] = []
    budget = MAX_SCANNED_BYTES
    for info in infos[:MAX_MEMBERS_SCANNED]:
        name = info.filename
        rel = name[len(root) + 1:] if root and name.startswith(f"{root}/") else name
        small_record = root is not None and rel in RECORDS
        if name == data_pkl or small_record or name.endswith("/") or info.file_size < 8:
            continue
        if info.file_size / max(info.compress_size, 1) > MAX_INFLATION:
            unread.append(f"{name}: inflates {info.file_size:,} bytes from "
                          f"{info.compress_size:,}; not read")
            continue
        storage = root is not None and _is_storage(rel)
        head_data, member_damage, why = member_bytes(f, info, 16)
        if head_data is None:
            if not storage:
                unread.append(f"{name}: {why}")
            damage.extend(member_damage)
            continue
        kind = _pickle_kind(head_data, name)
        if kind is None:
            continue
        size = min(info.file_size, MAX_DATA_PKL, budget)
        data, member_damage, why = member_bytes(f, info, size)
        damage.extend(d for d in member_damage if d not in damage)
        if data is None:
            unread.append(f"{name}: {why}")
            continue
        if kind == "npy":
            data = object_array_pickle(data)
        budget -= len(data)
        streams = walk_following(io.BytesIO(data), len(data),
                                 Limits(max_stream_bytes=MAX_DATA_PKL))
        for n, (offset, stream) in enumerate(streams):
            if (storage or n == 0) and not plausible_stream(
                    b"" if storage else head_data, stream):
                continue  # tensor bytes or text that happen to start like a pickle
            if stream.globals or stream.frame_violation:
                label = name if n == 0 else f"{name} (pickle {n + 1}, at byte {offset:,})"
                found.append(HiddenPickle(label, tuple(g.dotted for g in stream.globals),
                                          _kept_calls(stream.calls, name),
                                          frame_violation=stream.frame_violation))
        if budget <= 16:
            unread.append(f"members after {name}: the {MAX_SCANNED_BYTES >> 20} MB scan budget "
                          "is spent")
            break
    return tuple(found), tuple(damage), tuple(unread)


def _pickle_kind(head: bytes, name: str) -> str | None:
    """'pickle' or 'npy' when a member's first bytes can start what a loader would unpickle."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if name.endswith((".pkl", ".pickle", ".pt", ".pth", ".bin", ".txt")) and head[:1] in (
            b"c", b"(", b"}", b"]", b"\x80", b"V", b"S", b"I", b"N"):
        return "pickle"  # protocol 0/1 under a name something loads
    return None


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
    if b"'O'" not in header and b"'|O'" not in header:  # object fields, plain or in a record
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
    """torch's legacy container (five pickles: magic, protocol, sys_info, the object, the
    storage keys, then raw storages), or a plain pickle. Every pickle is walked, not only the
    object's: torch.load unpickles each of the five, and a payload in sys_info runs as surely
    as one in the object. A plain pickle's followers are walked to the end of the file too."""
    magic = walk_pickle(f)
    if magic.error or magic.value != LEGACY_MAGIC:
        # a plain pickle, not torch's legacy container: read it as the object itself
        f.seek(0)
        stream = walk_pickle(f)
        following = walk_following(f, file_size) if stream.error is None else []
        return _with_streams(_checkpoint("pickle", stream), following, "stream")
    protocol = walk_pickle(f)
    sys_info = walk_pickle(f) if protocol.error is None else PickleStream()
    preamble = [(0, magic), (0, protocol), (0, sys_info)]
    if protocol.error or sys_info.error:
        cut = protocol.truncated or sys_info.truncated
        why = f"the preamble is {'cut' if cut else 'corrupt'}: {protocol.error or sys_info.error}"
        return _with_streams(TorchCheckpoint("legacy", truncated=cut, error=why,
                                             pickle_error=why), preamble, "preamble")
    stream = walk_pickle(f)
    checkpoint = _with_streams(_checkpoint("legacy", stream, version=str(protocol.value)),
                               preamble, "preamble")
    if stream.error:
        return checkpoint
    # then a pickled list of storage keys, then each storage: an 8-byte count and its bytes
    keys = walk_pickle(f)
    checkpoint = _with_streams(checkpoint, [(0, keys)], "storage keys")
    sizes = _legacy_storage_bytes(stream.value)
    if keys.error or not isinstance(keys.value, list):
        return checkpoint
    expected = f.tell() + sum(8 + sizes.get(str(k), 0) for k in keys.value)
    if expected <= file_size:
        return checkpoint
    return dataclasses.replace(
        checkpoint, truncated=True, expected_size=expected,
        error=f"the tensor data stops at byte {file_size:,}; the storages need {expected:,}")


def _with_streams(ckpt: TorchCheckpoint, streams: list[tuple[int, PickleStream]],
                  where: str) -> TorchCheckpoint:
    """A checkpoint with the globals and calls of other pickles in the same file beside its
    object's (the legacy preamble, the storage keys, pickles after the first)."""
    extra = tuple(
        HiddenPickle(f"{where} pickle at byte {offset:,}" if where == "stream" else
                     f"the {where} pickle", tuple(g.dotted for g in s.globals),
                     _kept_calls(s.calls), where="stream", frame_violation=s.frame_violation)
        for offset, s in streams if s.globals or s.frame_violation)
    if not extra:
        return ckpt
    return dataclasses.replace(ckpt, hidden_pickles=ckpt.hidden_pickles + extra,
                               frame_violation=ckpt.frame_violation or _first_violation(extra))


def read_npy(f: BinaryIO, file_size: int) -> TorchCheckpoint:
    """An .npy file: np.load(allow_pickle=True) unpickles what follows the header when the dtype
    is object. Plain arrays hold no pickle."""
    data = f.read(min(file_size, MAX_DATA_PKL + 65_536))
    pickled = object_array_pickle(data)
    if not pickled:
        return TorchCheckpoint("npy", error=NOT_A_CHECKPOINT["npy"])
    streams = walk_following(io.BytesIO(pickled), len(pickled),
                             Limits(max_stream_bytes=MAX_DATA_PKL))
    if not streams:
        return TorchCheckpoint("npy", error=NOT_A_CHECKPOINT["npy"],
                               pickle_error="the object array's pickle is unreadable",
                               not_inspected=("the object array's pickle could not be walked",))
    first = streams[0][1]
    ckpt = dataclasses.replace(_checkpoint("npy", first), tensors={}, pickled_object=None,
                               error=NOT_A_CHECKPOINT["npy"], pickle_error=None)
    unread = ((f"the object array's pickle stops: {first.error}",)
              if first.error and not first.truncated else ())
    ckpt = dataclasses.replace(ckpt, frame_violation=first.frame_violation, not_inspected=unread)
    return _with_streams(ckpt, streams[1:], "stream")


NOT_A_CHECKPOINT = {"npy": "a numpy array file, not a torch checkpoint",
                    "7z": "a 7z archive, not a torch checkpoint",
                    "tar": "a tar archive (torch's oldest format, or an archive to extract)"}
TAR_MEMBERS_SCANNED = 10_000
TORCH_TAR_RECORDS = ("sys_info", "pickle", "storages", "tensors")  # torch.load unpickles each


def read_torch_tar(f: BinaryIO, file_size: int) -> TorchCheckpoint:
    """A tar file: torch.load still reads its oldest format, a tar of `sys_info`, `storages`,
    `tensors` and `pickle`, unpickling each (a payload in `storages` runs first). Every member
    that holds a pickle is walked, with the same bounds as zip members; nothing is extracted."""
    import tarfile

    hidden: list[HiddenPickle] = []
    unread: list[str] = []
    budget = MAX_SCANNED_BYTES
    try:
        with tarfile.open(fileobj=f, mode="r:") as tar:
            for n, info in enumerate(tar):
                if n >= TAR_MEMBERS_SCANNED or budget <= 16:
                    unread.append(f"members after the first {n:,}: not read (scan bounds)")
                    break
                if not info.isfile() or info.size < 2:
                    continue
                member = tar.extractfile(info)
                if member is None:
                    continue
                head = member.read(16)
                kind = _pickle_kind(head, info.name)
                if kind is None and info.name not in TORCH_TAR_RECORDS:
                    continue
                data = head + member.read(min(info.size, MAX_DATA_PKL, budget) - len(head))
                budget -= len(data)
                if kind == "npy":
                    data = object_array_pickle(data)
                streams = walk_following(io.BytesIO(data), len(data),
                                         Limits(max_stream_bytes=MAX_DATA_PKL))
                for i, (offset, stream) in enumerate(streams):
                    if stream.globals or stream.frame_violation:
                        label = info.name if i == 0 else f"{info.name} (pickle {i + 1}, at " \
                            f"byte {offset:,})"
                        hidden.append(HiddenPickle(label, tuple(g.dotted for g in stream.globals),
                                                   _kept_calls(stream.calls, info.name),
                                                   frame_violation=stream.frame_violation))
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        unread.append(f"the tar could not be read to its end: {exc}")
    return TorchCheckpoint("tar", error=NOT_A_CHECKPOINT["tar"], hidden_pickles=tuple(hidden),
                           not_inspected=tuple(unread),
                           frame_violation=_first_violation(tuple(hidden)))
SEVEN_ZIP_MAX_BYTES = 1 << 30  # members of a 7z read into memory, in all


def not_unpacked(why: str) -> TorchCheckpoint:
    """A 7z archive whose content was not inspected, and why: never reported as clean."""
    return TorchCheckpoint("7z", error=NOT_A_CHECKPOINT["7z"], not_inspected=(why,))


def read_7z(file: str | BinaryIO, file_size: int) -> TorchCheckpoint:
    """A 7z archive (how some repositories ship a torch checkpoint): each member is read with
    py7zr (the whyload[archives] extra) and scanned like a file of its own. Without py7zr, or
    past the size bound, the content is reported as not inspected — never as clean."""
    try:
        import py7zr
    except ImportError:
        return not_unpacked("py7zr is not installed (pip install whyload[archives]): the "
                            "archive's content was not inspected")
    hidden: list[HiddenPickle] = []
    unread: list[str] = []
    damage: list[ZipDamage] = []
    try:
        with py7zr.SevenZipFile(file, "r") as archive:
            entries = [e for e in archive.list() if not e.is_directory]
            total = sum(e.uncompressed or 0 for e in entries)
            if total > SEVEN_ZIP_MAX_BYTES:
                return TorchCheckpoint("7z", error=NOT_A_CHECKPOINT["7z"],
                                       members=tuple(e.filename for e in entries),
                                       not_inspected=(f"the archive unpacks to {total:,} "
                                                      "bytes; not read",))
            contents = _7z_read_all(archive)
    except Exception as exc:  # py7zr raises many types on bad or encrypted archives
        return TorchCheckpoint("7z", error=NOT_A_CHECKPOINT["7z"], not_inspected=(
            f"the archive could not be unpacked ({type(exc).__name__}: {exc}): its content "
            "was not inspected",))
    for name, data in contents.items():
        inner = _inner_file(data)
        for h in inner.hidden_pickles:
            hidden.append(dataclasses.replace(h, member=f"{name} → {h.member}", where="archive"))
        if inner.globals or inner.frame_violation:
            hidden.append(HiddenPickle(name, inner.globals, tuple(
                dataclasses.replace(c, member=name) for c in inner.calls), where="archive",
                frame_violation=inner.frame_violation))
        unread.extend(f"{name}: {u}" for u in inner.not_inspected)
        damage.extend(dataclasses.replace(d, member=f"{name} → {d.member}")
                      for d in inner.damage)
    return TorchCheckpoint("7z", error=NOT_A_CHECKPOINT["7z"], members=tuple(contents),
                           hidden_pickles=tuple(hidden),
                           not_inspected=tuple(unread), damage=tuple(damage),
                           frame_violation=_first_violation(tuple(hidden)))


def _7z_read_all(archive: Any) -> dict[str, bytes]:
    """Every member's bytes: readall() in py7zr < 1.0, a factory of in-memory writers after."""
    if hasattr(archive, "readall"):
        return {n: b.read() for n, b in archive.readall().items()}
    import tempfile

    import py7zr.io

    factory = py7zr.io.BytesIOFactory(SEVEN_ZIP_MAX_BYTES)
    with tempfile.TemporaryDirectory(prefix="whyload-7z-") as scratch:  # folders land here,
        archive.extractall(path=scratch, factory=factory)  # never beside the user's files
    out: dict[str, bytes] = {}
    for name, product in factory.products.items():
        product.seek(0)
        out[name] = product.read()
    return out


def _inner_file(data: bytes) -> TorchCheckpoint:
    """A file inside an archive, read by what its bytes are."""
    bio = io.BytesIO(data)
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return read_torch_zip(bio, len(data))
    if data.startswith(b"\x93NUMPY"):
        return read_npy(bio, len(data))
    if data[:1] == b"\x80" or data[:1] in (b"c", b"(", b"}", b"]"):
        return read_legacy_torch(bio, len(data))
    return TorchCheckpoint("other")


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


def _read_small(f: BinaryIO, info: zipfile.ZipInfo) -> str | None:
    if info.file_size > 64:
        return None
    data, _damage, _why = member_bytes(f, info, 64)
    return data.decode("ascii", "replace").strip() if data is not None else None


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
        frame_violation=stream.frame_violation,
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


__all__ = ["HiddenPickle", "PickleCall", "TorchCheckpoint", "Unknown", "ZipDamage", "read_7z",
           "read_legacy_torch", "read_npy", "read_torch_tar", "read_torch_zip"]
