"""The pickle walker: opcodes are run symbolically, never loaded. Names stay names, calls stay
records, the work is bounded by `Limits`, and what was built before a stop is kept.

Pickles here are byte literals, so each test shows exactly which opcodes it feeds.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import whyload
from whyload.readers.pickle import (
    Call,
    Global,
    Limits,
    Persistent,
    Unknown,
    walk_pickle_bytes,
)
from whyload.readers.torch import read_torch_zip

CANARY = "whyload_canary_module"


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module on sys.path that leaves a mark if anything imports it."""
    marker = tmp_path / "imported"
    (tmp_path / f"{CANARY}.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                           "def boom(*args): raise SystemExit('called')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, CANARY, raising=False)
    return marker


def test_globals_are_names_never_imports(canary: Path, tmp_path: Path) -> None:
    data = (b"\x80\x02}X\x01\x00\x00\x00w"  # {"w": boom("x")}
            + f"c{CANARY}\nboom\n".encode() + b"X\x01\x00\x00\x00x\x85Rs.")
    stream = walk_pickle_bytes(data)
    assert stream.error is None
    assert stream.globals == [Global(CANARY, "boom")]
    call = stream.value["w"]
    assert isinstance(call, Call) and call.func == Global(CANARY, "boom") and call.args == ("x",)

    folder = tmp_path / "model"
    folder.mkdir()
    with zipfile.ZipFile(folder / "pytorch_model.bin", "w") as zf:
        zf.writestr("archive/data.pkl", data)
        zf.writestr("archive/version", b"3\n")
    whyload.check(str(folder))
    assert not canary.exists()
    assert CANARY not in sys.modules


def test_stack_global_names_are_followed_through_the_memo() -> None:
    data = (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94"  # 'os' MEMOIZE 'system' MEMOIZE
            b"00"  # POP POP: the names are only in the memo now
            b"h\x00h\x01\x93"  # BINGET 0, BINGET 1, STACK_GLOBAL
            b"\x8c\x04true\x85R.")  # ('true',) REDUCE
    stream = walk_pickle_bytes(data)
    assert stream.error is None
    assert stream.globals == [Global("os", "system")]
    assert stream.value == Call(Global("os", "system"), ("true",))


def test_inst_names_its_class() -> None:
    stream = walk_pickle_bytes(b"(Vtrue\nios\nsystem\n.")
    assert stream.globals == [Global("os", "system")]
    assert stream.value == Call(Global("os", "system"), ("true",))


def test_names_built_at_run_time_are_not_guessed() -> None:
    """STACK_GLOBAL whose module is the result of a call: kept, but never as a real name."""
    data = (b"\x80\x04\x8c\x08builtins\x8c\x03str\x93\x8c\x02os\x85R"  # str('os')
            b"\x8c\x06system\x93.")
    stream = walk_pickle_bytes(data)
    assert stream.error is None
    assert Global("builtins", "str") in stream.globals
    assert Global("os", "system") not in stream.globals
    [built] = [g for g in stream.globals if g.name == "system"]
    assert not built.module.isidentifier()  # '<Call>': visibly unknown


