"""WL150-WL152 — links and the HF cache: a dangling link, a ref without its snapshot, a
download that stopped."""

from __future__ import annotations

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
