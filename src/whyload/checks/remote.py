"""WL191, WL580-WL585 — a model read where it is stored (hf://, s3://, gs://, https://): what the
store itself says about its files, and the requests it refused.

A remote check reads headers by ranges, so its other findings are the local ones; these are what
only a remote read sees. A target that cannot be listed at all (a repository, revision or bucket
that is not there, a gated repository, HF_HUB_OFFLINE) stops the check with exit 2 and the same
code in the message; a file that cannot be read is reported here, and the verdict is unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from whyload.checks.registration import Problem, check
from whyload.report import Category, Effect, Severity
from whyload.snapshot import Snapshot

if TYPE_CHECKING:
    from whyload.sources.remote import RemoteFailure

FILES = Category.FILES
ENV = Category.ENVIRONMENT


@check("WL191", "hub-scan-flags-file", FILES)
def hub_scan_flags(snap: Snapshot) -> Iterator[Problem]:
    """The Hub's own security scan flags a file of this revision

    The Hub scans every pickle it stores (the imports it names) and runs an antivirus on every
    file; a file it marks unsafe or suspicious names imports that run code when torch.load
    unpickles it, or matched a virus signature. whyload's own pickle findings (WL6xx) say
    what the pickle does; this one is the Hub's verdict, from the listing, without a byte read.
    """
    listing = snap.artifact.remote
    if listing is None:
        return
    for f in listing.files:
        if f.scan is None or f.scan.lower() in ("safe", "unscanned"):
            continue
        serious = f.scan.lower() in ("unsafe", "dangerous", "malicious")
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE, file=f.name,
            title=f"the Hub's security scan marks {f.name} {f.scan}",
            detail=f"{listing.repo_id}'s scan results list {f.name} as {f.scan}"
            + (f": {', '.join(f.scan_detail)}" if f.scan_detail else "") + "."
            + (" Do not load it with weights_only=False." if serious else ""),
            evidence={"file": f.name, "scan": f.scan, "named": list(f.scan_detail),
                      "repo_id": listing.repo_id, "commit": listing.commit},
            fix=f"read the scan at https://huggingface.co/{listing.repo_id}/blob/"
            f"{listing.commit or 'main'}/{f.name} and prefer the repo's .safetensors weights",
        )


def _failures(snap: Snapshot, code: str) -> Iterator[tuple[str, RemoteFailure]]:
    stats = snap.artifact.source.stats() if snap.artifact.source is not None else None
    if stats is None:
        return
    for name, failure in sorted(stats.failures.items()):
        if failure.code == code:
            yield name, failure


def _failed(name: str, failure: RemoteFailure, fix: str) -> Problem:
    return Problem(
        severity=Severity.WARNING, effect=Effect.UNKNOWN, file=name,
        title=f"{name} could not be read remotely: {failure.message}",
        detail=f"The store refused or failed the request for {name}, so nothing was concluded "
        "from it; the verdict is unknown until it is read.",
        evidence={"file": name, **failure.as_evidence()},
        fix=failure.hint or fix,
    )


@check("WL580", "remote-access-denied", ENV)
def access_denied(snap: Snapshot) -> Iterator[Problem]:
    """The store refused access (401/403): a gated or private repository, or missing credentials

    The Hub answers 401 for a private repository without a token that can read it, and 403 for
    a gated one whose license the token's owner has not accepted; a bucket answers AccessDenied
    without credentials. from_pretrained fails the same way ("You are trying to access a gated
    repo", "401 Client Error"). Fix: accept the license on the model's page, then pass a token
    (`hf auth login`, HF_TOKEN); for a bucket, its credentials or --storage-option anon=true.
    """
    for name, failure in _failures(snap, "WL580"):
        yield _failed(name, failure, "hf auth login  # or HF_TOKEN=hf_...")


@check("WL581", "remote-not-found", ENV)
def not_found(snap: Snapshot) -> Iterator[Problem]:
    """The store has no such repository, revision, bucket, prefix or file (404)

    A misspelt name, a revision (branch, tag, commit) that does not exist, or a file the listing
    named but the server no longer has. from_pretrained raises RepositoryNotFoundError,
    RevisionNotFoundError or EntryNotFoundError. Fix: check the name and hf://org/name@revision.
    """
    for name, failure in _failures(snap, "WL581"):
        yield _failed(name, failure, "check the name and the revision")


@check("WL582", "remote-no-ranges", ENV)
def no_ranges(snap: Snapshot) -> Iterator[Problem]:
    """The server does not serve byte ranges (416, or the whole file for a range)

    whyload reads headers by HTTP Range requests and stops a response that would download the
    whole file. Such a server cannot be checked before the download. Fix: download the file
    and check the local copy.
    """
    for name, failure in _failures(snap, "WL582"):
        yield _failed(name, failure, "download it, then: whyload check ./the-folder")


@check("WL583", "remote-rate-limited", ENV)
def rate_limited(snap: Snapshot) -> Iterator[Problem]:
    """The store rate-limited the requests (429), after bounded retries

    whyload retries a 429 at most twice, waiting what Retry-After asks when that is at most
    10 s; a longer wait is reported instead of waited for. Fix: run again later, or pass a token
    (authenticated requests get a higher limit on the Hub).
    """
    for name, failure in _failures(snap, "WL583"):
        yield _failed(name, failure, "wait, then run again (HF_TOKEN raises the limit)")


@check("WL584", "remote-unreachable", ENV)
def unreachable(snap: Snapshot) -> Iterator[Problem]:
    """The store did not answer in time, or the connection failed (timeouts, 5xx)

    A request timed out, the connection was refused or reset, or the server answered 5xx after
    bounded retries. Fix: check the network, HF_ENDPOINT and proxy settings; run again.
    """
    for name, failure in _failures(snap, "WL584"):
        yield _failed(name, failure, "check the network and run again")


@check("WL585", "remote-offline", ENV)
def offline(snap: Snapshot) -> Iterator[Problem]:
    """A remote target, with HF_HUB_OFFLINE set: reading it needs the network

    huggingface_hub refuses every request in offline mode (HF_HUB_OFFLINE=1 or
    TRANSFORMERS_OFFLINE=1), and so does whyload: the check stops with exit 2 and this code.
    Fix: unset HF_HUB_OFFLINE, or download the model first and check the folder.
    """
    for name, failure in _failures(snap, "WL585"):
        yield _failed(name, failure, "unset HF_HUB_OFFLINE")
