"""What each file's hash should be, from every record available offline.

    HF cache        snapshots/<commit>/<file> -> ../../blobs/<name>: <name> is the sha256 of an
                    LFS file, or the git blob sha1 of a small file (for a hub id, the snapshot
                    folder given as a path, or any link into a cache's blobs/)
    hf --local-dir  .cache/huggingface/download/<file>.metadata: commit, etag (sha256 or git
                    sha1, as above), the time it was written
    LFS pointer     <file>.lfs or <file>.pointer beside the file: `oid sha256:<hex>`, `size <n>`
    git-lfs store   .git/lfs/objects/<oid[:2]>/<oid[2:4]>/<oid> of the enclosing git checkout:
                    the objects `git lfs` checked the files out from; the ones of a file's size
                    are what it should hash to (any one of them)
    --sha256        FILE=HEX given by the user
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from whyload.errors import UsageError
from whyload.readers.lfs import MAX_POINTER_BYTES, parse_lfs_pointer
from whyload.readers.sniff import LFS_PREFIX
from whyload.resolve import Artifact

SHA256 = "sha256"
GIT_SHA1 = "git-sha1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
POINTER_SUFFIXES = (".lfs", ".pointer")
MAX_METADATA_BYTES = 4096
MAX_LFS_OBJECTS = 100_000
GIT_SEARCH_DEPTH = 8  # folders above the model folder searched for the checkout's .git
CACHE_REPO_PREFIXES = {"models--": "model", "datasets--": "dataset", "spaces--": "space"}


@dataclass(frozen=True)
class Reference:
    """One record of what a file's bytes hash to."""

    algorithm: str  # SHA256 or GIT_SHA1
    digest: str
    source: str  # "hf-cache", "hf-local-dir", "lfs-pointer", "--sha256"
    where: str  # the blob, metadata or pointer file that says so
    size: int | None = None
    modified_after: bool = False  # the file changed after the record was written (local-dir)
    commit: str | None = None
    any_of: bool = False  # one of several candidates (git-lfs store): matching one is enough


@dataclass(frozen=True)
class CachedSnapshot:
    """The HF cache snapshot a folder is, when it is given as a path rather than a hub id."""

    repo_id: str
    repo_type: str  # "model", "dataset" or "space"
    commit: str


def cached_snapshot(root: Path) -> CachedSnapshot | None:
    """<cache>/models--org--name/snapshots/<commit> -> org/name at that commit, else None."""
    snapshots, repo = root.parent, root.parent.parent
    if snapshots.name != "snapshots" or not _HEX40.match(root.name):
        return None
    for prefix, repo_type in CACHE_REPO_PREFIXES.items():
        if repo.name.startswith(prefix) and len(repo.name) > len(prefix):
            return CachedSnapshot(repo.name.removeprefix(prefix).replace("--", "/"), repo_type,
                                  root.name)
    return None


def cached_repo_id(artifact: Artifact) -> str | None:
    """The hub id of a target that lives in the HF cache (by id or by snapshot path)."""
    if artifact.cache is not None:
        return artifact.cache.repo_id
    snapshot = cached_snapshot(artifact.root)
    return snapshot.repo_id if snapshot is not None else None


def algorithm_of(digest: str) -> str | None:
    if _HEX64.match(digest):
        return SHA256
    if _HEX40.match(digest):
        return GIT_SHA1
    return None


def find_references(artifact: Artifact, names: list[str]) -> dict[str, list[Reference]]:
    found: dict[str, list[Reference]] = {name: [] for name in names}
    in_cache = artifact.how == "hub-cache" or cached_snapshot(artifact.root) is not None
    store = _git_lfs_store(artifact.root) if not in_cache else {}
    tracked = _lfs_patterns(artifact.root) if store else None
    for name in names:
        path = artifact.root / name
        found[name].extend(_cache_blob(path))
        found[name].extend(_local_dir_metadata(artifact.root, name))
        found[name].extend(_pointer_beside(artifact.root, name))
        if store and (tracked is None or _is_lfs_tracked(name, tracked)):
            found[name].extend(_store_candidates(store, path))
    return found


