"""whyload.lock: what a healthy model is, so that any later copy can be proved the same.

    {
      "schema": "whyload.lock/1",
      "target": {"how": "folder", "repo_id": ..., "commit": ...},
      "files": {"model.safetensors": {"sha256": "…", "size": 437951328}, ...},
      "format": {"format": "safetensors", "tensor_count": 201, "parameter_count": …,
                 "dtypes": {"F32": 201}, ...},
      "versions": {"transformers": "5.24.0", "torch": "2.13.0", ...}
    }

JSON with sorted keys and no timestamp: locking the same files in the same environment writes
the same bytes.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whyload.errors import UsageError

LOCK_NAME = "whyload.lock"
LOCK_SCHEMA = "whyload.lock/1"
LOCK_SCHEMA_VERSION = 1
_SCHEMA = re.compile(r"^whyload\.lock/(\d+)$")
MAX_LOCK_BYTES = 64 << 20
LOCKED_PACKAGES = ("transformers", "torch", "tokenizers", "safetensors", "huggingface_hub")


@dataclass(frozen=True)
class LockedFile:
    sha256: str
    size: int


@dataclass(frozen=True)
class LockFile:
    files: Mapping[str, LockedFile]
    versions: Mapping[str, str | None] = field(default_factory=dict)
    format: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        doc = {
            "schema": LOCK_SCHEMA,
            "target": dict(self.target),
            "files": {name: {"sha256": f.sha256, "size": f.size}
                      for name, f in self.files.items()},
            "format": dict(self.format),
            "versions": dict(self.versions),
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"


class LockError(UsageError):
    """A lock file that cannot be read as a whyload lock; `newer` when a later whyload wrote
    it."""

    def __init__(self, message: str, *, hint: str = "", newer: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.newer = newer


def installed_versions() -> dict[str, str | None]:
    """The versions of the libraries that load models, from package metadata (nothing is
    imported)."""
    out: dict[str, str | None] = {}
    for name in LOCKED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def read_lock(path: Path) -> LockFile:
    """Parse a lock; anything that is not a whyload lock of a known schema is a LockError."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise LockError(f"the lock {path} is not a regular file")
            raw = f.read(MAX_LOCK_BYTES + 1)
    except OSError as exc:
        raise LockError(f"cannot read the lock {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_LOCK_BYTES:
        raise LockError(f"{path} is over {MAX_LOCK_BYTES >> 20} MiB: not a whyload lock")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LockError(f"{path} is not JSON: {exc}",
                        hint="write it again with `whyload lock --force`") from None
    if not isinstance(doc, dict):
        raise LockError(f"{path} is not a whyload lock (a JSON {type(doc).__name__})")
    schema = doc.get("schema")
    if schema != LOCK_SCHEMA:
        newer = _SCHEMA.match(schema) if isinstance(schema, str) else None
        if newer and int(newer.group(1)) > LOCK_SCHEMA_VERSION:
            raise LockError(f"{path} was written by a newer whyload (schema {schema!r}; this "
                            f"one reads {LOCK_SCHEMA!r})",
                            hint="upgrade whyload: pip install -U whyload", newer=True)
        raise LockError(f"{path} has schema {schema!r}; this whyload reads {LOCK_SCHEMA!r}",
                        hint="write it again with `whyload lock --force`")
    files = doc.get("files")
    if not isinstance(files, dict):
        raise LockError(f"{path} has no 'files' table")
    locked: dict[str, LockedFile] = {}
    for name, entry in files.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                and isinstance(entry.get("size"), int)):
            raise LockError(f"{path}: the entry for {name!r} needs 'sha256' and 'size'")
        locked[str(name)] = LockedFile(entry["sha256"].lower(), entry["size"])
    versions = doc.get("versions")
    return LockFile(
        files=locked,
        versions={str(k): v if isinstance(v, str) else None
                  for k, v in (versions.items() if isinstance(versions, dict) else ())},
        format=_table(doc, "format"),
        target=_table(doc, "target"),
    )


def _table(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def refuse_overwrite(path: Path) -> None:
    """UsageError when a lock (or anything) is already at `path`."""
    if path.exists() or path.is_symlink():
        raise UsageError(f"{path} already exists", hint="pass --force to replace it, or "
                         "--out to write the lock somewhere else")


def write_lock(lock: LockFile, path: Path, *, force: bool) -> None:
    """Write atomically (a temporary file beside it, then rename); never replace an existing
    lock unless `force`."""
    if not force:
        refuse_overwrite(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder", hint="--out takes a file name")
    folder = path.parent
    try:
        fd, temporary = tempfile.mkstemp(prefix=".whyload-lock-", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write in {folder}: {exc.strerror or exc}",
                         hint="use --out to write the lock somewhere writable") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(lock.to_json())
        os.chmod(temporary, 0o644)
        if force:
            os.replace(temporary, path)
        else:  # link fails if another process created the lock since the check above
            os.link(temporary, path)
    except FileExistsError:
        raise UsageError(f"{path} already exists", hint="pass --force to replace it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
