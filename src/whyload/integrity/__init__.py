"""verify and lock: prove the bytes are the bytes that were saved.

`verify` reads every byte once (sha256, git blob sha1, zip CRC32 in one pass, files in parallel)
and compares with every record available offline; `lock` writes whyload.lock for later copies.
Neither imports torch or transformers, and neither prints: progress goes to a callback.
"""

from __future__ import annotations

from whyload.integrity.hashing import ProgressCallback
from whyload.integrity.lockfile import LOCK_NAME, LOCK_SCHEMA, LockFile, read_lock
from whyload.integrity.locking import lock
from whyload.integrity.verification import verify

__all__ = ["LOCK_NAME", "LOCK_SCHEMA", "LockFile", "ProgressCallback", "lock", "read_lock",
           "verify"]
