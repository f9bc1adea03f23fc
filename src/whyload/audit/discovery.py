"""What to audit: every target an argument stands for, found by what is there, never guessed.

An argument is one of:

    /mnt/models             a folder tree: each folder holding a model file (whyload's own rule,
                            snapshot.is_model_file: weights by name or by bytes, config.json, a
                            shard index), training state aside; HF caches met on the way are
                            listed as caches
    ~/.cache/huggingface    an HF cache (or a tree holding one): each repo at each ref, and each
                            snapshot no ref names, by its commit
        hub/models--<org>--<name>/refs/<ref>          -> org/name at <ref>
        hub/models--<org>--<name>/snapshots/<commit>  -> org/name at <commit> when no ref names it
    targets.txt             a text file: one target a line (# comments), each taken as given
    model.safetensors       a model file: itself
    s3://bucket/prefix/     an fsspec prefix: each folder below it holding a model file by name
    hf://acme               a Hub author: each of its models (huggingface_hub's HfApi.list_models)
    anything else           a target as given (a hub id, hf://org/name, https://...)

A target is an opaque string: the pipeline's resolver decides what it is, so a scheme it cannot
open yet becomes an error row, not a guess here. Discovery only lists; it never writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whyload.errors import UsageError
from whyload.readers.inventory import is_training_state
from whyload.readers.sniff import HEAD_BYTES, Kind, sniff
from whyload.snapshot import is_model_file

# folders that hold bookkeeping, never a model of their own
SKIPPED_FOLDERS = frozenset({".git", ".hg", ".svn", "__pycache__", ".locks", ".ipynb_checkpoints",
                             "node_modules"})
HF_REPO_PREFIX = "models--"
HF_CACHE_MARKERS = ("snapshots", "refs", "blobs")
TARGET_LIST_LIMIT = 64 * 1024 * 1024  # a list of targets bigger than this is no list
CONFIG_LIMIT = 1024 * 1024  # a config.json bigger than this is read by the check, not here
REMOTE_SCHEMES = ("s3://", "gs://", "gcs://", "az://", "abfs://")


@dataclass(frozen=True)
class Target:
    """One thing to check: `target` exactly as `whyload check` takes it, with `--revision` and
    the HF cache it lives in when that is not this process's (`cache_dir`)."""

    target: str
    revision: str | None = None
    cache_dir: str | None = None
    found_in: str = ""  # the argument that stood for it
    # --storage-option pairs for the bucket it was listed in (credentials, endpoint)
    storage_options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """How the target is shown: `org/name@ref` for a cache entry, the target otherwise."""
        return f"{self.target}@{self.revision}" if self.revision else self.target


def discover(arguments: Iterable[str], *, lister: RemoteLister | None = None) -> Iterator[Target]:
    """Every target the arguments stand for, in a stable order, each once."""
    seen: set[tuple[str, str | None, str | None]] = set()
    for argument in arguments:
        for found in targets_of(argument, lister or RemoteLister()):
            key = (found.target, found.revision, found.cache_dir)
            if key not in seen:
                seen.add(key)
                yield found


def targets_of(argument: str, lister: RemoteLister) -> Iterator[Target]:
    """The targets one argument stands for (the module docstring's table)."""
    if argument.startswith(REMOTE_SCHEMES):
        options = tuple(sorted((lister.storage_options or {}).items()))
        yield from (Target(t, found_in=argument, storage_options=options)
                    for t in lister.bucket_folders(argument))
        return
    if argument.startswith("hf://") and "/" not in argument.removeprefix("hf://").strip("/"):
        author = argument.removeprefix("hf://").strip("/")
        yield from (Target(f"hf://{repo}", found_in=argument)
                    for repo in lister.author_models(author))
        return
    path = Path(argument).expanduser()
    try:
        st = path.stat()
    except OSError:
        yield Target(argument, found_in=argument)  # the resolver says what it is, or why not
        return
    if stat.S_ISDIR(st.st_mode):
        yield from model_folders(path, found_in=argument)
    elif stat.S_ISREG(st.st_mode) and is_target_list(path):
        yield from read_target_list(path)
    else:
        yield Target(argument, found_in=argument)


