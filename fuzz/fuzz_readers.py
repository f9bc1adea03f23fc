"""One fuzz target per reader: feed it bytes, and check the reader's contract.

The contract every reader keeps, whatever the bytes:

- it returns its facts (a dataclass) and says what is wrong in them; it never raises;
- it does bounded work (libFuzzer's -timeout and -rss_limit_mb turn a hang or a blow-up into
  a crash report);
- it never unpickles, imports a model library, runs code, starts a process or writes a file:
  an audit hook (`Guard`) watches every reader call and any such event is a finding.

Each target also checks what its facts must satisfy (a valid safetensors header covers the
file exactly, a walked pickle reached STOP, ...). An exception out of a target is a bug in the
reader or in the target. This module needs no atheris: tests/test_fuzz_regressions.py feeds the
regression inputs through the same targets, and fuzz/fuzz.py instruments it for libFuzzer.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from whyload import snapshot
from whyload.readers import jsonfile, lfs, pickle, safetensors, sniff, tokenizer
from whyload.readers import torch as torch_reader

# events a reader must never cause: unpickling, code, processes, native libraries, network
FORBIDDEN_EVENTS = frozenset({
    "pickle.find_class", "exec", "marshal.loads", "os.system", "os.exec", "os.posix_spawn",
    "os.spawn", "os.fork", "os.forkpty", "subprocess.Popen", "ctypes.dlopen", "ctypes.dlsym",
    "socket.connect", "socket.bind", "urllib.Request", "os.remove", "os.rename", "shutil.rmtree",
    "os.chmod", "os.truncate", "webbrowser.open",
})  # fmt: skip
# modules `whyload check` must never import (tests/test_safety.py holds the whole pipeline to it)
FORBIDDEN_MODULES = frozenset({"torch", "transformers", "safetensors", "numpy", "tokenizers",
                               "accelerate", "peft", "tensorflow", "jax", "flax"})


class Guard:
    """An audit hook that records forbidden events while a reader runs. Recorded, not raised:
    readers catch exceptions of their own, and a raise from the hook could be swallowed."""

    active: ClassVar[bool] = False
    events: ClassVar[list[str]] = []
    installed: ClassVar[bool] = False

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            sys.addaudithook(cls._hook)
            cls.installed = True

    @classmethod
    def _hook(cls, event: str, args: tuple[object, ...]) -> None:
        if not cls.active:
            return
        if event in FORBIDDEN_EVENTS and not _importing(event):
            cls.events.append(f"{event}{args!r:.200}")
        elif event == "import" and str(args[0]).split(".")[0] in FORBIDDEN_MODULES:
            cls.events.append(f"import {args[0]}")
        elif event == "open" and len(args) > 1 and isinstance(args[1], str) and (
                set(args[1]) & set("wax+")) and not str(args[0]).startswith(str(SCRATCH)):
            cls.events.append(f"open {args[0]!r} for writing")


def _importing(event: str) -> bool:
    """A module's code loaded and run by the import system (a codec the first time a text is
    decoded, say): the import itself is what the hook judges, by the module's name."""
    if event not in ("exec", "marshal.loads"):
        return False
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


@contextmanager
def guarded() -> Iterator[None]:
    Guard.install()
    Guard.events.clear()
    Guard.active = True
    try:
        yield
    finally:
        Guard.active = False
    if Guard.events:
        raise AssertionError(f"a reader did what it must never do: {Guard.events[:3]}")


