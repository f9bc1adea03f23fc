"""Any fsspec store as a Store: s3:// (s3fs), gs:// (gcsfs), https:// (fsspec's HTTP), and the
rest of fsspec's protocols. One `ls` lists the folder (and one per subfolder, bounded); files
are read with `cat_file(path, start, end)`, one range request each.

Credentials come from where each library looks (AWS_* / ~/.aws, GOOGLE_APPLICATION_CREDENTIALS,
...), plus `--storage-option key=value`, passed to the filesystem as is.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from whyload.sources.remote import (
    AUTH,
    NO_RANGES,
    NOT_FOUND,
    TIMED_OUT,
    RemoteFailure,
    RemoteFile,
    RemoteListing,
    RemoteStats,
)

MAX_SUBFOLDERS_LISTED = 50
EXTRAS = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"), "gs": ("gcsfs", "gcs"),
          "gcs": ("gcsfs", "gcs"), "http": ("aiohttp", "s3"), "https": ("aiohttp", "s3")}


class FsspecStore:
    """Ranged reads of files under one root of an fsspec filesystem."""

    def __init__(self, fs: Any, root: str, url: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url

    def path(self, name: str) -> str:
        return f"{self.root}/{name}" if self.root else name

    def fetch(self, name: str, start: int, end: int) -> bytes:
        try:
            data: bytes = self.fs.cat_file(self.path(name), start=start, end=end)
        except Exception as exc:
            raise failure_of(exc, f"{self.url.rstrip('/')}/{name}") from None
        if len(data) > end - start:  # a server that ignores Range sends the whole file
            raise RemoteFailure(NO_RANGES, f"the server does not serve byte ranges of {name}: "
                                f"it sent {len(data):,} bytes for a {end - start:,}-byte range",
                                hint="download the file and check it locally")
        return data


def failure_of(exc: Exception, what: str) -> RemoteFailure:
    """botocore's, gcsfs's, aiohttp's and fsspec's errors as the failure a finding names."""
    if isinstance(exc, RemoteFailure):
        return exc
    unreachable = _unreachable(exc)
    if unreachable is not None:  # fsspec's HTTP store wraps a refused connection in a 404
        return RemoteFailure(TIMED_OUT, f"cannot reach the server for {what}: {unreachable}"[:300],
                             hint="check the network, the endpoint and any proxy settings")
    text = str(exc)
    status = getattr(exc, "status", None) or getattr(exc, "code", None)
    if isinstance(exc, FileNotFoundError) or status == 404 or "NoSuchBucket" in text \
            or "NoSuchKey" in text or "Not Found" in text:
        return RemoteFailure(NOT_FOUND, f"not found: {what}", status=404,
                             hint="check the bucket, the prefix and the file name")
    if isinstance(exc, PermissionError) or status in (401, 403) or "AccessDenied" in text \
            or "Forbidden" in text or "InvalidAccessKeyId" in text or "credentials" in text:
        return RemoteFailure(AUTH, f"access denied: {what} ({text[:120]})",
                             status=status if isinstance(status, int) else 403,
                             hint="set the store's credentials (AWS_PROFILE / AWS_ACCESS_KEY_ID, "
                             "GOOGLE_APPLICATION_CREDENTIALS) or pass --storage-option "
                             "key=value; for a public bucket: --storage-option anon=true")
    if status == 416 or "416" in text or ("Range" in text and "Satisfiable" in text):
        return RemoteFailure(NO_RANGES, f"the server refused a byte range of {what} (416)",
                             status=416, hint="download the file and check it locally")
    if status == 429 or "SlowDown" in text or "429" in text:
        return RemoteFailure("WL583", f"rate limited reading {what}", status=429,
                             hint="wait and run again")
    return RemoteFailure(TIMED_OUT, f"cannot read {what}: {type(exc).__name__}: {text}"[:300],
                         hint="check the network, the endpoint and the credentials")


def _unreachable(exc: BaseException) -> str | None:
    """The connection failure behind an error (refused, no route, DNS, timeout), if any."""
    seen: BaseException | None = exc
    for _ in range(8):  # a cause chain is short; a cycle is not followed forever
        if seen is None:
            return None
        if isinstance(seen, (ConnectionError, TimeoutError)) or \
                type(seen).__name__ in ("ClientConnectorError", "ServerTimeoutError",
                                        "ConnectTimeoutError", "EndpointConnectionError"):
            return f"{type(seen).__name__}: {seen}"
        seen = seen.__cause__ or seen.__context__
    return None


def open_filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    """fsspec's filesystem for url, and the path in it."""
    import fsspec  # type: ignore[import-untyped]

    return fsspec.core.url_to_fs(url, **storage_options)  # type: ignore[no-any-return]