# --- folder trees ---------------------------------------------------------------------------------


def model_folders(root: Path, *, found_in: str) -> Iterator[Target]:
    """Each folder under root (root too) that holds a model file, and each HF cache repo, in
    sorted order. Symbolic links to folders are followed once (a loop is not)."""
    visited: set[tuple[int, int]] = set()
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            st = folder.stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in visited:
            continue
        visited.add((st.st_dev, st.st_ino))
        if is_hf_repo_folder(folder):
            yield from cache_entries(folder, found_in=found_in)
            continue
        files, subfolders = _list(folder)
        if holds_model_file(folder, files):
            yield Target(str(folder), found_in=found_in)
        pending.extend(reversed(subfolders))


def _list(folder: Path) -> tuple[list[str], list[Path]]:
    """The regular files and the subfolders (not skipped) of a folder, sorted by name."""
    files: list[str] = []
    subfolders: list[Path] = []
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return files, subfolders
    for entry in entries:
        try:
            if entry.is_dir():
                if entry.name not in SKIPPED_FOLDERS and not (
                        entry.name == ".cache" and (Path(entry.path) / "huggingface").is_dir()):
                    subfolders.append(Path(entry.path))
            elif entry.is_file():
                files.append(entry.name)
        except OSError:
            continue
    return files, subfolders


def holds_model_file(folder: Path, names: list[str]) -> bool:
    """A folder is a model folder when one of its files is a model file by whyload's rule (by
    name first, else by its first bytes), a Trainer's optimizer state aside. A config.json alone
    counts when it is a model's (model_type or architectures: what AutoConfig reads), so a
    model whose weights are missing is found, and a sentence-transformers 1_Pooling/ is not."""
    candidates = [n for n in names if not is_training_state(n) and n != "config.json"]
    if any(is_model_file(n, None) for n in candidates):
        return True
    if any(is_model_file(n, _kind(folder / n)) for n in candidates):
        return True
    return "config.json" in names and is_model_config(folder / "config.json")


def is_model_config(path: Path) -> bool:
    """Whether a config.json is a transformers model's: it names model_type or architectures
    (or cannot be read: a broken config.json is the model's problem to report)."""
    try:
        if path.stat().st_size > CONFIG_LIMIT:
            return True
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return True
    return not isinstance(value, dict) or "model_type" in value or "architectures" in value


def _kind(path: Path) -> Kind | None:
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return None
    return sniff(head, size, path.name, zero_filled=False)


# --- HF caches ------------------------------------------------------------------------------------


def is_hf_repo_folder(folder: Path) -> bool:
    return folder.name.startswith(HF_REPO_PREFIX) and any(
        (folder / marker).is_dir() for marker in HF_CACHE_MARKERS)


def cache_entries(repo_folder: Path, *, found_in: str) -> Iterator[Target]:
    """Each ref of a cached repo, and each snapshot no ref names (by its commit)."""
    repo_id = repo_folder.name.removeprefix(HF_REPO_PREFIX).replace("--", "/")
    cache_dir = str(repo_folder.parent)
    refs_dir = repo_folder / "refs"
    named: set[str] = set()
    refs = sorted(p for p in refs_dir.rglob("*") if p.is_file()) if refs_dir.is_dir() else []
    for ref in refs:
        with contextlib.suppress(OSError):
            named.add(ref.read_text(encoding="ascii", errors="replace").strip())
        yield Target(repo_id, revision=ref.relative_to(refs_dir).as_posix(),
                     cache_dir=cache_dir, found_in=found_in)
    snapshots = repo_folder / "snapshots"
    commits = sorted(p.name for p in snapshots.iterdir() if p.is_dir()) \
        if snapshots.is_dir() else []
    for commit in commits:
        if commit not in named:
            yield Target(repo_id, revision=commit, cache_dir=cache_dir, found_in=found_in)