def parse_expected_sha256(pairs: list[str] | tuple[str, ...], names: list[str],
                          root: Path | None = None) -> dict[str, str]:
    """`FILE=HEX` pairs -> {file: hex}; a malformed pair or an unknown file is a UsageError.

    Also read: a line of `sha256sum` output (`HEX  FILE`, `HEX *FILE`), `sha256:HEX`, FILE as
    a path from here (./model.safetensors, models/bert/model.safetensors) and a bare HEX when
    the target is a single file."""
    out: dict[str, str] = {}
    for pair in pairs:
        file, digest = _split_pair(pair, names)
        digest = digest.lower().removeprefix("sha256:")
        if not file:
            raise UsageError(f"--sha256 {pair!r}: expected FILE=HEX",
                             hint="e.g. --sha256 model.safetensors=4b0e2…(64 hex digits)")
        if not _HEX64.match(digest):
            raise UsageError(f"--sha256 {pair!r}: {digest!r} is not a sha256 "
                             "(64 hexadecimal digits)")
        name = _name_in_target(file, names, root)
        if name is None:
            raise UsageError(f"--sha256 {pair!r}: the target has no file {file!r}",
                             hint="files: " + ", ".join(names[:20]))
        out[name] = digest
    return out


def _split_pair(pair: str, names: list[str]) -> tuple[str, str]:
    """(file, digest) from FILE=HEX, `HEX  FILE` / `HEX *FILE`, or a bare HEX for one file."""
    text = pair.strip()
    file, sep, digest = text.partition("=")
    if sep:
        return file.strip(), digest.strip()
    head, _, rest = text.partition(" ")
    if rest.strip() and algorithm_of(head.lower().removeprefix("sha256:")) == SHA256:
        return rest.strip().removeprefix("*"), head  # sha256sum: two spaces, or " *" (binary)
    if not rest and len(names) == 1 and _HEX64.match(text.lower().removeprefix("sha256:")):
        return names[0], text
    return "", text


def _name_in_target(file: str, names: list[str], root: Path | None) -> str | None:
    """The target's own name for `file`: as given, without ./, or as a path that leads there."""
    for candidate in (file, file.removeprefix("./")):
        if candidate in names:
            return candidate
    if root is None:
        return None
    path = Path(file).expanduser()
    try:  # the folders resolved, not the file: a cache snapshot's file is a link to a blob
        relative = (path.parent.resolve() / path.name).relative_to(root.resolve())
    except (OSError, ValueError):
        return None
    return relative.as_posix() if relative.as_posix() in names else None


def _cache_blob(path: Path) -> list[Reference]:
    if not path.is_symlink():
        return []
    blob = Path(os.path.realpath(path))
    repo = blob.parent.parent.name
    if blob.parent.name != "blobs" or not repo.startswith(tuple(CACHE_REPO_PREFIXES)):
        return []
    algorithm = algorithm_of(blob.name)
    if algorithm is None:
        return []
    return [Reference(algorithm, blob.name, "hf-cache", str(blob))]


def _local_dir_metadata(root: Path, name: str) -> list[Reference]:
    meta = root / ".cache" / "huggingface" / "download" / f"{name}.metadata"
    try:
        with meta.open("rb") as f:
            lines = f.read(MAX_METADATA_BYTES).decode("ascii", "replace").splitlines()
        mtime = (root / name).stat().st_mtime
    except OSError:
        return []
    if len(lines) < 3:
        return []
    commit, etag = lines[0].strip(), lines[1].strip().strip('"')
    algorithm = algorithm_of(etag)
    if algorithm is None:
        return []
    try:
        modified_after = mtime - 1 > float(lines[2])
    except ValueError:
        modified_after = False
    return [Reference(algorithm, etag, "hf-local-dir", str(meta), modified_after=modified_after,
                      commit=commit if _HEX40.match(commit) else None)]


