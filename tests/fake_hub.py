"""A small Hugging Face Hub on 127.0.0.1, serving folders on disk, for the remote tests and the
benchmark. It implements what huggingface_hub calls:

    GET  /api/models/{repo}[/revision/{rev}]        model info: sha, siblings (size, blobId,
                                                    lfs {size, sha256, pointerSize}),
                                                    securityRepoStatus with ?securityStatus
    GET  /api/models/{repo}/tree/{rev}[/{path}]     the tree listing (path, size, oid, lfs)
    POST /api/models/{repo}/paths-info/{rev}        the same for named paths
    HEAD/GET /{repo}/resolve/{rev}/{file}           the bytes, with Range (206 + Content-Range),
                                                    X-Repo-Commit, ETag, X-Linked-Size and
                                                    X-Linked-ETag for LFS files

Failure modes are set per test: `fail[path_prefix] = (status, headers)` answers that status
(401, 403 gated, 404, 416, 429 with Retry-After) for every request whose path starts so;
`ignore_ranges` answers a Range with the whole file (200). Requests and bytes sent are counted.
Large files may be sparse on disk: the LFS sha256 of a file over `hash_limit` is made up (the
remote check never reads it; only `verify --against` does, on small ones).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx",
                ".gguf", ".ot")


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # a check opens 16 connections at once; 5 would drop SYNs


@dataclass
class Repo:
    folder: Path
    commit: str
    revisions: tuple[str, ...] = ("main",)
    security: dict[str, Any] | None = None  # securityRepoStatus
    sha256: dict[str, str] = field(default_factory=dict)


class FakeHub:
    def __init__(self, hash_limit: int = 64 << 20, latency_s: float = 0.0) -> None:
        self.repos: dict[str, Repo] = {}
        self.fail: dict[str, tuple[int, dict[str, str]]] = {}
        self.fail_once: dict[str, tuple[int, dict[str, str]]] = {}  # the first match only
        self.ignore_ranges = False
        self.redirect_lfs = False  # answer LFS files with a 302 to /cdn/..., as the Hub does
        self.hash_limit = hash_limit
        self.latency_s = latency_s
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range
        self.authorizations: set[str] = set()  # the Authorization headers seen
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, repo_id: str, folder: Path, *, revisions: tuple[str, ...] = ("main",),
            security: dict[str, Any] | None = None) -> Repo:
        commit = hashlib.sha1(f"{repo_id}{folder}".encode()).hexdigest()
        repo = Repo(folder, commit, revisions, security)
        self.repos[repo_id] = repo
        return repo

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.authorizations.clear()
            self.bytes_sent = 0

    def range_requests(self) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if "/resolve/" in r[1]]

    # -- what a repo serves ---------------------------------------------------------------

    def files(self, repo: Repo) -> list[str]:
        return sorted(p.relative_to(repo.folder).as_posix() for p in repo.folder.rglob("*")
                      if p.is_file() and ".cache" not in p.parts)

    def sha256(self, repo: Repo, name: str) -> str:
        if name not in repo.sha256:
            path = repo.folder / name
            if path.stat().st_size > self.hash_limit:
                repo.sha256[name] = hashlib.sha256(name.encode()).hexdigest()
            else:
                repo.sha256[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        return repo.sha256[name]

    def git_oid(self, repo: Repo, name: str, size: int, lfs: bool) -> str:
        """The git blob id: of the file itself, or (LFS) of the pointer git stores instead."""
        if lfs:
            pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:"
                       f"{self.sha256(repo, name)}\nsize {size}\n").encode()
            return hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()
        data = (repo.folder / name).read_bytes()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def entry(self, repo: Repo, name: str, *, tree: bool = False) -> dict[str, Any]:
        path = repo.folder / name
        size = path.stat().st_size
        lfs = name.endswith(LFS_SUFFIXES) and size > 200
        oid = self.git_oid(repo, name, size, lfs)
        if tree:
            out: dict[str, Any] = {"type": "file", "path": name, "size": size, "oid": oid}
            if lfs:
                out["lfs"] = {"oid": self.sha256(repo, name), "size": size, "pointerSize": 134}
            return out
        out = {"rfilename": name, "size": size, "blobId": oid}
        if lfs:
            out["lfs"] = {"size": size, "sha256": self.sha256(repo, name), "pointerSize": 134}
        return out

    def model_info(self, repo_id: str, repo: Repo, security: bool) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False,
            "siblings": [self.entry(repo, n) for n in self.files(repo)],
        }
        if security:
            info["securityRepoStatus"] = repo.security or {"scansDone": True,
                                                           "filesWithIssues": []}
        return info

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.answer(head=True)

            def do_GET(self) -> None:
                self.answer(head=False)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                self.answer(head=False, body=body)

            def send(self, status: int, data: bytes = b"", headers: dict[str, str] | None = None,
                     head: bool = False, content_type: str = "application/json") -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)
                    with hub._lock:
                        hub.bytes_sent += len(data)

            def error(self, status: int, code: str, message: str, head: bool = False,
                      extra: dict[str, str] | None = None) -> None:
                self.send(status, json.dumps({"error": message}).encode(),
                          {"X-Error-Code": code, "X-Error-Message": message, **(extra or {})},
                          head=head)

            def answer(self, head: bool, body: bytes = b"") -> None:
                path = unquote(urlparse(self.path).path)
                query = urlparse(self.path).query
                with hub._lock:
                    hub.requests.append((self.command, path, self.headers.get("Range")))
                    if self.headers.get("Authorization"):
                        hub.authorizations.add(self.headers["Authorization"])
                if hub.latency_s:
                    import time

                    time.sleep(hub.latency_s)
                with hub._lock:
                    once = next((p for p in hub.fail_once if path.startswith(p)), None)
                    failing = {once: hub.fail_once.pop(once)} if once else dict(hub.fail)
                for prefix, (status, headers) in failing.items():
                    if path.startswith(prefix):
                        code = headers.get("X-Error-Code", "")
                        self.error(status, code, headers.get("X-Error-Message", "refused"),
                                   head, {k: v for k, v in headers.items()
                                          if k not in ("X-Error-Code", "X-Error-Message")})
                        return
                # a repo id is org/name, or a bare name the hub serves (gpt2) when one is added
                repo = "|".join(re.escape(r) for r in hub.repos if "/" not in r)
                repo = rf"(?P<repo>{repo + '|' if repo else ''}[^/]+/[^/]+)"
                m = re.match(rf"^/api/models/{repo}(?P<rest>/.*)?$", path)
                if m:
                    self.api(m["repo"], m["rest"] or "", query, body, head)
                    return
                m = re.match(rf"^/{repo}/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", path)
                if m:
                    self.resolve(m["repo"], m["rev"], m["file"], head)
                    return
                m = re.match(rf"^/cdn/{repo}/(?P<rev>[^/]+)/(?P<file>.+)$", path)
                if m:
                    self.resolve(m["repo"], m["rev"], m["file"], head, cdn=True)
                    return
                self.error(404, "", "no such endpoint", head)

            def repo_or_404(self, repo_id: str, head: bool) -> Repo | None:
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self.error(404, "RepoNotFound", "Repository not found", head)
                return repo

            def revision_ok(self, repo: Repo, rev: str, head: bool) -> bool:
                if rev in repo.revisions or rev == repo.commit:
                    return True
                self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
                return False

            def api(self, repo_id: str, rest: str, query: str, body: bytes, head: bool) -> None:
                repo = self.repo_or_404(repo_id, head)
                if repo is None:
                    return
                m = re.match(r"^(?:/revision/(?P<rev>[^/]+))?$", rest)
                if m:
                    if not self.revision_ok(repo, m["rev"] or "main", head):
                        return
                    info = hub.model_info(repo_id, repo, "securityStatus" in query)
                    self.send(200, json.dumps(info).encode(), head=head)
                    return
                m = re.match(r"^/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$", rest)
                if m:
                    if not self.revision_ok(repo, m["rev"], head):
                        return
                    prefix = (m["path"] or "").strip("/")
                    names = hub.files(repo)
                    out: list[dict[str, Any]] = []
                    dirs = set()
                    for n in names:
                        if prefix and not n.startswith(prefix + "/"):
                            continue
                        rel = n[len(prefix) + 1:] if prefix else n
                        if "/" in rel and "recursive" not in query:
                            d = (prefix + "/" if prefix else "") + rel.split("/", 1)[0]
                            if d not in dirs:
                                dirs.add(d)
                                out.append({"type": "directory", "path": d, "size": 0,
                                            "oid": hashlib.sha1(d.encode()).hexdigest()})
                            continue
                        out.append(hub.entry(repo, n, tree=True))
                    self.send(200, json.dumps(out).encode(), head=head)
                    return
                m = re.match(r"^/paths-info/(?P<rev>[^/]+)$", rest)
                if m:
                    if not self.revision_ok(repo, m["rev"], head):
                        return
                    try:
                        wanted = json.loads(body or b"{}").get("paths", [])
                    except ValueError:
                        from urllib.parse import parse_qs

                        wanted = parse_qs(body.decode()).get("paths", [])
                    names = set(hub.files(repo))
                    out = [hub.entry(repo, p, tree=True) for p in wanted if p in names]
                    self.send(200, json.dumps(out).encode(), head=head)
                    return
                self.error(404, "", "no such endpoint", head)

            def resolve(self, repo_id: str, rev: str, name: str, head: bool,
                        cdn: bool = False) -> None:
                repo = self.repo_or_404(repo_id, head)
                if repo is None or not self.revision_ok(repo, rev, head):
                    return
                path = repo.folder / name
                if not path.is_file():
                    self.error(404, "EntryNotFound", f"{name} does not exist", head)
                    return
                size = path.stat().st_size
                lfs = name.endswith(LFS_SUFFIXES) and size > 200
                etag = hub.sha256(repo, name) if lfs else hashlib.sha1(
                    f"{name}{size}".encode()).hexdigest()
                headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{etag}"',
                           "Accept-Ranges": "bytes"}
                if lfs:
                    headers.update({"X-Linked-Size": str(size), "X-Linked-ETag": f'"{etag}"'})
                if lfs and hub.redirect_lfs and not cdn:
                    headers["Location"] = f"/cdn/{repo_id}/{repo.commit}/{name}"
                    self.send(302, b"", headers, head=head)
                    return
                wanted = self.headers.get("Range")
                start, end = 0, size - 1
                status = 200
                if wanted and not hub.ignore_ranges:
                    m = re.match(r"^bytes=(\d+)-(\d*)$", wanted)
                    if m is None or int(m[1]) >= size:
                        self.error(416, "", "Range Not Satisfiable", head,
                                   {"Content-Range": f"bytes */{size}"})
                        return
                    start = int(m[1])
                    end = min(size - 1, int(m[2])) if m[2] else size - 1
                    status = 206
                    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
                length = end - start + 1
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if head:
                    return
                sent = 0
                try:
                    with path.open("rb") as f:
                        f.seek(start)
                        while sent < length:
                            chunk = f.read(min(1 << 20, length - sent))
                            if not chunk:
                                break
                            self.wfile.write(chunk)
                            sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                with hub._lock:
                    hub.bytes_sent += sent

        return Handler
