"""Differential harnesses: whyload's readers against the libraries that really load the files.

- diff-pickle: the walker against pickletools.genops (the same opcode stream, stopped at the same
  place) and against CPython's own unpickler run with a find_class that hands back an inert stub
  (accept/reject, and every global the real unpickler resolves must be among whyload's).
- diff-safetensors: read_safetensors_header against `safetensors.safe_open` on the same bytes
  (accept/reject, the same error, the same tensors).
- diff-torch: read_torch_zip against torch's own zip reader (`torch._C.PyTorchFileReader`, in a
  worker process: a crash there must not take the fuzzer with it) on the same bytes
  (accept/reject, and the same data.pkl read when both accept).

Disagreements are counted by class in fuzz/out/<target>/counts.json, with a few inputs of each
class kept beside it; fuzz/README.md says which classes are intended. Only a disagreement that
breaks whyload's contract raises: a global the unpickler resolves that whyload, having walked
the stream to its end, does not name; tensors whyload reads differently from safetensors when
both accept.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import pickletools
import re
import select
import struct
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuzz_readers import SCRATCH, guarded, safetensors_file

from whyload.readers import pickle as wl_pickle
from whyload.readers import safetensors as wl_safetensors
from whyload.readers import torch as wl_torch

OUT = Path(os.environ.get("WHYLOAD_FUZZ_OUT", Path(__file__).resolve().parent / "out"))
SAMPLES_PER_CLASS = 5


class Recorder:
    """Counts per class, a few inputs of each, flushed to disk as it goes (libFuzzer leaves by
    exit(), so nothing can wait for the end)."""

    def __init__(self, target: str) -> None:
        self.dir = OUT / target
        self.counts: Counter[str] = Counter()
        self.inputs = 0
        saved = self.dir / "counts.json"
        if saved.exists():  # a campaign restarted after a crash: go on counting
            doc = json.loads(saved.read_text())
            self.counts.update(doc["classes"])
            self.inputs = doc["inputs"]

    def note(self, cls: str, data: bytes) -> None:
        self.counts[cls] += 1
        if self.counts[cls] <= SAMPLES_PER_CLASS:
            folder = self.dir / re.sub(r"[^\w.-]+", "_", cls)[:120]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
            self.flush()

    def tick(self) -> None:
        self.inputs += 1
        if self.inputs % 5000 == 0:
            self.flush()

    def flush(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        doc = {"inputs": self.inputs, "classes": dict(self.counts.most_common())}
        (self.dir / "counts.json").write_text(json.dumps(doc, indent=1) + "\n")


def _short(exc: BaseException) -> str:
    """An exception as a class key: its type and first line, numbers and quoted text blanked."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = re.sub(r"0x[0-9a-fA-F]+|\d+", "N", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    return f"{type(exc).__name__}: {text[:80]}"


# --- pickle ---------------------------------------------------------------------------------

class _Stub:
    """What every global becomes: a class that takes any arguments and any state."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Stub:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Stub:
        return _Stub()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass

    def add(self, value: Any) -> None:
        pass


class _InertUnpickler(pickle.Unpickler):
    """CPython's unpickler, every opcode its own, with nothing real behind a global."""

    def __init__(self, f: io.BytesIO) -> None:
        super().__init__(f)
        self.resolved: list[str] = []

    def find_class(self, module: str, name: str) -> type:
        self.resolved.append(f"{module} {name}")
        return _Stub

    def persistent_load(self, pid: Any) -> Any:
        return ("persistent", pid)


MAX_REFERENCE_MEMO = 1 << 16  # CPython's unpickler grows its memo to twice the highest index


def _genops_count(data: bytes) -> tuple[int, int | None, str | None, bool]:
    """Opcodes genops yields, the offset after STOP (None without one), its error, and whether
    the stream is safe to hand to CPython's unpickler (a PUT at index 2**31 makes it allocate
    and clear a 16 GB memo: not a whyload question, and not something to do on a shared box)."""
    f = io.BytesIO(data)
    n = 0
    tame = True
    try:
        for op, arg, _ in pickletools.genops(f):
            n += 1
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and int(arg) > MAX_REFERENCE_MEMO:
                tame = False
            if op.name == "STOP":
                return n, f.tell(), None, tame
    except Exception as exc:  # what genops raises is the point: it is recorded
        return n, None, _short(exc), tame
    return n, None, "no STOP", tame