def _scratch() -> Path:
    """Readers that take a folder get one in memory (/dev/shm) where there is one."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="whyload-fuzz-", dir=base))


SCRATCH = _scratch()


def _write(name: str, data: bytes) -> Path:
    path = SCRATCH / name
    path.write_bytes(data)
    return path


# --- targets --------------------------------------------------------------------------------

def safetensors_file(data: bytes) -> bytes:
    """The file a safetensors input stands for. First byte odd: the bytes as they are. Even:
    two bytes for the length of the tensor bytes at the end, the header, the tensor bytes; the
    8-byte header length is written here, so that mutations explore the JSON rather than break
    the length."""
    if not data or data[0] % 2:
        return data[1:]
    rest = data[3:]
    tail = int.from_bytes(data[1:3], "little") % (len(rest) + 1)
    return struct.pack("<Q", len(rest) - tail) + rest


def fuzz_safetensors(data: bytes) -> None:
    data = safetensors_file(data)
    with guarded():
        header = safetensors.read_safetensors_header(io.BytesIO(data), len(data))
    assert isinstance(header, safetensors.SafetensorsHeader)
    if header.error is None:
        assert header.header_len is not None and header.data_end == len(data), header
        assert all(isinstance(t.shape, tuple) for t in header.tensors.values())
    else:
        assert isinstance(header.error, safetensors.HeaderError) and header.error_detail


def fuzz_torch(data: bytes) -> None:
    """The zip reader on every input; the legacy reader too when the bytes open as a pickle."""
    with guarded():
        ckpt = torch_reader.read_torch_zip(io.BytesIO(data), len(data))
        legacy = (torch_reader.read_legacy_torch(io.BytesIO(data), len(data))
                  if data[:1] == b"\x80" else None)
    assert isinstance(ckpt, torch_reader.TorchCheckpoint) and ckpt.layout == "zip"
    _checkpoint_is_plain(ckpt)
    if legacy is not None:
        assert legacy.layout in ("legacy", "pickle")
        _checkpoint_is_plain(legacy)


def _checkpoint_is_plain(ckpt: torch_reader.TorchCheckpoint) -> None:
    """What the checks consume: strings, tuples and bounded lists, never a live object."""
    assert ckpt.error is None or isinstance(ckpt.error, str)
    assert all(isinstance(g, str) for g in ckpt.globals)
    assert len(ckpt.calls) <= torch_reader.MAX_CALLS_KEPT
    for call in ckpt.calls:
        assert all(a is None or isinstance(a, (str, int, float, bool)) for a in call.args), call
    if ckpt.missing_records:
        assert ckpt.error


PICKLE_LIMITS = pickle.DEFAULT_LIMITS


def fuzz_pickle(data: bytes) -> None:
    with guarded():
        stream = pickle.walk_pickle_bytes(data, PICKLE_LIMITS)
    assert isinstance(stream, pickle.PickleStream)
    assert stream.opcodes <= PICKLE_LIMITS.max_opcodes + 1
    assert len(stream.calls) <= PICKLE_LIMITS.max_calls
    assert 0 <= stream.end <= len(data)
    if stream.error is None:
        assert "STOP" in stream.opcode_names and not stream.truncated
    assert all(isinstance(g.module, str) and isinstance(g.name, str) for g in stream.globals)
    for call in stream.calls:
        assert isinstance(call.target, str) and call.depth <= PICKLE_LIMITS.max_nesting


def fuzz_index(data: bytes) -> None:
    path = _write("model.safetensors.index.json", data)
    with guarded():
        index = snapshot.read_index(path.name, path, len(data))
        shards = index.shards
    assert isinstance(index, snapshot.ShardIndex)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in index.weight_map.items())
    assert all(isinstance(s, str) for s in shards)
    assert index.total_size is None or (isinstance(index.total_size, int)
                                        and index.total_size >= 0)
    if not index.doc.ok:
        assert not index.weight_map and index.doc.error


def fuzz_json(data: bytes) -> None:
    """parse_json against json.loads on the same text: the same documents accepted."""
    with guarded():
        doc = jsonfile.parse_json(data)
    assert isinstance(doc, jsonfile.JsonDoc) and (doc.ok or doc.error)
    if doc.ok:
        assert doc.error is None and doc.line is None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        assert not doc.ok
        return
    try:
        json.loads(text)
        loads = True
    except (ValueError, RecursionError):
        loads = False
    assert doc.ok == loads, (doc, loads)  # a BOM: json.loads refuses it too ("Unexpected UTF-8")


def fuzz_tokenizer(data: bytes) -> None:
    """tokenizer.json on the first byte's even values, vocab.txt on the odd ones."""
    name = "tokenizer.json" if not data or data[0] % 2 == 0 else "vocab.txt"
    for stale in ("tokenizer.json", "vocab.txt"):
        (SCRATCH / stale).unlink(missing_ok=True)
    _write(name, data[1:])
    with guarded():
        facts, broken = tokenizer.read_tokenizer(SCRATCH, {name: len(data) - 1})
    if facts is not None:
        assert isinstance(facts, tokenizer.TokenizerFacts)
        assert isinstance(facts.size, int) and isinstance(facts.base_size, int)
        assert all(isinstance(i, int) and isinstance(c, str) for i, c in facts.added)
    if broken is not None:
        assert not broken.ok


SNIFF_NAMES = ("pytorch_model.bin", "model.safetensors", "config.json", "flax_model.msgpack",
               "model.onnx", "weights.dat", "model.ckpt", "tokenizer.json")


def fuzz_sniff(data: bytes) -> None:
    """What a file is from its first 4 KB (LFS pointers and HTML pages included), the LFS
    pointer's fields, and the protocol 0/1 pickle test the snapshot runs on text heads."""
    name = SNIFF_NAMES[data[0] % len(SNIFF_NAMES)] if data else ""
    body = data[1:]
    head = body[: sniff.HEAD_BYTES]
    with guarded():
        kind = sniff.sniff(head, len(body), name, zero_filled=not body.strip(b"\x00"))
        pointer = lfs.parse_lfs_pointer(head)
        is_pickle = snapshot._is_pickle(head, name.endswith((".bin", ".ckpt")))
    assert isinstance(kind, sniff.Kind) and isinstance(is_pickle, bool)
    if body.startswith(sniff.LFS_PREFIX):
        assert kind is sniff.Kind.LFS_POINTER
    assert pointer.size is None or pointer.size >= 0
    assert pointer.oid is None or ":" in pointer.oid
    if not body:
        assert kind is sniff.Kind.EMPTY


TARGETS: dict[str, Callable[[bytes], None]] = {
    "safetensors": fuzz_safetensors,
    "torch": fuzz_torch,
    "pickle": fuzz_pickle,
    "index": fuzz_index,
    "json": fuzz_json,
    "tokenizer": fuzz_tokenizer,
    "sniff": fuzz_sniff,
}