def list_store(url: str, storage_options: dict[str, Any],
               stats: RemoteStats) -> tuple[RemoteListing, FsspecStore]:
    """The folder's files (and its subfolders' names), or the single file url names."""
    protocol = url.split("://", 1)[0].lower()
    try:
        fs, path = open_filesystem(url, storage_options)
    except ImportError as exc:
        module, extra = EXTRAS.get(protocol, (str(exc.name or protocol), protocol))
        from whyload.errors import MissingExtra

        raise MissingExtra(f"reading {protocol}:// targets", [module], extra) from None
    except Exception as exc:
        raise failure_of(exc, url) from None
    if protocol in ("http", "https"):
        return _list_one_file(fs, path, url, stats)
    try:
        entries = fs.ls(path, detail=True, refresh=True)
    except Exception as exc:
        raise failure_of(exc, url) from None
    stats.listing_requests += 1
    root = path.rstrip("/")
    if len(entries) == 1 and entries[0].get("type") == "file" and \
            entries[0]["name"].rstrip("/") == root:
        parent, _, name = root.rpartition("/")
        return (RemoteListing(url, protocol, (_remote_file(entries[0], name),), focus=name),
                FsspecStore(fs, parent, url.rsplit("/", 1)[0]))
    if not entries:
        raise RemoteFailure(NOT_FOUND, f"nothing at {url}", status=404,
                            hint="check the bucket and the prefix (a folder ends with /)")
    files, folders = [], []
    for e in entries:
        name = e["name"].rstrip("/").rsplit("/", 1)[-1]
        if e.get("type") == "directory":
            folders.append((name, e["name"]))
        else:
            files.append(_remote_file(e, name))
    with ThreadPoolExecutor(max_workers=8) as pool:
        inside = list(pool.map(lambda d: _names_in(fs, d[1]), folders[:MAX_SUBFOLDERS_LISTED]))
    stats.listing_requests += len(inside)
    subfolders = {name: names for (name, _), names in zip(folders, inside, strict=False)}
    return (RemoteListing(url, protocol, tuple(files), subfolders=subfolders),
            FsspecStore(fs, root, url))


def _names_in(fs: Any, path: str) -> tuple[str, ...]:
    try:
        return tuple(sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)))
    except Exception:
        return ()


def _remote_file(entry: dict[str, Any], name: str) -> RemoteFile:
    return RemoteFile(name, int(entry.get("size") or 0))


def _list_one_file(fs: Any, path: str, url: str,
                   stats: RemoteStats) -> tuple[RemoteListing, FsspecStore]:
    """A single file on an HTTP server: its size from a HEAD request."""
    try:
        info = fs.info(path)
    except Exception as exc:
        raise failure_of(exc, url) from None
    stats.listing_requests += 1
    size = info.get("size")
    if not isinstance(size, int):
        raise RemoteFailure(NO_RANGES, f"the server does not say how large {url} is, so it "
                            "cannot be read by ranges", hint="download it and check it locally")
    base, _, name = path.rstrip("/").rpartition("/")
    return (RemoteListing(url, "https" if url.startswith("https") else "http",
                          (RemoteFile(name, size),), focus=name), FsspecStore(fs, base, base))
