"""Every byte of a file read once: its sha256, its git blob sha1 when a reference needs it, and
the CRC32 of each stored zip member, all computed from the same reads.

Files are hashed in parallel threads: hashlib and zlib release the GIL on large updates, and so
do reads. When there are fewer files than threads, a large file is read ahead by a second
thread, so that reading and hashing overlap. Reads are 2 MiB: large enough that system calls
cost nothing, small enough that a chunk is still in the CPU cache when it is hashed (8 MiB
measured no faster). The work is bounded by the files' sizes; a `threading.Event` stops it
between reads.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import os
import queue
import stat
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from whyload.integrity.zipspans import MemberSpan, ZipLayout, read_zip_layout

CHUNK_BYTES = 2 << 20
# progress(done_bytes, total_bytes), called from the hashing threads
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class HashRequest:
    name: str  # as reported: relative to the model folder
    path: Path
    git_sha1: bool = False  # also compute sha1(b"blob <size>\0" + content), git's blob id
    zip_crcs: bool = False  # a zip: check each stored member's CRC32 while reading


@dataclass(frozen=True)
class CrcMismatch:
    member: str
    expected: int
    actual: int


@dataclass(frozen=True)
class FileDigest:
    name: str
    size: int = 0  # bytes read
    sha256: str | None = None  # None when the file could not be read to its end
    git_sha1: str | None = None
    zip: ZipLayout | None = None
    crc_mismatches: tuple[CrcMismatch, ...] = ()
    error: str | None = None  # why it could not be read
    interrupted: bool = False


def default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, 32))


def hash_files(
    requests: Sequence[HashRequest],
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> tuple[list[FileDigest], bool]:
    """Hash every file; returns the digests (in request order) and whether it was interrupted.

    Ctrl-C while waiting sets `stop`: every thread finishes its current read and returns what
    it has, so the caller can report the files verified so far. A second Ctrl-C raises."""
    stop = stop or threading.Event()
    total = sum(_size(r.path) for r in requests)
    counter = _Counter(total, progress)
    largest_first = sorted(range(len(requests)), key=lambda i: -_size(requests[i].path))
    results: dict[int, FileDigest] = {}
    interrupted = False
    workers = workers or default_workers()
    read_ahead = len(requests) < workers  # a core would idle otherwise
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                               thread_name_prefix="whyload-hash") as pool:
        futures = {pool.submit(hash_file, requests[i], stop=stop, advance=counter.add,
                               read_ahead=read_ahead): i
                   for i in largest_first}
        pending = set(futures)
        while pending:
            try:
                done, pending = concurrent.futures.wait(pending, timeout=0.25)
            except KeyboardInterrupt:
                if interrupted:  # a second Ctrl-C: stop waiting for a partial report
                    raise
                stop.set()
                interrupted = True
                continue
            for future in done:
                results[futures[future]] = future.result()
    interrupted = interrupted or stop.is_set()
    return [results[i] for i in range(len(requests))], interrupted


def hash_file(request: HashRequest, *, stop: threading.Event | None = None,
              advance: Callable[[int], None] | None = None,
              read_ahead: bool = False) -> FileDigest:
    """Read `request.path` once, start to end; never raises on an unreadable file.
    `read_ahead`: read the next chunk in a second thread while this one is hashed."""
    name = request.name
    try:
        fd = os.open(request.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return FileDigest(name, error=exc.strerror or str(exc))
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            return FileDigest(name, error="not a regular file")
        os.set_blocking(fd, True)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        layout = read_zip_layout(f, st.st_size) if request.zip_crcs else None
        f.seek(0)
        sha256 = hashlib.sha256()
        sha1 = hashlib.sha1(b"blob %d\0" % st.st_size) if request.git_sha1 else None
        crcs = _CrcTracker(layout.spans if layout else ())
        position = 0
        with _Prefetcher(f, prefetch=read_ahead and st.st_size > 2 * CHUNK_BYTES) as chunks:
            try:
                for chunk in chunks:
                    if stop is not None and stop.is_set():
                        return FileDigest(name, size=position, zip=layout, interrupted=True,
                                          crc_mismatches=crcs.mismatches)
                    sha256.update(chunk)
                    if sha1 is not None:
                        sha1.update(chunk)
                    crcs.feed(position, chunk)
                    position += len(chunk)
                    if advance is not None:
                        advance(len(chunk))
            except OSError as exc:
                return FileDigest(name, size=position, zip=layout,
                                  error=exc.strerror or str(exc))
    return FileDigest(name, size=position, sha256=sha256.hexdigest(),
                      git_sha1=sha1.hexdigest() if sha1 is not None else None, zip=layout,
                      crc_mismatches=crcs.mismatches)


class _Prefetcher:
    """The file's chunks in order; for a large file, a thread reads the next chunk while the
    current one is hashed (two buffers, handed back and forth), so that reading and hashing
    overlap even when one big file is all there is to do."""

    def __init__(self, f: io.FileIO, *, prefetch: bool) -> None:
        self._f = f
        self._free: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[bytearray, int] | OSError] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._buffers = [bytearray(CHUNK_BYTES) for _ in range(2 if prefetch else 1)]
        for buffer in self._buffers:
            self._free.put(buffer)
        if prefetch:
            self._thread = threading.Thread(target=self._read_ahead, daemon=True,
                                            name="whyload-read")

    def __enter__(self) -> Iterator[memoryview]:
        if self._thread is not None:
            self._thread.start()
        return self._chunks()

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._free.put(None)  # wakes the reader if it waits for a buffer
            self._thread.join()

    def _read_ahead(self) -> None:
        while True:
            buffer = self._free.get()
            if buffer is None:
                return
            try:
                n = self._f.readinto(buffer)
            except OSError as exc:
                self._full.put(exc)
                return
            self._full.put((buffer, n))
            if not n:
                return

    def _chunks(self) -> Iterator[memoryview]:
        while True:
            if self._thread is None:
                buffer = self._buffers[0]
                n = self._f.readinto(buffer)
            else:
                item = self._full.get()
                if isinstance(item, OSError):
                    raise item
                buffer, n = item
            if not n:
                return
            yield memoryview(buffer)[:n]
            if self._thread is not None:
                self._free.put(buffer)


class _CrcTracker:
    """Running CRC32s of the members whose data overlaps the chunks fed to it, in file order."""

    def __init__(self, spans: Sequence[MemberSpan]) -> None:
        self._spans = spans
        self._next = 0  # the first span not yet complete
        self._crc = 0
        self._found: list[CrcMismatch] = []

    @property
    def mismatches(self) -> tuple[CrcMismatch, ...]:
        return tuple(self._found)

    def feed(self, position: int, chunk: memoryview) -> None:
        end = position + len(chunk)
        while self._next < len(self._spans):
            span = self._spans[self._next]
            if span.start >= end:
                return
            lo = max(span.start, position)
            hi = min(span.end, end)
            if hi > lo:
                self._crc = zlib.crc32(chunk[lo - position : hi - position], self._crc)
            if span.end > end:
                return
            if self._crc != span.crc:
                self._found.append(CrcMismatch(span.name, span.crc, self._crc))
            self._crc = 0
            self._next += 1


class _Counter:
    def __init__(self, total: int, progress: ProgressCallback | None) -> None:
        self._total = total
        self._done = 0
        self._lock = threading.Lock()
        self._progress = progress

    def add(self, n: int) -> None:
        if self._progress is None:
            return
        with self._lock:
            self._done += n
            done = self._done
        self._progress(done, self._total)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
