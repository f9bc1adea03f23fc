"""Git LFS pointer files: what `git clone` leaves without git-lfs.

    version https://git-lfs.github.com/spec/v1
    oid sha256:4b0e2…
    size 440449768
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_POINTER_BYTES = 1024  # the spec caps pointer files well below this
_OID = re.compile(rb"^oid (\w+):([0-9a-f]+)$", re.M)
_SIZE = re.compile(rb"^size (\d+)$", re.M)


@dataclass(frozen=True)
class LfsPointer:
    oid: str | None  # "sha256:<hex>"
    size: int | None  # the size of the real file


def parse_lfs_pointer(head: bytes) -> LfsPointer:
    text = head[:MAX_POINTER_BYTES]
    oid = _OID.search(text)
    size = _SIZE.search(text)
    return LfsPointer(
        oid=f"{oid.group(1).decode()}:{oid.group(2).decode()}" if oid else None,
        size=int(size.group(1)) if size else None,
    )
