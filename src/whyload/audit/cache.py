"""Results kept by what a check depends on, so an interrupted audit resumes and a rerun rechecks
only what changed.

The key of a target is a sha256 over:
- the target as given, its revision and the HF cache it lives in;
- the options that change a report (--select, --ignore, --class, --device, --dtype, --verify...);
- the versions on the workers: whyload, Python, and the libraries that load models;
- what the check reads: each top-level entry of the folder it resolves to (name, size, mtime,
  inode, link target) with a digest of its first bytes (the header: the safetensors header
  whole, up to HEADER_LIMIT), the names in its subfolders, and for a cached hub id the commit
  its ref names, its snapshots and its unfinished downloads.

A target that is not on this machine's disks (a URL, a hub id not in the cache) has no key and
is always checked. The store is one SQLite file outside every audited folder (the user cache
folder, or --cache), one row per target and options: a newer result replaces the older one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from whyload.audit.discovery import Target
from whyload.errors import TargetError, UsageError
from whyload.readers.inventory import MAX_ENTRIES
from whyload.readers.sniff import HEAD_BYTES
from whyload.resolve import Artifact, resolve

STORE_NAME = "audit.sqlite"
HEADER_LIMIT = 16 * 1024 * 1024  # a safetensors header digested whole up to this size
SUBFOLDER_NAMES = 200


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """$XDG_CACHE_HOME/whyload/audit (~/.cache on Linux, ~/Library/Caches on macOS)."""
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "whyload" / "audit"
    base = Path("~/Library/Caches" if sys.platform == "darwin" else "~/.cache").expanduser()
    return base / "whyload" / "audit"


def target_key(target: Target, settings: Mapping[str, Any]) -> str | None:
    """The key of a target's result (None: not on this machine's disks, always checked)."""
    if "://" in target.target:
        return None
    try:
        artifact = artifact_of(target)
    except (TargetError, OSError):
        return None
    state: dict[str, Any] = {
             "target": [target.target, target.revision, target.cache_dir, str(artifact.root)],
             "settings": settings, "files": folder_state(artifact.root, artifact.focus)}
    if artifact.cache is not None:
        cache = artifact.cache
        blobs = cache.repo_dir / "blobs"
        state["cache"] = [cache.commit, list(cache.snapshots), list(cache.incomplete_blobs),
                          _names(blobs) if not cache.snapshot_missing else None]
    text = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def artifact_of(target: Target) -> Artifact:
    """What the target resolves to: in the HF cache it was found in, else as `check` does."""
    if target.cache_dir is not None:
        from whyload.resolve.hub import resolve_cached

        return resolve_cached(target.target, target.revision, Path(target.cache_dir))
    return resolve(target.target, target.revision, storage_options=dict(target.storage_options))


def folder_state(root: Path, focus: str | None = None) -> list[Any]:
    """What the check reads of a folder, as comparable data (the module docstring)."""
    try:
        names = sorted(os.listdir(root))[:MAX_ENTRIES]
    except OSError as exc:
        return [["unreadable", exc.errno]]
    out: list[Any] = []
    for name in names:
        if focus is not None and name != focus and not name.endswith(".json"):
            continue
        path = root / name
        try:
            lst = path.lstat()
            link = os.readlink(path) if os.path.islink(path) else None
            st = path.stat()
        except OSError as exc:
            out.append([name, "unreadable", exc.errno])
            continue
        if os.path.isdir(path):
            out.append([name, "dir", link, _names(path)])
        else:
            out.append([name, st.st_size, st.st_mtime_ns, st.st_ino, lst.st_mtime_ns, link,
                        _head_digest(path, st.st_size)])
    return out


def _names(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))[:SUBFOLDER_NAMES]
    except OSError:
        return []


def _head_digest(path: Path, size: int) -> str | None:
    """sha256 of a file's header: the first HEAD_BYTES, or a safetensors header whole."""
    if not os.path.isfile(path):
        return None
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
            digest = hashlib.sha256(head)
            if len(head) >= 8 and head[8:9] == b"{":
                (length,) = struct.unpack("<Q", head[:8])
                wanted = min(8 + length, size, HEADER_LIMIT)
                if wanted > len(head):
                    digest.update(f.read(wanted - len(head)))
    except OSError:
        return None
    return digest.hexdigest()


class ResultCache:
    """One SQLite file of rows: key -> the report row as JSON, one row per target and options."""

    def __init__(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / STORE_NAME
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS results (slot TEXT PRIMARY KEY, "
                             "key TEXT NOT NULL, row TEXT NOT NULL)")
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(f"cannot use {folder} as the audit cache: {exc}",
                             hint="pass --cache DIR (a writable folder) or --no-cache") from None

    def get(self, slot: str, key: str) -> dict[str, Any] | None:
        found = self._db.execute("SELECT row FROM results WHERE slot = ? AND key = ?",
                                 (slot, key)).fetchone()
        if found is None:
            return None
        row: dict[str, Any] = json.loads(found[0])
        return row

    def put(self, slot: str, key: str, row: Mapping[str, Any]) -> None:
        self._db.execute("INSERT OR REPLACE INTO results (slot, key, row) VALUES (?, ?, ?)",
                         (slot, key, json.dumps(row, default=str)))
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def slot_of(target: Target, settings: Mapping[str, Any]) -> str:
    """Where a target's latest result for these options lives (its key says whether it is
    still current)."""
    text = json.dumps([target.target, target.revision, target.cache_dir,
                       settings.get("options")], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
