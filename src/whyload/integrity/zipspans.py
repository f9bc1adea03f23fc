"""Where each member's bytes lie in a zip (a torch `.bin`), so that its CRC32 can be computed in
the same read pass as the file's sha256, and its values scanned over mmap.

    local header  PK\\x03\\x04 ... name length (2 bytes at 26), extra length (2 bytes at 28)
    name, extra   torch pads the extra field so that stored data starts on a 64-byte boundary
    data          compress_size bytes; CRC32 (from the central directory) is of the uncompressed
                  bytes, so only stored (uncompressed) members can be checked while hashing
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from whyload.readers.torch import EOCD_SEARCH, MAX_CENTRAL_DIRECTORY

MAX_MEMBERS = 1_000_000
LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length


@dataclass(frozen=True)
class MemberSpan:
    """One stored member: its data's place in the file and the CRC32 the directory promises."""

    name: str
    start: int
    size: int
    crc: int

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class ZipLayout:
    spans: tuple[MemberSpan, ...] = ()
    compressed: tuple[str, ...] = ()  # members whose CRC is of inflated bytes: not checked
    error: str | None = None  # the directory could not be read: no CRC was checked
    damaged_member: str | None = None  # a member whose local header is not where it should be


def read_zip_layout(f: BinaryIO, file_size: int) -> ZipLayout:
    """The data spans of every stored member; never raises on bad bytes."""
    try:
        f.seek(max(0, file_size - EOCD_SEARCH))
        tail = f.read(EOCD_SEARCH)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0:
            return ZipLayout(error="no end-of-central-directory record (the file is cut)")
        if at + 22 <= len(tail):
            (directory_size,) = struct.unpack("<I", tail[at + 12 : at + 16])
            if MAX_CENTRAL_DIRECTORY < directory_size < 0xFFFFFFFF:
                return ZipLayout(error=f"a {directory_size:,}-byte zip directory; not read")
        f.seek(0)
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()[:MAX_MEMBERS]
        spans: list[MemberSpan] = []
        compressed: list[str] = []
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED:
                compressed.append(info.filename)
                continue
            f.seek(info.header_offset)
            raw = f.read(LOCAL_HEADER.size)
            if len(raw) < LOCAL_HEADER.size:
                return ZipLayout(error=f"the local header of {info.filename} is past the end",
                                 damaged_member=info.filename)
            signature, name_len, extra_len = LOCAL_HEADER.unpack(raw)
            if signature != b"PK\x03\x04":
                return ZipLayout(error=f"no local header where {info.filename} should start "
                                 f"(byte {info.header_offset:,})", damaged_member=info.filename)
            start = info.header_offset + LOCAL_HEADER.size + name_len + extra_len
            spans.append(MemberSpan(info.filename, start, info.compress_size, info.CRC))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as exc:
        return ZipLayout(error=f"the zip directory is unreadable: {exc}")
    spans.sort(key=lambda s: s.start)
    return ZipLayout(tuple(spans), tuple(compressed))
