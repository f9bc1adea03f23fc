"""target -> Artifact: a folder, a single weights file, a hub id found in the local HF cache, or
a remote target read where it is stored (hf://, a hub id with remote=True, s3://, gs://,
https://, any fsspec URL: whyload.resolve.remote).

A local target never touches the network: a hub id that is not cached is an error that says how
to get it. A remote one is listed (one request) and read by ranges through `Artifact.source`.

    artifact = resolve("hf://org/name@v1")          # or "s3://bucket/m/", storage_options=...
    exam = whyload.pipeline.examine(artifact, options=Options(...))
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whyload.errors import TargetError

if TYPE_CHECKING:
    from whyload.sources import ByteSource
    from whyload.sources.remote import RemoteListing

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class CacheEntry:
    """Where a hub id lives in the HF cache, and what is wrong with the way there."""

    cache_dir: Path
    repo_dir: Path
    repo_id: str
    revision: str
    commit: str | None
    snapshot_missing: bool = False  # refs/<revision> names a snapshot that is not there
    incomplete_blobs: tuple[str, ...] = ()  # blobs/*.incomplete: interrupted downloads
    snapshots: tuple[str, ...] = ()  # every commit with a snapshot folder


@dataclass(frozen=True)
class Artifact:
    target: str
    root: Path  # the folder examined
    how: str  # "folder", "file" or "hub-cache"
    focus: str | None = None  # the file asked for, when the target is a single file
    cache: CacheEntry | None = None
    shadows: Path | None = None  # the cached hub repo this local folder is named like
    # where the bytes are read from (None: the folder `root`); remote targets read by ranges
    source: ByteSource | None = field(default=None, compare=False, repr=False)
    remote: RemoteListing | None = None  # what a remote store listed (how == "remote")

    def describe(self) -> dict[str, object]:
        if self.remote is not None:
            return self.remote.describe()
        out: dict[str, object] = {"how": self.how, "path": str(self.root)}
        if self.focus:
            out["file"] = self.focus
        if self.cache:
            out.update(repo_id=self.cache.repo_id, revision=self.cache.revision,
                       commit=self.cache.commit, cache_dir=str(self.cache.cache_dir))
        return out


def resolve(target: str, revision: str | None = None, *, remote: bool = False,
            storage_options: Mapping[str, Any] | None = None) -> Artifact:
    """Any target -> Artifact: a folder, a weights file, a hub id in the HF cache, or (read by
    ranges, nothing downloaded) hf://org/name[@revision], a hub id with `remote`, s3://, gs://,
    https:// and other fsspec URLs (`storage_options` go to the fsspec filesystem).
    Raises TargetError (exit 2) when there is nothing to examine."""
    from whyload.resolve.urls import is_remote_target

    if remote or is_remote_target(target):
        from whyload.resolve.remote import resolve_remote

        if remote and not is_remote_target(target) and not looks_like_hub_id(target):
            raise TargetError(target, f"--remote reads a Hub id (org/name), not {target!r}",
                              hint="for a bucket or a server give its URL: s3://, gs://, "
                              "https://")
        return resolve_remote(target, revision, hub_id=remote and not is_remote_target(target),
                              storage_options=storage_options)
    path = Path(target).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _stat_error(target, exc) from None
    if st is not None:
        if revision:
            raise TargetError(target, f"--revision {revision} applies to hub ids, "
                              f"but {target!r} is a local path")
        return _local(target, path, st)
    if looks_like_hub_id(target):
        from whyload.resolve.hub import resolve_cached

        return resolve_cached(target, revision)
    if path.is_symlink():
        raise TargetError(target, f"{target} is a symbolic link to "
                          f"{os.readlink(path)!r}, which does not exist",
                          hint="fix the link or point whyload at the real folder")
    bare = target.removeprefix("./").rstrip("/")
    if bare != target and looks_like_hub_id(bare):
        from whyload.resolve.hub import cached_repo_dir, hub_cache_dir

        if cached_repo_dir(bare, str(hub_cache_dir())) is not None:
            raise TargetError(target, f"no such folder: {target}",
                              hint=f"{bare!r} is a hub id in the cache: whyload check {bare}")
    raise TargetError(target, f"no such file or directory: {target}",
                      hint="check the path; a hub id looks like 'org/name'")


def looks_like_hub_id(target: str) -> bool:
    return bool(_HUB_ID.match(target)) and ".." not in target and not target.startswith(".")


def _local(target: str, path: Path, st: os.stat_result) -> Artifact:
    if stat.S_ISDIR(st.st_mode):
        if not os.access(path, os.R_OK | os.X_OK):
            raise TargetError(target, f"permission denied: cannot list {target}",
                              hint="run as a user who can read it, or copy it somewhere readable")
        return Artifact(target=target, root=path.resolve(), how="folder",
                        shadows=_shadowed_repo(target))
    if stat.S_ISREG(st.st_mode):
        if path.suffix == ".json":  # config.json, an index: the model is the folder around it
            return Artifact(target=target, root=path.resolve().parent, how="folder")
        return Artifact(target=target, root=path.resolve().parent, how="file",
                        focus=path.resolve().name)
    kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(
        st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(
        st.st_mode) else "not a regular file"
    raise TargetError(target, f"{target} is {kind}, not a model folder or weights file",
                      hint="point whyload at the folder that holds config.json and the weights")


def _shadowed_repo(target: str) -> Path | None:
    """from_pretrained('bert-base-uncased') takes ./bert-base-uncased over the cached model:
    the cache folder a relative, hub-id-like folder name hides, if that id is cached."""
    name = target.rstrip("/")
    if os.path.isabs(name) or name.startswith((".", "~")) or not looks_like_hub_id(name):
        return None
    from whyload.resolve.hub import cached_repo_dir, hub_cache_dir

    return cached_repo_dir(name, str(hub_cache_dir()))


def _stat_error(target: str, exc: OSError) -> TargetError:
    if exc.errno == errno.ELOOP:
        return TargetError(target, f"{target}: symbolic link loop",
                           hint="one of the links in this path points back at itself")
    if exc.errno == errno.EACCES:
        return TargetError(target, f"permission denied: {target}",
                           hint="run as a user who can read it")
    if exc.errno == errno.ENAMETOOLONG:
        return TargetError(target, "the path is too long")
    return TargetError(target, f"{target}: {exc.strerror or exc}")
