"""WL150-WL153 — links and the HF cache: a dangling link, a ref without its snapshot, a
download that stopped (in the cache, or in a --local-dir folder)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

from whyload.checks.file_roles import download_fix
from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.report import Category, Effect, Severity
from whyload.snapshot import PYTORCH_NAME, SAFETENSORS_NAME, Snapshot

FILES = Category.FILES


@check("WL150", "dangling-link", FILES)
def dangling_link(snap: Snapshot) -> Iterator[Problem]:
    """A symbolic link whose target is missing

    In the HF cache, snapshot files are links into blobs/; a cache copied without its links, a
    blob deleted by hand, or a relative cache_dir breaks them: "unable to open file … No such
    file or directory". transformers treats the file as absent.
    """
    standard = {SAFETENSORS_NAME, PYTORCH_NAME, "config.json", "model.safetensors.index.json",
                "pytorch_model.bin.index.json"}
    shards = {s for idx in snap.indexes.values() for s in idx.shards}
    for e in snap.inventory.entries:
        if not e.dangling:
            continue
        needed = e.name in standard or e.name in shards
        loop = e.unreadable == "symbolic link loop"
        yield Problem(
            severity=Severity.ERROR if needed else Severity.WARNING,
            effect=Effect.RAISES if needed else Effect.NONE, file=e.name,
            title=f"{e.name} is a symbolic link loop" if loop
            else f"{e.name} is a broken link (its target is missing)",
            detail=(f"{e.name} -> {e.link_target} leads back to itself (a symbolic link loop)"
                    if loop else f"{e.name} -> {e.link_target}, which does not exist")
            + (" (the cache blob was deleted, or the cache was copied without it)"
               if snap.artifact.cache and not loop else "") + ".",
            evidence={"file": e.name, "link_target": e.link_target},
            fix=download_fix(snap, e.name) if snap.artifact.cache
            else f"copy the real file over the link (cp -L SOURCE/{e.name} .)",
        )


@check("WL151", "cache-ref-missing-snapshot", FILES)
def ref_missing_snapshot(snap: Snapshot) -> Iterator[Problem]:
    """A cache ref that points at a snapshot that is not there

    refs/main names a commit whose snapshots/<commit>/ folder is gone (deleted by hand, or a
    partial cache copy), so the cache holds nothing for that revision.
    """
    cache = snap.artifact.cache
    if cache is None or not cache.snapshot_missing:
        return
    snapdir = cache.repo_dir / "snapshots"
    others = list(cache.snapshots)
    yield Problem(
        title=f"refs/{cache.revision} of {cache.repo_id} points at a missing snapshot",
        detail=f"refs/{cache.revision} says {cache.commit}, but {snapdir}/{cache.commit} does "
        "not exist" + (f"; cached snapshots: {', '.join(others)}" if others else "") + ".",
        evidence={"repo_id": cache.repo_id, "revision": cache.revision, "commit": cache.commit,
                  "other_snapshots": others},
        fix=fix_commands.hub_download(cache.repo_id, cache.revision),
    )


@check("WL152", "cache-incomplete-download", FILES)
def incomplete_download(snap: Snapshot) -> Iterator[Problem]:
    """Interrupted downloads in the cache (blobs/*.incomplete)

    A download was cut (or is running in another process right now). If a file of this model is
    missing or short, this is why; several processes downloading into one cache at once is a
    common cause.
    """
    cache = snap.artifact.cache
    if cache is None or not cache.incomplete_blobs:
        return
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE,
        title=f"{len(cache.incomplete_blobs)} interrupted download(s) in the cache of "
        f"{cache.repo_id}",
        detail="blobs/ holds partial files; a download stopped (or is still running).",
        evidence={"repo_id": cache.repo_id, "incomplete": list(cache.incomplete_blobs[:10])},
        fix=fix_commands.hub_download(cache.repo_id, cache.revision)
        + "  # resumes and completes",
    )


def _local_dir_key(filename: str) -> str:
    """The name huggingface_hub gives a file's .incomplete in a --local-dir download
    (_local_folder.py: `_short_hash(metadata_path.name)`), so the file can be named back."""
    digest = hashlib.sha1(f"{filename}.metadata".encode("utf-8", "surrogateescape")).digest()
    return base64.urlsafe_b64encode(digest).decode()


def interrupted_local_downloads(snap: Snapshot) -> dict[str, str | None]:
    """.incomplete name -> the file it was downloading (None when it cannot be told)."""
    names = snap.inventory.local_dir_downloads
    if not any(n.endswith(".incomplete") for n in names):
        return {}
    candidates = {n.removesuffix(".lock") for n in names if n.endswith(".lock")}
    candidates |= {n.removesuffix(".metadata") for n in names if n.endswith(".metadata")}
    candidates |= set(snap.files) | {SAFETENSORS_NAME, PYTORCH_NAME, "config.json"}
    candidates |= {s for idx in snap.indexes.values() for s in idx.shards}
    by_key = {_local_dir_key(c): c for c in candidates}
    return {n: by_key.get(n.split(".", 1)[0]) for n in names if n.endswith(".incomplete")}


def _hub_repo_named_in_config(snap: Snapshot) -> str | None:
    """The repo id a hub config.json often carries in _name_or_path (owner/name)."""
    config = snap.document("config.json")
    name = config.get("_name_or_path") if isinstance(config, dict) else None
    if isinstance(name, str) and re.fullmatch(r"[\w.\-]+/[\w.\-]+", name) and \
            not name.startswith((".", "/")):
        return name
    return None


@check("WL153", "local-dir-incomplete-download", FILES)
def local_dir_incomplete_download(snap: Snapshot) -> Iterator[Problem]:
    """An interrupted `hf download --local-dir` (.cache/huggingface/download/*.incomplete)

    hf download into a folder writes each file to .cache/huggingface/download/<hash>.<etag>
    .incomplete and moves it into place only when complete: a cut download leaves the file
    missing (from_pretrained: "Error no file named model.safetensors …") or a shard short.
    Running the same command again resumes it.
    """
    if snap.artifact.cache is not None:
        return  # WL152 covers the cache's own blobs
    pending = interrupted_local_downloads(snap)
    if not pending:
        return
    named = sorted({f for f in pending.values() if f})
    absent = [f for f in named if f not in snap.files]
    needed = [f for f in absent if f in (SAFETENSORS_NAME, PYTORCH_NAME, "config.json")
              or any(f in idx.shards for idx in snap.indexes.values())
              or (snap.plan.format is None and f.endswith((".safetensors", ".bin")))]
    unknown = sum(1 for f in pending.values() if f is None)
    root = snap.artifact.root
    repo = _hub_repo_named_in_config(snap)
    resume = (f"hf download {fix_commands.quoted(repo)} --local-dir {fix_commands.quoted(root)}"
              if repo else f"rerun the `hf download REPO --local-dir {fix_commands.quoted(root)}` "
              "that filled this folder")
    what = ", ".join(named) + (f" and {unknown} more" if unknown and named else "") \
        if named else f"{unknown} file(s)"
    yield Problem(
        severity=Severity.ERROR if needed else Severity.WARNING,
        effect=Effect.RAISES if needed else Effect.NONE,
        title=f"an interrupted hf download: {what} did not finish",
        detail=f".cache/huggingface/download/ holds {len(pending)} .incomplete file(s): the "
        f"download of {what} stopped (or is still running)"
        + (f"; {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} therefore missing from "
           "the folder" if absent else "") + ".",
        evidence={"incomplete": sorted(pending), "files": named, "missing": absent,
                  "repo_id": repo},
        fix=resume + "  # resumes the unfinished files",
        file=needed[0] if needed else None,
    )
