"""WL110-WL115 — bytes that are not weights: a Git LFS pointer, an HTML error page, an
empty or zero-filled file, an archive, bytes of another format than the name says."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

from whyload.checks.file_roles import download_fix, human_size, severity_of, worth_checking
from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.readers.sniff import ARCHIVES, Kind
from whyload.report import Category, Effect, Severity
from whyload.snapshot import PYTORCH_NAME, TF_NAME, Snapshot

FILES = Category.FILES


@check("WL110", "lfs-pointer", FILES)
def lfs_pointer(snap: Snapshot) -> Iterator[Problem]:
    """A Git LFS pointer file where the real file should be

    `git clone` without git-lfs leaves ~130-byte text files in place of the weights. torch.load
    then fails with "invalid load key, 'v'" (or "Unsupported operand 118"), safetensors with
    HeaderTooLarge.
    """
    for f in snap.files.values():
        if f.kind is not Kind.LFS_POINTER or f.lfs is None:
            continue
        severity, effect, note = severity_of(snap, f.name)
        real = f" the real file is {human_size(f.lfs.size)}" if f.lfs.size else ""
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is a Git LFS pointer, not the file itself",
            detail=f"{f.name} is a {f.size}-byte pointer;{real} and was never fetched." + note,
            evidence={"file": f.name, "size": f.size, "real_size": f.lfs.size, "oid": f.lfs.oid},
            fix=fix_commands.lfs_pull(snap.artifact.root, f.name),
        )


def _page_title(head: bytes) -> str:
    m = re.search(rb"<title[^>]*>([^<]{1,200})", head, re.I)
    if m:
        return m.group(1).decode("utf-8", "replace").strip()
    first = head.strip().split(b"\n", 1)[0][:120]
    return first.decode("utf-8", "replace")


@check("WL111", "error-page", FILES)
def error_page(snap: Snapshot) -> Iterator[Problem]:
    """An HTML or JSON page saved in place of the weights

    A download that followed no redirect, hit a quota, a proxy login or a mirror's 404 saves the
    error page under the weights' name: torch.load says "invalid load key, '<'", safetensors
    HeaderTooLarge.
    """
    for f in snap.files.values():
        if not f.is_weights or f.kind not in (Kind.HTML, Kind.JSON, Kind.TEXT):
            continue
        severity, effect, note = severity_of(snap, f.name)
        what = {Kind.HTML: "an HTML page", Kind.JSON: "a JSON document", Kind.TEXT: "a text file"}
        title = _page_title(f.entry.head)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is {what[f.kind]}, not weights",
            detail=f"{f.name} ({human_size(f.size)}) starts with text: {title!r}. A download "
            "saved an error page instead of the file." + note,
            evidence={"file": f.name, "size": f.size, "kind": f.kind.value, "first_line": title},
            fix=download_fix(snap, f.name) + " with a client that follows redirects "
            "(hf download, curl -L)",
        )


@check("WL112", "empty-file", FILES)
def empty_file(snap: Snapshot) -> Iterator[Problem]:
    """An empty file

    A copy or download that was created but never written. Loading it fails (EOFError,
    HeaderTooSmall, or a JSON decode error).
    """
    for f in snap.files.values():
        if f.kind is not Kind.EMPTY or not worth_checking(snap, f):
            continue
        severity, effect, note = severity_of(snap, f.name)
        yield Problem(severity=severity, effect=effect, file=f.name,
                      title=f"{f.name} is empty (0 bytes)",
                      detail=f"{f.name} has no content." + note,
                      evidence={"file": f.name, "size": 0}, fix=download_fix(snap, f.name))


@check("WL113", "zero-filled", FILES)
def zero_filled(snap: Snapshot) -> Iterator[Problem]:
    """A file of zeros: space reserved by a download that never wrote into it

    Download managers and some copy tools preallocate the whole file, so its size looks right;
    its bytes are all zero.
    """
    for f in snap.files.values():
        if f.kind is not Kind.ZEROS or not worth_checking(snap, f):
            continue
        severity, effect, note = severity_of(snap, f.name)
        yield Problem(severity=severity, effect=effect, file=f.name,
                      title=f"{f.name} is all zeros ({human_size(f.size)})",
                      detail=f"The first and last 4 KB of {f.name} are zero bytes: the file was "
                      "preallocated by an interrupted download or copy, its size right, its "
                      "content never written." + note,
                      evidence={"file": f.name, "size": f.size}, fix=download_fix(snap, f.name))


@check("WL114", "archive-not-extracted", FILES)
def archive(snap: Snapshot) -> Iterator[Problem]:
    """A compressed archive where the weights should be

    A model.tar.gz (SageMaker, a release download) or a gzipped weights file must be extracted
    first; from_pretrained reads neither.
    """
    for f in snap.files.values():
        if f.kind not in ARCHIVES:
            continue
        archive_name = re.search(r"\.(tar|tgz|gz|bz2|xz|zst)(\.|$)", f.name) is not None
        if not f.is_weights and not archive_name:
            continue
        if not f.is_weights and snap.plan.format is not None:
            continue  # a stray archive beside healthy weights
        severity, effect, note = severity_of(snap, f.name)
        if not f.is_weights:
            severity, effect = Severity.ERROR, Effect.RAISES  # it holds the missing weights
        tar = f.kind is Kind.TAR or ".tar" in f.name or f.name.endswith(".tgz")
        fix = {Kind.GZIP: f"tar -xzf {shlex.quote(f.name)}" if tar else
               f"gunzip -k {shlex.quote(f.name)}",
               Kind.BZIP2: f"tar -xjf {shlex.quote(f.name)}" if tar else
               f"bunzip2 -k {shlex.quote(f.name)}",
               Kind.XZ: f"tar -xJf {shlex.quote(f.name)}" if tar else
               f"unxz -k {shlex.quote(f.name)}",
               Kind.ZSTD: f"tar --zstd -xf {shlex.quote(f.name)}" if tar else
               f"unzstd {shlex.quote(f.name)}",
               Kind.TAR: f"tar -xf {shlex.quote(f.name)}"}[f.kind]
        yield Problem(severity=severity, effect=effect, file=f.name,
                      title=f"{f.name} is a {f.kind.value} archive, not extracted",
                      detail=f"{f.name} ({human_size(f.size)}) is compressed; extract it into the "
                      "model folder first." + note,
                      evidence={"file": f.name, "size": f.size, "kind": f.kind.value}, fix=fix)


_CONTENT_NAMES = {
    Kind.SAFETENSORS: "a safetensors file", Kind.TORCH_ZIP: "a torch zip checkpoint",
    Kind.PICKLE: "a pickle (legacy torch checkpoint)", Kind.ZIP: "a zip archive",
    Kind.HDF5: "an HDF5 (TensorFlow/Keras) file", Kind.GGUF: "a GGUF file",
    Kind.MSGPACK: "a msgpack (Flax) file", Kind.UNKNOWN: "of no known format",
    Kind.ONNX: "an ONNX model",
}  # fmt: skip
_EXPECTED = {"safetensors": {Kind.SAFETENSORS}, "torch": {Kind.TORCH_ZIP, Kind.PICKLE},
             "tf": {Kind.HDF5}, "flax": {Kind.MSGPACK, Kind.UNKNOWN}, "gguf": {Kind.GGUF},
             "onnx": {Kind.ONNX, Kind.UNKNOWN}}


@check("WL115", "format-mismatch", FILES)
def format_mismatch(snap: Snapshot) -> Iterator[Problem]:
    """A weights file whose bytes are another format than its name says

    A pickle renamed .safetensors gives HeaderTooLarge; a safetensors file renamed .bin gives
    "invalid load key". Loaders pick the parser from the name, so the name must match.
    """
    for f in snap.files.values():
        if not f.is_weights or f.declared not in _EXPECTED or f.kind in _EXPECTED[f.declared]:
            continue
        if f.kind not in _CONTENT_NAMES:
            continue  # pointers, pages, archives, empty files: their own checks say it
        if f.kind is Kind.ZIP and f.torch is not None and f.declared == "torch":
            continue  # a zip without data.pkl: WL131
        severity, effect, note = severity_of(snap, f.name)
        right = {Kind.SAFETENSORS: "model.safetensors", Kind.TORCH_ZIP: PYTORCH_NAME,
                 Kind.PICKLE: PYTORCH_NAME, Kind.HDF5: TF_NAME}.get(f.kind)
        what = _CONTENT_NAMES[f.kind]
        symptom = {"safetensors": "HeaderTooLarge", "torch": "invalid load key"}.get(
            f.declared or "", "a parse error")
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is {what}, not {f.declared}",
            detail=f"The name says {f.declared}, the bytes say {what}; loading it fails with "
            f"{symptom}." + note,
            evidence={"file": f.name, "declared": f.declared, "actual": f.kind.value if f.kind
                      else None, "first_bytes": f.entry.head[:16].hex()},
            fix=(fix_commands.in_folder(snap.artifact.root, f"mv {shlex.quote(f.name)} {right}")
                 if right else download_fix(snap, f.name)),
        )
