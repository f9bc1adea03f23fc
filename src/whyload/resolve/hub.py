"""Hub ids looked up in the local HF cache, the way huggingface_hub lays it out:

    <HF_HUB_CACHE>/models--<org>--<name>/
        blobs/<sha256 or etag>          the bytes (LFS files under their sha256)
        blobs/<hash>.incomplete         a download that did not finish
        refs/<revision>                 a text file holding a commit hash
        snapshots/<commit>/<file>       a relative symlink into blobs/
"""

from __future__ import annotations

import re
from pathlib import Path

from whyload.errors import TargetError
from whyload.resolve import Artifact, CacheEntry

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def hub_cache_dir() -> Path:
    """The HF cache this process would use (one rule: whyload.env.container.hf_cache_dir)."""
    import os

    from whyload.env.container import hf_cache_dir

    return Path(hf_cache_dir(os.environ))


def _repo_folder(cache_dir: Path, repo_id: str) -> Path | None:
    """models--org--name, or None when repo_id is not a valid hub id (`a--b/c`, `my--model`)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.file_download import repo_folder_name

    try:
        return cache_dir / repo_folder_name(repo_id=repo_id, repo_type="model")
    except HFValidationError:
        return None


def cached_repo_dir(repo_id: str, cache_dir: str) -> Path | None:
    """The cache folder of repo_id when it holds a snapshot, else None."""
    repo_dir = _repo_folder(Path(cache_dir), repo_id)
    return repo_dir if repo_dir and (repo_dir / "snapshots").is_dir() else None


def resolve_cached(repo_id: str, revision: str | None,
                   cache_dir: Path | None = None) -> Artifact:
    """repo_id at revision in the HF cache this process uses, or in `cache_dir` (an audit of
    another cache)."""
    cache_dir = cache_dir or hub_cache_dir()
    revision = revision or "main"
    repo_dir = _repo_folder(cache_dir, repo_id)
    if repo_dir is None:
        raise TargetError(repo_id, f"{repo_id!r} is neither a local path nor a valid hub id",
                          hint="a hub id is org/name (letters, digits, '-', '_', '.'; no '--')")
    if not repo_dir.is_dir():
        raise TargetError(
            repo_id,
            f"{repo_id!r} is neither a local path nor in the HF cache ({cache_dir})",
            hint=f"download it once with `hf download {repo_id}`, or set HF_HOME / "
            "HF_HUB_CACHE to the cache that has it",
        )
    commit: str | None = revision if _COMMIT.match(revision) else None
    if commit is None:
        ref = repo_dir / "refs" / revision
        try:
            commit = ref.read_text(encoding="ascii", errors="replace").strip()[:64] or None
        except OSError:
            refs = repo_dir / "refs"
            known = sorted(p.relative_to(refs).as_posix() for p in refs.rglob("*")
                           if p.is_file()) if refs.is_dir() else []
            raise TargetError(
                repo_id, f"revision {revision!r} of {repo_id} is not in the cache"
                + (f" (cached refs: {', '.join(known)})" if known else ""),
                hint=f"hf download {repo_id} --revision {revision}",
            ) from None
    snapshot = repo_dir / "snapshots" / (commit or "")
    incomplete = tuple(sorted(p.name for p in (repo_dir / "blobs").glob("*.incomplete")))
    snapshots = tuple(sorted(p.name for p in (repo_dir / "snapshots").glob("*") if p.is_dir()))
    entry = CacheEntry(cache_dir=cache_dir, repo_dir=repo_dir, repo_id=repo_id,
                       revision=revision, commit=commit, snapshot_missing=not snapshot.is_dir(),
                       incomplete_blobs=incomplete, snapshots=snapshots)
    return Artifact(target=repo_id, root=snapshot, how="hub-cache", cache=entry)
