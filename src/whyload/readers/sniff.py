"""What a file really is, from its first bytes (and its name only where formats have no magic)."""

from __future__ import annotations

import enum
import re
import struct

HEAD_BYTES = 4096  # enough for an LFS pointer, an HTML page's start and a tar header


class Kind(str, enum.Enum):
    SAFETENSORS = "safetensors"
    TORCH_ZIP = "torch-zip"
    PICKLE = "pickle"  # a raw pickle: the legacy (< 1.6) torch format
    ZIP = "zip"  # a zip that is not (yet known to be) a torch checkpoint
    LFS_POINTER = "lfs-pointer"
    HTML = "html"
    JSON = "json"
    HDF5 = "hdf5"
    MSGPACK = "msgpack"
    GGUF = "gguf"
    ONNX = "onnx"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    ZSTD = "zstd"
    TAR = "tar"
    SEVEN_ZIP = "7z"
    NPY = "npy"  # a numpy array; object arrays are pickles np.load(allow_pickle=True) runs
    EMPTY = "empty"
    ZEROS = "zeros"
    TEXT = "text"
    UNKNOWN = "unknown"


ARCHIVES = frozenset({Kind.GZIP, Kind.BZIP2, Kind.XZ, Kind.ZSTD, Kind.TAR})
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
# bytes that are a model format whatever the file is called
MODEL_KINDS = frozenset({Kind.SAFETENSORS, Kind.TORCH_ZIP, Kind.PICKLE, Kind.ZIP, Kind.HDF5,
                         Kind.MSGPACK, Kind.GGUF, Kind.ONNX, Kind.NPY, Kind.SEVEN_ZIP})
LFS_PREFIX = b"version https://git-lfs.github.com/spec/"
SAFETENSORS_HEADER_LIMIT = 100_000_000  # the safetensors library's MAX_HEADER_SIZE


def sniff(head: bytes, size: int, name: str = "", *, zero_filled: bool = True) -> Kind:
    """Classify by content; `name` only breaks ties for formats without a signature.

    `zero_filled` says whether the end of the file is zeros too, when the head is."""
    if size == 0:
        return Kind.EMPTY
    if not head.strip(b"\x00"):
        return Kind.ZEROS if zero_filled else Kind.UNKNOWN
    if head.startswith(LFS_PREFIX):
        return Kind.LFS_POINTER
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return Kind.ZIP
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return Kind.HDF5
    if head.startswith(b"GGUF"):
        return Kind.GGUF
    if head.startswith(SEVEN_ZIP_MAGIC):
        return Kind.SEVEN_ZIP
    if head.startswith(b"\x93NUMPY"):
        return Kind.NPY
    if head.startswith(b"\x1f\x8b"):
        return Kind.GZIP
    if head.startswith(b"BZh"):
        return Kind.BZIP2
    if head.startswith(b"\xfd7zXZ\x00"):
        return Kind.XZ
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return Kind.ZSTD
    if len(head) >= 262 and head[257:262] == b"ustar":
        return Kind.TAR
    if _looks_like_safetensors(head, size):  # before pickles: a header length of 0x280..0x580
        return Kind.SAFETENSORS  # starts with the same two bytes as PROTO 2..5
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return Kind.PICKLE  # PROTO opcode: a pickle stream
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lower = text[:64].lower()
    if lower.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<")):
        return Kind.HTML
    if text.startswith(b"{") or re.match(rb"\[\s*[\[{\"\d\-tfn\]]", text):
        return Kind.JSON  # not "[PAD]": a BERT vocab.txt starts with a bracket too
    if name.endswith(".msgpack") and (head[0] in (0xDE, 0xDF) or 0x80 <= head[0] <= 0x8F):
        return Kind.MSGPACK
    if name.endswith(".onnx") and head[:1] == b"\x08":
        return Kind.ONNX
    if _is_text(head):
        return Kind.TEXT
    return Kind.UNKNOWN


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    """A u64 header length within the library's limit, then the JSON header's `{`.

    The length is not compared with the file size here: a cut header is still a safetensors file,
    and its validation says how much is missing."""
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= SAFETENSORS_HEADER_LIMIT and head[8:9] == b"{"


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character cut at the end of the head is still text
        try:
            head[:-4].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(b >= 0x20 or b in b"\t\r\n\f" for b in head[:512])