# --- lists of targets -----------------------------------------------------------------------------


def is_target_list(path: Path) -> bool:
    """A text file that is no model file (a .txt, a list without suffix): one target a line."""
    if is_model_file(path.name, None):
        return False
    kind = _kind(path)
    return kind is Kind.TEXT or (kind is Kind.EMPTY and path.suffix == ".txt")


def read_target_list(path: Path) -> Iterator[Target]:
    """One target a line, taken as given (a relative path is relative to the current folder,
    as `whyload check` takes it); blank lines and # comments are skipped."""
    if path.stat().st_size > TARGET_LIST_LIMIT:
        raise UsageError(f"{path} is too big to be a list of targets",
                         hint="one target a line: a folder, a file, a hub id, a URL")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} cannot be read as a list of targets: {exc}",
                         hint="one target a line, UTF-8") from None
    for line in text.splitlines():
        target = line.strip()
        if target and not target.startswith("#"):
            yield Target(target, found_in=str(path))


# --- remote listings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteLister:
    """Listings of remote stores: fsspec for buckets, huggingface_hub for a Hub author. The
    storage options and the Hub client can be replaced (a test's moto server, a mock API)."""

    storage_options: dict[str, object] | None = None
    list_models: Callable[[str], Iterable[str]] | None = None

    def bucket_folders(self, url: str) -> list[str]:
        """Each folder under the prefix holding a model file by name, as a URL (s3://b/p/m)."""
        try:
            import fsspec  # type: ignore[import-untyped]
        except ImportError:
            from whyload.errors import MissingExtra

            raise MissingExtra(f"listing {url}", ["fsspec"], "s3") from None
        scheme = url.split("://", 1)[0]
        try:
            fs, root = fsspec.core.url_to_fs(url, **(self.storage_options or {}))
            found = fs.find(root.rstrip("/"), withdirs=False)
        except ImportError as exc:
            from whyload.errors import MissingExtra

            extra = "gcs" if scheme in ("gs", "gcs") else "s3"
            raise MissingExtra(f"listing {url}", [exc.name or scheme], extra) from None
        except Exception as exc:  # the store client's own errors: credentials, no bucket
            raise UsageError(f"cannot list {url}: {type(exc).__name__}: {exc}",
                             hint="check the URL and the credentials fsspec uses") from None
        return bucket_model_folders(scheme, found)

    def author_models(self, author: str) -> list[str]:
        """The repo ids of every model of a Hub author (a user or an organisation)."""
        if self.list_models is not None:
            return sorted(self.list_models(author))
        from huggingface_hub import HfApi

        try:
            return sorted(m.id for m in HfApi().list_models(author=author))
        except Exception as exc:  # no network, an unknown author: the Hub client's errors
            raise UsageError(f"cannot list the models of hf://{author}: {exc}",
                             hint="check the author name and the network") from None


def bucket_model_folders(scheme: str, paths: Iterable[str]) -> list[str]:
    """The folders among listed file paths (bucket/key, as fsspec gives them) that hold a model
    file by name, sorted, as URLs."""
    folders: dict[str, list[str]] = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        folders.setdefault(folder, []).append(name)
    return [f"{scheme}://{folder}" for folder, names in sorted(folders.items())
            if any(is_model_file(n, None) and not is_training_state(n) for n in names)]


def first_target_holding(path: Path, targets: Iterable[Target]) -> str | None:
    """The first local target whose folder holds `path` (where audit must not write), if any."""
    place = path.expanduser().resolve()
    for target in targets:
        if target.cache_dir is not None:
            folder = Path(target.cache_dir)
        elif "://" in target.target:
            continue
        else:
            candidate = Path(target.target).expanduser()
            if not candidate.exists():
                continue
            folder = candidate if candidate.is_dir() else candidate.parent
        folder = folder.resolve()
        if place == folder or folder in place.parents:
            return target.target
    return None