def _git_lfs_store(root: Path) -> dict[int, list[Path]]:
    """size -> the objects of that size in the git-lfs store of the checkout around `root`."""
    folder = root
    for _ in range(GIT_SEARCH_DEPTH):  # the nearest .git is the checkout's
        if (folder / ".git").exists():
            break
        if folder.parent == folder:
            return {}
        folder = folder.parent
    else:
        return {}
    objects = folder / ".git" / "lfs" / "objects"
    if not objects.is_dir():
        return {}
    by_size: dict[int, list[Path]] = {}
    seen = 0
    try:
        for first in sorted(objects.iterdir()):
            for second in sorted(first.iterdir()) if first.is_dir() else ():
                for obj in sorted(second.iterdir()) if second.is_dir() else ():
                    seen += 1
                    if seen > MAX_LFS_OBJECTS:
                        return by_size
                    if _HEX64.match(obj.name) and obj.is_file():
                        by_size.setdefault(obj.stat().st_size, []).append(obj)
    except OSError:
        return by_size
    return by_size


def _lfs_patterns(root: Path) -> list[str] | None:
    """The `filter=lfs` patterns of the .gitattributes in the model folder and the folders
    above it up to the checkout's root; None when there is no .gitattributes at all."""
    patterns: list[str] = []
    seen = False
    folder = root
    for _ in range(GIT_SEARCH_DEPTH):
        try:
            with (folder / ".gitattributes").open("rb") as f:
                text = f.read(MAX_METADATA_BYTES * 16).decode("utf-8", "replace")
            seen = True
        except OSError:
            text = ""
        for line in text.splitlines():
            fields = line.split()
            if len(fields) > 1 and not fields[0].startswith("#") and "filter=lfs" in fields[1:]:
                patterns.extend(_relative_pattern(fields[0], root.relative_to(folder)))
        if (folder / ".git").exists() or folder.parent == folder:
            break
        folder = folder.parent
    return patterns if seen else None


def _relative_pattern(pattern: str, root: Path) -> list[str]:
    """A .gitattributes pattern as seen from the model folder `root` (relative to the folder of
    the .gitattributes); none when a path pattern points elsewhere."""
    if "/" not in pattern.rstrip("/"):
        return [pattern]
    pattern = pattern.lstrip("/")
    prefix = root.as_posix()
    if prefix == ".":
        return [pattern]
    return [pattern.removeprefix(prefix + "/")] if pattern.startswith(prefix + "/") else []


def _is_lfs_tracked(name: str, patterns: list[str]) -> bool:
    """gitattributes matching, as far as model repos use it: a pattern without a slash matches
    the file name at any depth, one with a slash the path."""
    base = name.rsplit("/", 1)[-1]
    return any(fnmatchcase(name if "/" in p else base, p.removesuffix("/**"))
               or ("/**" in p and name.startswith(p.split("/**")[0] + "/")) for p in patterns)


def _store_candidates(store: dict[int, list[Path]], path: Path) -> list[Reference]:
    try:
        size = path.stat().st_size
    except OSError:
        return []
    return [Reference(SHA256, obj.name, "git-lfs", str(obj), size=size, any_of=True)
            for obj in store.get(size, [])]


def _pointer_beside(root: Path, name: str) -> list[Reference]:
    out: list[Reference] = []
    for suffix in POINTER_SUFFIXES:
        path = root / f"{name}{suffix}"
        try:
            if not path.is_file():
                continue
            with path.open("rb") as f:
                head = f.read(MAX_POINTER_BYTES)
        except OSError:
            continue
        if not head.startswith(LFS_PREFIX):
            continue
        pointer = parse_lfs_pointer(head)
        if pointer.oid and pointer.oid.startswith("sha256:"):
            digest = pointer.oid.removeprefix("sha256:")
            if _HEX64.match(digest):
                out.append(Reference(SHA256, digest, "lfs-pointer", str(path), size=pointer.size))
    return out
