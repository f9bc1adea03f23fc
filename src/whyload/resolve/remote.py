"""Remote targets -> Artifact: hf://org/name[@revision][/file], a bare hub id with --remote,
s3://bucket/prefix/, gs://..., https://host/path/model.safetensors and any other fsspec URL.

Resolving lists the target (one request on the Hub: sizes, LFS sha256 and its scans; one `ls`
on a bucket, one HEAD for a single HTTP file) and returns an Artifact whose `source` reads the
files by ranges. A target that cannot be listed at all raises TargetError (exit 2) naming the
remote failure (WLxxx), why, and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from whyload.errors import TargetError
from whyload.resolve import Artifact
from whyload.sources.remote import RemoteFailure, RemoteSource, RemoteStats

_HF = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<rev>[^/]+))?(?:/(?P<path>.+))?$")
# The Hub still serves its first models under a bare name (gpt2, bert-base-uncased): such an id
# has no slash, so it never takes a file path after it.
_HF_BARE = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*)(?:@(?P<rev>[^/]+))?(?P<path>)$")


def resolve_remote(target: str, revision: str | None = None, *, hub_id: bool = False,
                   storage_options: Mapping[str, Any] | None = None) -> Artifact:
    """List a remote target and return its Artifact (nothing downloaded, nothing cached)."""
    stats = RemoteStats()
    try:
        if hub_id or target.lower().startswith("hf://"):
            return _hub(target, revision, stats)
        if revision:
            raise TargetError(target, f"--revision {revision} applies to Hub targets, not "
                              f"{target.split('://', 1)[0]}://")
        from whyload.sources.stores import list_store

        listing, store = list_store(target, dict(storage_options or {}), stats)
        source = RemoteSource(listing, store, stats)
        return _artifact(target, listing, source)
    except RemoteFailure as failure:
        raise TargetError(target, f"{failure.code} {failure.message}", hint=failure.hint) \
            from None


def _hub(target: str, revision: str | None, stats: RemoteStats) -> Artifact:
    from whyload.sources.hub import list_hub

    bare = target[5:] if target.lower().startswith("hf://") else target
    bare = bare.removeprefix("models/").rstrip("/")
    m = _HF.match(bare) or _HF_BARE.match(bare)
    if m is None:
        raise TargetError(target, f"{target!r} is not a Hub model: hf://org/name[@revision]",
                          hint="for example hf://sentence-transformers/all-MiniLM-L6-v2@main")
    if m["rev"] and revision and m["rev"] != revision:
        raise TargetError(target, f"two revisions: @{m['rev']} in the target and --revision "
                          f"{revision}")
    repo_id, rev = m["repo"], m["rev"] or revision
    url = f"hf://{repo_id}" + (f"@{rev}" if rev else "")
    listing, store = list_hub(repo_id, rev, stats, url)
    focus = m["path"]
    if focus:
        if listing.get(focus) is None:
            raise TargetError(target, f"WL581 file not found: {focus} in {repo_id}"
                              + (f"@{rev}" if rev else ""),
                              hint=f"the files are listed at {store.endpoint}/{repo_id}/tree/"
                              f"{rev or 'main'}")
        from dataclasses import replace

        listing = replace(listing, url=f"{url}/{focus}", focus=focus)
    return _artifact(target, listing, RemoteSource(listing, store, stats))


def _artifact(target: str, listing: Any, source: RemoteSource) -> Artifact:
    folder = listing.url.rsplit("/", 1)[0] if listing.focus else listing.url
    return Artifact(target=target, root=Path(folder), how="remote",
                    focus=listing.focus, source=source, remote=listing)
