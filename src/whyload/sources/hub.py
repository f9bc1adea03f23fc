"""The Hugging Face Hub as a Store: one model_info call lists the revision (sizes, LFS sha256,
the Hub's own scan results), and files are read by Range requests on their resolve URLs.

Everything goes through huggingface_hub (HfApi, hf_hub_url, its HTTP session and headers), so
HF_ENDPOINT, HF_TOKEN (or the stored token) and proxies apply as for `hf download`. Nothing is
written to the HF cache.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from whyload.sources.remote import (
    AUTH,
    NO_RANGES,
    NOT_FOUND,
    OFFLINE,
    RATE_LIMITED,
    TIMED_OUT,
    RemoteFailure,
    RemoteFile,
    RemoteListing,
    RemoteStats,
)

MAX_RETRIES = 2  # a 429 or 5xx is retried this many times
MAX_RETRY_AFTER_S = 10.0  # a Retry-After longer than this is not waited for
TIMEOUT_S = 20.0

T = TypeVar("T")


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as huggingface_hub reads it."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in ("1", "ON", "YES", "TRUE")


def endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def token() -> str | None:
    return os.environ.get("HF_TOKEN") or None


class HubStore:
    """Ranged reads of one revision (a commit, so every read sees the same files)."""

    def __init__(self, repo_id: str, commit: str, *, repo_type: str = "model") -> None:
        self.repo_id = repo_id
        self.commit = commit
        self.repo_type = repo_type
        self.endpoint = endpoint()

    def url(self, name: str) -> str:
        from huggingface_hub import hf_hub_url

        return hf_hub_url(self.repo_id, name, revision=self.commit, repo_type=self.repo_type,
                          endpoint=self.endpoint)

    def fetch(self, name: str, start: int, end: int) -> bytes:
        from huggingface_hub.utils._headers import build_hf_headers
        from huggingface_hub.utils._http import http_stream_backoff

        headers = build_hf_headers(token=token())
        headers["Range"] = f"bytes={start}-{end - 1}"

        def get() -> bytes:
            with http_stream_backoff("GET", self.url(name), headers=headers, max_retries=0,
                                     retry_on_status_codes=(), timeout=TIMEOUT_S) as response:
                status = response.status_code
                if status == 206 or (status == 200 and start == 0 and _length(response) == end):
                    return _read_at_most(response, end - start)
                if status == 200:  # the whole file for a range: stop before it downloads
                    raise RemoteFailure(NO_RANGES, f"the server ignored the byte range asked for "
                                        f"{name} and started sending the whole file", status=200,
                                        hint="")
                response.read()
                raise failure_of_response(response, what=name, repo_id=self.repo_id)

        try:
            return with_retries(get, what=name)
        except RemoteFailure as failure:
            if failure.code == NO_RANGES and not failure.hint.startswith("hf download"):
                failure.hint = (f"hf download {self.repo_id} --revision {self.commit} "
                                f"--local-dir ./{self.repo_id.split('/')[-1]}, then whyload "
                                f"check ./{self.repo_id.split('/')[-1]}")
            raise


def _length(response: Any) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _read_at_most(response: Any, count: int) -> bytes:
    out = bytearray()
    for chunk in response.iter_bytes():
        out += chunk
        if len(out) >= count:
            break
    return bytes(out[:count])


def with_retries(call: Callable[[], T], *, what: str) -> T:
    """call(), retried on 429 and 5xx at most MAX_RETRIES times, waiting what Retry-After says
    when that is at most MAX_RETRY_AFTER_S (else failing at once with the delay named)."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            return call()
        except RemoteFailure as failure:
            retryable = failure.status == 429 or (failure.status or 0) >= 500
            wait = failure.retry_after if failure.retry_after is not None else 0.5 * 2 ** attempt
            if not retryable or attempt == MAX_RETRIES or wait > MAX_RETRY_AFTER_S:
                raise
            time.sleep(wait)
        except Exception as exc:  # the HTTP stack's own errors: timeouts, refused connections
            raise failure_of_exception(exc, what) from None
    raise AssertionError("unreachable")


