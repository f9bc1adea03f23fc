"""A remote model read by ranges: a listing (names, sizes, the store's own hashes and scans), and
files that fetch only the bytes a reader asks for.

One RemoteSource serves every store; what differs is a `Store` (whyload.sources.hub for the
Hugging Face Hub, whyload.sources.stores for fsspec: s3, gs, https, ...), which lists a folder and
fetches one byte range. Heads are fetched for every file in parallel (the same HEAD_BYTES the
local inventory sniffs), small files whole in that one request; a reader's later reads are
served from what was fetched, and a sequential reader (a pickle walked to its STOP) gets
read-ahead that doubles, so a 1 MB data.pkl costs a handful of requests.

Nothing is written anywhere: the bytes live in memory for the duration of the check.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from whyload.readers.inventory import (
    MAX_SUBFOLDER_NAMES,
    WEIGHT_SUFFIXES,
    Entry,
    Inventory,
    is_training_state,
)
from whyload.readers.sniff import HEAD_BYTES, sniff

WHOLE_FILE_BYTES = 64 << 10  # a file this small is fetched whole with its head
WHOLE_JSON_BYTES = 1 << 20  # JSON (config, index, tokenizer.json) up to this: whole, at once
FIRST_READ_AHEAD = 4 << 10  # the least a fetch past the cached bytes asks for
MAX_READ_AHEAD = 1 << 20  # what doubling read-ahead grows to for a sequential reader
PARALLEL_FILES = 16  # files whose heads are fetched at once
# a safetensors head is fetched long enough to hold the header too, when that fits this budget
# shared by every safetensors file: one round trip per file instead of two
SAFETENSORS_HEAD_BUDGET = 512 << 10
MAX_SAFETENSORS_HEAD = 64 << 10


class RemoteFailure(OSError):
    """A remote store refused or failed a request. `code` is the finding that names it."""

    def __init__(self, code: str, message: str, *, hint: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status
        self.retry_after = retry_after

    def as_evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "reason": self.message}
        if self.status is not None:
            out["status"] = self.status
        if self.retry_after is not None:
            out["retry_after_s"] = self.retry_after
        return out


# the codes of remote failures (declared as findings in whyload.checks.remote)
AUTH = "WL580"  # 401/403: gated, private, or a token that is not accepted
NOT_FOUND = "WL581"  # 404: repo, revision, bucket, prefix or file
NO_RANGES = "WL582"  # 416, or a server that answers a range with the whole file
RATE_LIMITED = "WL583"  # 429 after the bounded retries
TIMED_OUT = "WL584"  # no answer in time, or the connection failed
OFFLINE = "WL585"  # HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE: the target needs the network


@dataclass(frozen=True)
class RemoteFile:
    """One file as the store lists it."""

    name: str  # relative to the model's root
    size: int
    sha256: str | None = None  # the store's content hash (the Hub's LFS oid), when it has one
    lfs: bool | None = None  # stored in Git LFS (Hub only; None: the store does not say)
    scan: str | None = None  # the store's own security scan verdict ("unsafe", "caution", ...)
    scan_detail: tuple[str, ...] = ()  # what that scan named (pickle imports, virus names)
    git_oid: str | None = None  # the git blob id (Hub only): sha1 of "blob <size>\\0" + bytes


@dataclass(frozen=True)
class RemoteListing:
    """What the store said about the model before a byte of it was read."""

    url: str  # the target, as the user wrote it (normalised)
    store: str  # "hf", "s3", "gs", "https", or the fsspec protocol
    files: tuple[RemoteFile, ...]
    subfolders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    repo_id: str | None = None
    revision: str | None = None
    commit: str | None = None
    scans_done: bool | None = None  # the Hub finished scanning this revision
    focus: str | None = None  # a single file was asked for

    def get(self, name: str) -> RemoteFile | None:
        return next((f for f in self.files if f.name == name), None)

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"how": "remote", "store": self.store, "url": self.url}
        for key in ("repo_id", "revision", "commit", "focus"):
            value = getattr(self, key)
            if value:
                out["file" if key == "focus" else key] = value
        return out


class Store(Protocol):
    """A place models are kept: it fetches byte ranges of a listed file."""

    def fetch(self, name: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of `name`; raises RemoteFailure."""
        ...