PICKLE_RECORD = Recorder("diff-pickle")


def diff_pickle(data: bytes) -> None:
    with guarded():
        walked = wl_pickle.walk_pickle_bytes(data)
    PICKLE_RECORD.tick()
    n, stop_at, genops_error, tame = _genops_count(data)
    # the same opcode stream: whyload reads what genops yields, and stops no later
    assert walked.opcodes <= n + (1 if genops_error else 0), (walked.opcodes, n)
    if walked.error is None:
        assert genops_error is None and walked.opcodes == n and walked.end == stop_at
    if genops_error is not None:
        assert walked.error is not None
    if not tame:
        PICKLE_RECORD.note("not compared: memo index too large for CPython's unpickler", data)
        return
    unpickler = _InertUnpickler(io.BytesIO(data))
    try:
        unpickler.load()
        lib_error = None
    except RecursionError:
        lib_error = "RecursionError"
    except Exception as exc:  # any refusal is an answer to compare
        lib_error = _short(exc)
    # as genops gives them, "module name": a space in either is not split back the same way
    # (whyload splits at the first); such a name never imports, so it is compared joined
    named = {f"{g.module} {g.name}" for g in walked.globals}
    unseen = [g for g in unpickler.resolved if g not in named]
    if unseen and walked.error is None and walked.frame_violation is not None:
        # CPython reads a line only to its FRAME's end: the file is already an error (WL604)
        PICKLE_RECORD.note("globals-differ-across-frame-end: reported as WL604", data)
        unseen = []
    if unseen and walked.error is None and all("\\" in g for g in unseen):
        # pickletools escape-decodes GLOBAL's lines, CPython takes them raw: a name with a
        # backslash imports nothing, so naming it otherwise hides no callable
        PICKLE_RECORD.note("globals-differ-by-escapes: a backslash name never imports", data)
        unseen = []
    if unseen and walked.error is None:
        raise AssertionError(f"the unpickler resolves {unseen[:3]}, whyload does not name them")
    if unseen:
        PICKLE_RECORD.note(f"globals-past-whyload-stop: {_reason(walked)}", data)
    wl_ok, lib_ok = walked.error is None, lib_error is None
    if wl_ok and lib_ok:
        PICKLE_RECORD.counts["agree-accept"] += 1
    elif not wl_ok and not lib_ok:
        PICKLE_RECORD.counts["agree-reject"] += 1
    elif wl_ok:
        PICKLE_RECORD.note(f"whyload-accepts, unpickler refuses: {lib_error}", data)
    else:
        PICKLE_RECORD.note(f"unpickler-accepts, whyload stops: {_reason(walked)}", data)


def _reason(walked: wl_pickle.PickleStream) -> str:
    if walked.truncated:
        return "truncated"
    return re.sub(r"\d[\d,]*", "N", str(walked.error))[:80]


# --- safetensors ----------------------------------------------------------------------------

SAFETENSORS_RECORD = Recorder("diff-safetensors")
_LIB_PREFIX = "Error while deserializing header: "


def _safe_open(path: Path) -> tuple[dict[str, tuple[str, list[int]]] | None, str | None]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            out = {}
            for k in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                s = f.get_slice(k)
                out[k] = (s.get_dtype(), list(s.get_shape()))
            return out, None
    except Exception as exc:  # SafetensorError, or what numpy says of a dtype it lacks
        return None, str(exc)


def diff_safetensors(raw: bytes) -> None:
    data = safetensors_file(raw)
    with guarded():
        header = wl_safetensors.read_safetensors_header(io.BytesIO(data), len(data))
    SAFETENSORS_RECORD.tick()
    path = SCRATCH / "diff.safetensors"
    path.write_bytes(data)
    tensors, lib_error = _safe_open(path)
    if header.error is None and tensors is not None:
        mine = {k: (t.dtype, list(t.shape)) for k, t in header.tensors.items()}
        assert mine == tensors, (mine, tensors)
        SAFETENSORS_RECORD.counts["agree-accept"] += 1
    elif header.error is not None and lib_error is not None:
        lib_text = lib_error.removeprefix(_LIB_PREFIX)
        if lib_text.startswith(header.error.message):
            SAFETENSORS_RECORD.counts["agree-reject, same error"] += 1
        else:
            lib_kind = lib_text.split(":")[0][:60]
            SAFETENSORS_RECORD.note(
                f"agree-reject, whyload {header.error.value} vs library '{lib_kind}'", raw)
    elif header.error is None:
        SAFETENSORS_RECORD.note(f"whyload-accepts, library refuses: "
                                f"{lib_error.removeprefix(_LIB_PREFIX)[:70]}", raw)
    else:
        SAFETENSORS_RECORD.note(f"library-accepts, whyload {header.error.value}: "
                                f"{re.sub(r'[0-9,]+', 'N', header.error_detail)[:70]}", raw)


