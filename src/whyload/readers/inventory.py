"""The files of a model folder: names, sizes, links, and what each one really is.

Only the top level is listed (that is where from_pretrained looks), plus the names of subfolders
that hold weights themselves (`checkpoint-500/`), so a user pointed one level too high is told,
and the names (only) in each subfolder: other tools' layouts live there (a diffusers pipeline's
unet/, DeepSpeed's global_step500/, an FSDP pytorch_model_fsdp_0/).
Nothing is opened that is not a regular file: a FIFO would block, a device could be endless.

`hf download --local-dir` keeps its bookkeeping in the folder itself (huggingface_hub's
_local_folder.py); a download in progress or cut leaves an `.incomplete` file there:

    model/
    ├── config.json
    └── .cache/huggingface/download/
        ├── config.json.metadata          commit, etag, time: written once a file is complete
        ├── model.safetensors.lock
        └── <urlsafe-b64 sha1 of "model.safetensors.metadata">.<etag>.incomplete
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from whyload.readers.sniff import HEAD_BYTES, Kind, sniff

MAX_ENTRIES = 5000
MAX_SUBFOLDERS = 50  # subfolders whose names are listed
MAX_SUBFOLDER_NAMES = 200  # names kept per subfolder
LOCAL_DIR_DOWNLOADS = Path(".cache") / "huggingface" / "download"


@dataclass(frozen=True)
class Entry:
    name: str
    size: int = 0
    kind: Kind | None = None  # None when it could not be read
    head: bytes = b""
    link_target: str | None = None
    dangling: bool = False
    special: str | None = None  # "fifo", "socket", "device", "directory"
    unreadable: str | None = None


@dataclass(frozen=True)
class Inventory:
    entries: tuple[Entry, ...]
    subfolders_with_weights: tuple[str, ...] = ()
    missing_root: bool = False
    truncated_listing: bool = False
    # names of the entries in each subfolder (bounded): what a layout of another tool holds
    subfolders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # names in .cache/huggingface/download/ (hf download --local-dir's bookkeeping)
    local_dir_downloads: tuple[str, ...] = ()
    case_insensitive: bool = False  # the file system finds Config.json under config.json

    def get(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name), None)


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf",
                   ".onnx")


def take_inventory(root: Path) -> Inventory:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return Inventory((), missing_root=True)
    except OSError:
        return Inventory((), missing_root=True)
    truncated = len(names) > MAX_ENTRIES
    entries: list[Entry] = []
    subfolders: list[str] = []
    listed: dict[str, tuple[str, ...]] = {}
    for name in names[:MAX_ENTRIES]:
        entry = read_entry(root, name)
        if entry.special == "directory":
            if _holds_weights(root / name):
                subfolders.append(name)
            if len(listed) < MAX_SUBFOLDERS:
                listed[name] = list_names(root / name)
            continue
        entries.append(entry)
    downloads = list_names(root / LOCAL_DIR_DOWNLOADS) if ".cache" in listed else ()
    return Inventory(tuple(entries), tuple(subfolders), truncated_listing=truncated,
                     subfolders=listed, local_dir_downloads=downloads,
                     case_insensitive=_folds_case(root, names))


def list_names(folder: Path) -> tuple[str, ...]:
    """The sorted names in a folder, at most MAX_SUBFOLDER_NAMES; none when it cannot be read."""
    try:
        with os.scandir(folder) as it:
            found = []
            for e in it:
                found.append(e.name)
                if len(found) >= MAX_SUBFOLDER_NAMES:
                    break
    except OSError:
        return ()
    return tuple(sorted(found))


def _folds_case(root: Path, names: list[str]) -> bool:
    """Whether the file system answers for a name in another case (macOS, Windows): there a
    Config.json is found as config.json, and breaks only once copied to Linux."""
    name = next((n for n in names if n.swapcase() != n and n.swapcase() not in names), None)
    if name is None:
        return False
    try:
        return os.path.samefile(root / name, root / name.swapcase())
    except OSError:
        return False


def read_entry(root: Path, name: str) -> Entry:
    path = root / name
    link_target = None
    try:
        lst = path.lstat()
    except OSError as exc:
        return Entry(name, unreadable=exc.strerror or str(exc))
    if stat.S_ISLNK(lst.st_mode):
        try:
            link_target = os.readlink(path)
        except OSError:
            link_target = "?"
    try:
        st = path.stat()
    except FileNotFoundError:
        return Entry(name, link_target=link_target, dangling=True)
    except OSError as exc:
        loop = exc.errno == errno.ELOOP
        return Entry(name, link_target=link_target, dangling=True,
                     unreadable="symbolic link loop" if loop else exc.strerror or str(exc))
    if stat.S_ISDIR(st.st_mode):
        return Entry(name, special="directory", link_target=link_target)
    if not stat.S_ISREG(st.st_mode):
        special = ("fifo" if stat.S_ISFIFO(st.st_mode) else
                   "socket" if stat.S_ISSOCK(st.st_mode) else "device")
        return Entry(name, special=special, link_target=link_target)
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
            zero_filled = not head.strip(b"\x00")
            if zero_filled and st.st_size > HEAD_BYTES:  # zeros at both ends: preallocated space
                f.seek(st.st_size - HEAD_BYTES)
                zero_filled = not f.read(HEAD_BYTES).strip(b"\x00")
    except OSError as exc:
        return Entry(name, size=st.st_size, link_target=link_target,
                     unreadable=exc.strerror or str(exc))
    kind = sniff(head, st.st_size, name, zero_filled=zero_filled)
    return Entry(name, size=st.st_size, kind=kind, head=head, link_target=link_target)


def _holds_weights(folder: Path) -> bool:
    try:
        with os.scandir(folder) as it:
            for i, e in enumerate(it):
                if i > 200:
                    return False
                if e.name.endswith(WEIGHT_SUFFIXES) and not is_training_state(e.name):
                    return True
    except OSError:
        return False
    return False


# files a Trainer checkpoint keeps beside the weights; pickles, but not the model
TRAINING_STATE = frozenset({"training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt",
                            "trainer_state.json", "optimizer.bin"})


def is_training_state(name: str) -> bool:
    return name in TRAINING_STATE or name.startswith("rng_state")