class RemoteStats:
    """Bytes and requests a check cost, counted across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.bytes_read = 0
        self.listing_requests = 0
        self.failures: dict[str, RemoteFailure] = {}  # file -> why it could not be read
        self.skipped: dict[str, str] = {}  # file -> why it was not read remotely

    def fetched(self, count: int) -> None:
        with self._lock:
            self.requests += 1
            self.bytes_read += count

    def failed(self, name: str, failure: RemoteFailure) -> None:
        with self._lock:
            self.failures.setdefault(name, failure)

    def facts(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bytes_read": self.bytes_read,
                               "requests": self.requests + self.listing_requests,
                               "range_requests": self.requests,
                               "listing_requests": self.listing_requests}
        if self.failures:
            out["failed"] = {n: f.as_evidence() for n, f in sorted(self.failures.items())}
        if self.skipped:
            out["not_read"] = dict(sorted(self.skipped.items()))
        return out


class RangedFile(io.RawIOBase):
    """A seekable, read-only file over a Store: reads are served from the bytes fetched so far,
    and what is missing is fetched as one range (at least the read-ahead)."""

    def __init__(self, store: Store, name: str, size: int, stats: RemoteStats,
                 cached: Iterable[tuple[int, bytes]] = ()) -> None:
        super().__init__()
        self.name_in_store = name
        self.size = size
        self._store = store
        self._stats = stats
        self._pos = 0
        self._segments: list[tuple[int, bytes]] = sorted(cached)
        self._last_end = -1
        self._ahead = FIRST_READ_AHEAD

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError(f"seek before the start of {self.name_in_store}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(self.size - self._pos)

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        parts: list[bytes] = []
        while self._pos < end:
            chunk = self._cached_at(self._pos, end)
            if chunk is None:
                chunk = self._fetch_from(self._pos, end)[: end - self._pos]
            parts.append(chunk)
            self._pos += len(chunk)
            if not chunk:
                break
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        limit = self.size - self._pos if size is None or size < 0 else size
        out = bytearray()
        while len(out) < limit:
            chunk = self.read(min(limit - len(out), 4096))
            if not chunk:
                break
            cut = chunk.find(b"\n")
            if cut >= 0:
                out += chunk[: cut + 1]
                self._pos -= len(chunk) - cut - 1
                break
            out += chunk
        return bytes(out)

    def _cached_at(self, pos: int, end: int) -> bytes | None:
        for start, data in self._segments:
            if start <= pos < start + len(data):
                return data[pos - start: end - start]
        return None

    def _fetch_from(self, pos: int, end: int) -> bytes:
        sequential = pos == self._last_end
        self._ahead = min(MAX_READ_AHEAD, self._ahead * 2) if sequential else FIRST_READ_AHEAD
        stop = min(self.size, max(end, pos + self._ahead))
        following = [s for s, _ in self._segments if s > pos]
        if following and min(following) >= end:  # never fetch again what is already here
            stop = min(stop, min(following))
        try:
            data = self._store.fetch(self.name_in_store, pos, stop)
            self._stats.fetched(len(data))
            if len(data) != stop - pos:
                raise RemoteFailure(NO_RANGES, f"asked for {stop - pos:,} bytes of "
                                    f"{self.name_in_store} at {pos:,}, got {len(data):,}")
        except RemoteFailure as failure:
            self._stats.failed(self.name_in_store, failure)
            raise
        self._segments.append((pos, data))
        self._segments.sort(key=lambda s: s[0])
        self._last_end = stop
        return data


def read_whole(f: RemoteFile) -> bool:
    """Files fetched whole in their first request: small ones, and JSON the snapshot reads
    whole anyway (tokenizer.json, a shard index) when it is not too large for a remote check."""
    return f.size <= WHOLE_FILE_BYTES or (f.name.endswith(".json") and f.size <= WHOLE_JSON_BYTES)


class RemoteSource:
    """A remote model as a ByteSource: the listing, heads fetched in parallel, ranged files."""

    remote = True

    def __init__(self, listing: RemoteListing, store: Store, stats: RemoteStats | None = None,
                 whole: Callable[[RemoteFile], bool] | None = None) -> None:
        self.listing = listing
        self.store = store
        self._stats = stats or RemoteStats()
        self._whole = whole or read_whole
        self._heads: dict[str, bytes] = {}
        self._inventory: Inventory | None = None

    def stats(self) -> RemoteStats:
        return self._stats

    def inventory(self) -> Inventory:
        if self._inventory is None:
            self._inventory = self._take_inventory()
        return self._inventory

    def open(self, name: str) -> BinaryIO:
        f = self.listing.get(name)
        if f is None:
            raise FileNotFoundError(name)
        failure = self._stats.failures.get(name)
        if failure is not None:
            raise failure
        head = self._heads.get(name)
        return RangedFile(self.store, name, f.size, self._stats,
                          [(0, head)] if head else ())  # type: ignore[return-value]

    def _take_inventory(self) -> Inventory:
        files = [f for f in self.listing.files if "/" not in f.name]
        tensors = sum(1 for f in files if f.name.endswith(".safetensors") and f.size > HEAD_BYTES)
        head = min(MAX_SAFETENSORS_HEAD,
                   max(HEAD_BYTES, SAFETENSORS_HEAD_BUDGET // max(1, tensors)))
        with ThreadPoolExecutor(max_workers=PARALLEL_FILES) as pool:
            entries = list(pool.map(lambda f: self._entry(
                f, head if f.name.endswith(".safetensors") else HEAD_BYTES), files))
        folders = {k: v[:MAX_SUBFOLDER_NAMES] for k, v in self.listing.subfolders.items()}
        with_weights = tuple(sorted(
            name for name, inside in folders.items()
            if any(n.endswith(WEIGHT_SUFFIXES) and not is_training_state(n) for n in inside)))
        return Inventory(tuple(sorted(entries, key=lambda e: e.name)), with_weights,
                         subfolders=folders)

    def _entry(self, f: RemoteFile, head_bytes: int = HEAD_BYTES) -> Entry:
        if f.size == 0:
            return Entry(f.name, 0, kind=sniff(b"", 0, f.name), head=b"")
        want = f.size if self._whole(f) else min(f.size, head_bytes)
        try:
            head = self.store.fetch(f.name, 0, want)
            self._stats.fetched(len(head))
            if len(head) != want:
                raise RemoteFailure(NO_RANGES, f"asked for {want:,} bytes of {f.name}, got "
                                    f"{len(head):,}")
            zero_filled = not head[:HEAD_BYTES].strip(b"\x00")
            if zero_filled and f.size > len(head):  # zeros at both ends: preallocated space
                tail = self.store.fetch(f.name, f.size - HEAD_BYTES, f.size)
                self._stats.fetched(len(tail))
                zero_filled = not tail.strip(b"\x00")
        except RemoteFailure as failure:
            self._stats.failed(f.name, failure)
            return Entry(f.name, size=f.size, unreadable=failure.message)
        self._heads[f.name] = head
        kind = sniff(head[:HEAD_BYTES], f.size, f.name, zero_filled=zero_filled)
        return Entry(f.name, size=f.size, kind=kind, head=head[:HEAD_BYTES])