def failure_of_response(response: Any, *, what: str, repo_id: str | None) -> RemoteFailure:
    status = response.status_code
    code = response.headers.get("X-Error-Code", "")
    who = repo_id or what
    if status in (401, 403) or code == "GatedRepo":
        message = response.headers.get("X-Error-Message", "").lower()
        if code == "GatedRepo" or "gated" in message:
            return RemoteFailure(AUTH, f"{who} is gated: its license must be accepted before "
                                 "its files can be read", status=status,
                                 hint=f"accept it at {endpoint()}/{who}, then pass a token: "
                                 "`hf auth login` or HF_TOKEN=hf_...")
        return RemoteFailure(AUTH, f"{who}: access denied ({status}); it is private or gated, or "
                             "the token is not accepted", status=status,
                             hint="pass a token that can read it: `hf auth login` or "
                             "HF_TOKEN=hf_...")
    if status == 404:
        kind = {"RevisionNotFound": "revision", "EntryNotFound": "file",
                "RepoNotFound": "repository"}.get(code, "file")
        return RemoteFailure(NOT_FOUND, f"{kind} not found: {what}", status=404,
                             hint="check the name and revision (hf://org/name@revision)")
    if status == 416:
        return RemoteFailure(NO_RANGES, f"the server refused the byte range asked for {what} "
                             "(416 Range Not Satisfiable)", status=416,
                             hint="download the file and check it locally")
    if status == 429:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return RemoteFailure(RATE_LIMITED, f"rate limited (429) reading {what}"
                             + (f"; the server asks to wait {retry_after:g} s" if retry_after
                                else ""), status=429, retry_after=retry_after,
                             hint="wait and run again, or pass a token (HF_TOKEN): "
                             "authenticated requests get a higher limit")
    return RemoteFailure(TIMED_OUT if status >= 500 else NOT_FOUND,
                         f"the server answered {status} for {what}", status=status,
                         hint="run again later")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def failure_of_exception(exc: Exception, what: str) -> RemoteFailure:
    """huggingface_hub's and httpx's exceptions as the failure a finding names."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, RemoteFailure):
        return exc
    if isinstance(exc, OfflineModeIsEnabled):
        return offline_failure(what)
    response = getattr(exc, "response", None)
    if isinstance(exc, GatedRepoError):
        return RemoteFailure(AUTH, f"{what} is gated: its license must be accepted before its "
                             "files can be read", status=getattr(response, "status_code", 403),
                             hint=f"accept it at {endpoint()}/{what}, then pass a token: "
                             "`hf auth login` or HF_TOKEN=hf_...")
    if isinstance(exc, RevisionNotFoundError):
        return RemoteFailure(NOT_FOUND, f"revision not found: {what}", status=404,
                             hint="check the revision: a branch, a tag or a commit hash")
    if isinstance(exc, RepositoryNotFoundError):
        status = getattr(response, "status_code", 404)
        return RemoteFailure(NOT_FOUND if status == 404 else AUTH,
                             f"repository not found: {what}" + (
                                 " (or private: 401 without a token that can read it)"
                                 if status == 401 else ""), status=status,
                             hint="check the name; for a private repo pass a token: "
                             "`hf auth login` or HF_TOKEN=hf_...")
    if isinstance(exc, RemoteEntryNotFoundError):
        return RemoteFailure(NOT_FOUND, f"file not found: {what}", status=404)
    if isinstance(exc, HfHubHTTPError) and response is not None:
        return failure_of_response(response, what=what, repo_id=None)
    name = type(exc).__name__
    if "Timeout" in name:
        return RemoteFailure(TIMED_OUT, f"no answer within {TIMEOUT_S:g} s reading {what}",
                             hint="run again; on a slow link raise HF_HUB_DOWNLOAD_TIMEOUT")
    if isinstance(exc, (OSError, ConnectionError)) or "Connect" in name or "Network" in name \
            or "Protocol" in name:
        return RemoteFailure(TIMED_OUT, f"cannot reach the server for {what}: {exc}"[:300],
                             hint="check the network, HF_ENDPOINT and any proxy settings")
    return RemoteFailure(TIMED_OUT, f"{name} reading {what}: {exc}"[:300])


def offline_failure(what: str) -> RemoteFailure:
    return RemoteFailure(OFFLINE, f"{what} is remote, and HF_HUB_OFFLINE is set: reading it "
                         "needs the network", hint="unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE)"
                         ", or download it first and check the folder")


def list_hub(repo_id: str, revision: str | None, stats: RemoteStats,
             url: str) -> tuple[RemoteListing, HubStore]:
    """The revision's files, with sizes, LFS sha256 and the Hub's scan of each, in one call."""
    if offline():
        raise offline_failure(url)
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint(), token=token())

    def info() -> Any:
        try:
            return api.model_info(repo_id, revision=revision, files_metadata=True,
                                  securityStatus=True, timeout=TIMEOUT_S)
        except Exception as exc:
            raise failure_of_exception(exc, repo_id if revision is None
                                       else f"{repo_id}@{revision}") from None

    model = with_retries(info, what=repo_id)
    stats.listing_requests += 1
    flagged = _flagged_files(getattr(model, "security_repo_status", None))
    files: list[RemoteFile] = []
    subfolders: dict[str, list[str]] = {}
    for sib in model.siblings or ():
        name = sib.rfilename
        lfs = sib.lfs
        scan, detail = flagged.get(name, (None, ()))
        if "/" in name:
            folder, rest = name.split("/", 1)
            subfolders.setdefault(folder, []).append(rest.split("/", 1)[0])
        files.append(RemoteFile(name, int(sib.size or (lfs.size if lfs else 0) or 0),
                                sha256=lfs.sha256 if lfs else None, lfs=lfs is not None,
                                scan=scan, scan_detail=detail, git_oid=sib.blob_id))
    status = getattr(model, "security_repo_status", None)
    listing = RemoteListing(
        url=url, store="hf", files=tuple(files),
        subfolders={k: tuple(sorted(set(v))) for k, v in subfolders.items()},
        repo_id=repo_id, revision=revision or "main", commit=model.sha,
        scans_done=status.get("scansDone") if isinstance(status, dict) else None)
    return listing, HubStore(repo_id, model.sha or revision or "main")


def _flagged_files(status: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    """securityRepoStatus.filesWithIssues: path -> (level, what the scan named)."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    if not isinstance(status, dict):
        return out
    for item in status.get("filesWithIssues") or ():
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            continue
        level = str(item.get("level") or "unsafe")
        named: list[str] = []
        for scan in ("pickleImportScan", "avScan", "jFrogScan", "protectAiScan"):
            value = item.get(scan)
            if isinstance(value, dict):
                for imp in value.get("imports") or ():
                    if isinstance(imp, dict) and imp.get("safety") in ("dangerous", "suspicious"):
                        named.append(f"{imp.get('module')}.{imp.get('name')}")
                for virus in value.get("virusNames") or ():
                    named.append(str(virus))
        out[item["path"]] = (level, tuple(named[:20]))
    return out
