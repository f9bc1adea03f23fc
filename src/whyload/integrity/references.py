"""What each file's hash should be, from every record available offline.

    HF cache        snapshots/<commit>/<file> -> ../../blobs/<name>: <name> is the sha256 of an
                    LFS file, or the git blob sha1 of a small file
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


def algorithm_of(digest: str) -> str | None:
    if _HEX64.match(digest):
        return SHA256
    if _HEX40.match(digest):
        return GIT_SHA1
    return None


def find_references(artifact: Artifact, names: list[str]) -> dict[str, list[Reference]]:
    found: dict[str, list[Reference]] = {name: [] for name in names}
    store = _git_lfs_store(artifact.root) if artifact.how != "hub-cache" else {}
    for name in names:
        path = artifact.root / name
        if artifact.how == "hub-cache":
            found[name].extend(_cache_blob(path))
        found[name].extend(_local_dir_metadata(artifact.root, name))
        found[name].extend(_pointer_beside(artifact.root, name))
        if store:
            found[name].extend(_store_candidates(store, path))
    return found


def parse_expected_sha256(pairs: list[str] | tuple[str, ...], names: list[str]) -> dict[str, str]:
    """`FILE=HEX` pairs -> {file: hex}; a malformed pair or an unknown file is a UsageError."""
    out: dict[str, str] = {}
    for pair in pairs:
        file, sep, digest = pair.partition("=")
        file, digest = file.strip(), digest.strip().lower().removeprefix("sha256:")
        if not sep or not file:
            raise UsageError(f"--sha256 {pair!r}: expected FILE=HEX",
                             hint="e.g. --sha256 model.safetensors=4b0e2…(64 hex digits)")
        if not _HEX64.match(digest):
            raise UsageError(f"--sha256 {pair!r}: {digest!r} is not a sha256 "
                             "(64 hexadecimal digits)")
        if file not in names:
            raise UsageError(f"--sha256 {pair!r}: the target has no file {file!r}",
                             hint="files: " + ", ".join(names[:20]))
        out[file] = digest
    return out


def _cache_blob(path: Path) -> list[Reference]:
    if not path.is_symlink():
        return []
    blob = Path(os.path.realpath(path))
    if blob.parent.name != "blobs":
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