def test_real_torch_data_pkl(bin_model: Path) -> None:
    with zipfile.ZipFile(bin_model / "pytorch_model.bin") as zf:
        [name] = [n for n in zf.namelist() if n.endswith("/data.pkl")]
        data = zf.read(name)
    stream = walk_pickle_bytes(data)
    assert stream.error is None
    assert stream.end == len(data)
    assert {g.dotted for g in stream.globals} == {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"}
    assert isinstance(stream.value, Call)
    assert len(stream.value.items) == 41
    storage = next(iter(stream.value.items.values())).args[0]
    assert isinstance(storage, Persistent) and storage.pid[0] == "storage"


@pytest.mark.parametrize(("limits", "data", "message"), [
    (Limits(max_opcodes=100), b"\x80\x02]" + b"Na" * 200 + b".", "more than 100 opcodes"),
    (Limits(max_stack=10), b"\x80\x02]" + b"N" * 100 + b".", "stack deeper than 10"),
    (Limits(max_memo=10), b"\x80\x04]" + b"\x94" * 100 + b".", "memo larger than 10"),
])
def test_limits_stop_the_walk_and_keep_what_was_built(
    limits: Limits, data: bytes, message: str
) -> None:
    stream = walk_pickle_bytes(data, limits)
    assert stream.error == message
    assert isinstance(stream.value, list)  # the list under construction is kept


def test_opcode_limit_keeps_the_items_appended_so_far() -> None:
    stream = walk_pickle_bytes(b"\x80\x02]" + b"Na" * 200 + b".", Limits(max_opcodes=100))
    assert stream.value == [None] * 49  # PROTO, EMPTY_LIST, then 49 x (NONE, APPEND)


def test_unknown_opcode_is_an_error_not_an_exception() -> None:
    stream = walk_pickle_bytes(b"\x80\x02}\xff")
    assert stream.error is not None and "STOP" not in stream.error
    assert stream.value == {}
    assert isinstance(walk_pickle_bytes(b"\x80\x02\x82\x01.").value, Unknown)  # EXT1


@pytest.mark.parametrize("data", [
    pytest.param(b"\x80\x02}X\x01\x00\x00\x00wN", id="between-opcodes"),
    pytest.param(b"\x80\x02}X\x01\x00", id="inside-an-argument"),
])
def test_cut_stream_is_told_apart_from_a_corrupt_one(data: bytes) -> None:
    """A download cut short and a flipped byte need different advice: the walker says which."""
    stream = walk_pickle_bytes(data)
    assert stream.error == "the stream ends before STOP"
    assert stream.value == {}


def test_cut_legacy_checkpoint_is_called_cut_short(copy_of: Callable[[Path], Path],
                                                   legacy_bin_model: Path) -> None:
    model = copy_of(legacy_bin_model)
    weights = model / "pytorch_model.bin"
    weights.write_bytes(weights.read_bytes()[:3000])  # inside the object graph
    [finding] = whyload.check(str(model)).by_code("WL132")
    assert "cut short" in finding.title, finding.title


def test_cut_stream_keeps_the_entries_parsed_before_the_cut(bin_model: Path) -> None:
    """torch's pickler sets a state dict's items in one SETITEMS at the end (batches of 1000):
    a cut data.pkl must still show the tensors read before the cut, not an empty dict."""
    with zipfile.ZipFile(bin_model / "pytorch_model.bin") as zf:
        [name] = [n for n in zf.namelist() if n.endswith("/data.pkl")]
        data = zf.read(name)
    stream = walk_pickle_bytes(data[: len(data) // 2])
    assert stream.error is not None
    assert isinstance(stream.value, Call)
    assert len(stream.value.items) >= 10, "the entries before the cut were dropped"


def test_zip_member_sizes_are_bounded(tmp_path: Path) -> None:
    """A central directory that claims a 300 MB data.pkl is not read at all."""
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}.")
        zf.writestr("archive/version", b"3\n")
    raw = bytearray(path.read_bytes())
    central = raw.index(b"PK\x01\x02")  # the first central directory entry: data.pkl
    raw[central + 24 : central + 28] = (300 << 20).to_bytes(4, "little")  # uncompressed size
    path.write_bytes(bytes(raw))
    with path.open("rb") as f:
        ckpt = read_torch_zip(f, len(raw))
    assert ckpt.error is not None
    assert ckpt.tensors == {}


# --- hostile nesting: must never crash the interpreter -------------------------------------------

DEEP = 1_000_000
NESTED_TUPLE = b"N" + b"\x85" * DEEP  # NONE, then TUPLE1 a million times: ((((None,),),),...)


@pytest.mark.parametrize("data", [
    pytest.param(b"\x80\x02}" + NESTED_TUPLE + b"Ns.", id="dict-key"),
    pytest.param(b"\x80\x04(" + NESTED_TUPLE + b"\x91.", id="frozenset-member"),
    pytest.param(b"\x80\x02}" + NESTED_TUPLE + b"QNs.", id="persistent-id-key"),
])
def test_deeply_nested_hashable_does_not_crash(data: bytes) -> None:
    """Hashing a million-deep tuple recurses in C and overflows the C stack (SIGSEGV): the walker
    must stop nesting (Limits.max_depth) before it hashes."""
    script = textwrap.dedent("""
        import sys
        from whyload.readers.pickle import walk_pickle_bytes
        stream = walk_pickle_bytes(sys.stdin.buffer.read())
        print(stream.error)
    """)
    proc = subprocess.run([sys.executable, "-c", script], input=data, capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, f"exit {proc.returncode} (-11: SIGSEGV) {proc.stderr[-500:]!r}"