# --- torch zip ------------------------------------------------------------------------------

_WORKER = r"""
import io, struct, sys, hashlib
import torch
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(4)
    if len(head) < 4:
        break
    data = inp.read(struct.unpack("<I", head)[0])
    try:
        if data[:4] != b"PK\x03\x04":  # torch.load's _is_zipfile: else the legacy path
            raise ValueError("not a zip to torch.load (no local header at 0)")
        reader = torch._C.PyTorchFileReader(io.BytesIO(data))
        pkl = reader.get_record("data.pkl")
        line = "read " + hashlib.sha1(bytes(pkl)).hexdigest()
    except Exception as exc:
        line = "refuse " + type(exc).__name__ + ": " + (str(exc).splitlines() or [""])[0]
    out.write(line.encode("utf-8", "replace")[:400] + b"\n")
    out.flush()
"""


class TorchWorker:
    """torch's reader in a process of its own, restarted when it dies or hangs."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def ask(self, data: bytes, timeout: float = 10.0) -> str:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(struct.pack("<I", len(data)) + data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            return "hang"
        line = self.proc.stdout.readline()
        if not line:
            return self._died()
        return line.decode("utf-8", "replace").strip()

    def _died(self) -> str:
        assert self.proc is not None
        code = self.proc.wait()
        return f"crash (exit {code})"


TORCH_RECORD = Recorder("diff-torch")
TORCH = TorchWorker()


def _whyload_state(ckpt: wl_torch.TorchCheckpoint) -> str:
    error = ckpt.error or ""
    if ckpt.missing_records:
        return "not-torch"
    for prefix, state in (("no end-of-central-directory", "no-eocd"),
                          ("the zip directory is unreadable", "unreadable-directory"),
                          ("members extend", "cut"), ("data.pkl inflates", "bomb-refused"),
                          ("data.pkl is unreadable", "data.pkl-unreadable")):
        if error.startswith(prefix) or (state == "bomb-refused" and "zip directory" in error
                                        and "not read" in error):
            return state
    return "read"


def _whyload_pkl(data: bytes) -> str | None:
    """The data.pkl read_torch_zip walks (the first member named <root>/data.pkl), hashed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            pkl = [i for i in zf.infolist()
                   if i.filename.endswith("data.pkl") and i.filename.count("/") == 1]
            return hashlib.sha1(zf.read(pkl[0])).hexdigest() if pkl else None
    except Exception:
        return None


def diff_torch(data: bytes) -> None:
    with guarded():
        ckpt = wl_torch.read_torch_zip(io.BytesIO(data), len(data))
    TORCH_RECORD.tick()
    mine = _whyload_state(ckpt)
    theirs = TORCH.ask(data)
    torch_ok = theirs.startswith("read ")
    if mine == "read" and torch_ok:
        if _whyload_pkl(data) == theirs.split()[1]:
            TORCH_RECORD.counts["agree-read, same data.pkl"] += 1
        else:
            TORCH_RECORD.note("both read, different data.pkl", data)
    elif mine != "read" and not torch_ok:
        TORCH_RECORD.counts[f"agree-refuse ({mine})"] += 1
    else:
        key = _norm(theirs if not torch_ok else "read")[:90]
        why = f" ({_norm(ckpt.error or '')[:70]})" if mine != "read" else ""
        TORCH_RECORD.note(f"whyload {mine}{why}, torch {key}", data)


def _norm(text: str) -> str:
    text = re.sub(r"0x[0-9a-f]+|\d[\d,]*", "N", text)
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "diff-pickle": diff_pickle,
    "diff-safetensors": diff_safetensors,
    "diff-torch": diff_torch,
}
