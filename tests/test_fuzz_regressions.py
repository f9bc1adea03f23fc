"""Inputs the fuzzing campaign (fuzz/README.md) found to break a reader, minimized, fed to the
reader as plain bytes: no atheris needed. Each says what the reader must now answer, and each
also goes through its fuzz target (fuzz/fuzz_readers.py), which checks the reader's whole contract
(no exception, nothing unpickled, imported, run or written)."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from whyload import snapshot
from whyload.readers import tokenizer
from whyload.readers.pickle import Unknown, walk_pickle_bytes
from whyload.readers.safetensors import HeaderError, read_safetensors_header
from whyload.readers.torch import read_torch_zip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
os.environ.setdefault("WHYLOAD_FUZZ_OUT", tempfile.mkdtemp(prefix="whyload-fuzz-out-"))
import fuzz_differential as differential  # fuzz/ is not a package: its folder is on the path above
import fuzz_readers as targets


def _safetensors(header: bytes, tail: bytes = b"") -> bytes:
    return len(header).to_bytes(8, "little") + header + tail


# (fuzz target, the input as the target takes it, what was wrong)
REGRESSIONS = [
    ("safetensors", b"\x01" + _safetensors(b'{"a":{"dtype":[],"shape":[],"data_offsets":[0,0]}}'),
     "an unhashable dtype raised TypeError"),
    ("tokenizer", b'\x00{"model":{"vocab":{"a":0}},"added_tokens":true}',
     "added_tokens that is not a list raised TypeError"),
    ("index", b'{"weight_map":{},"metadata":{"total_size":Infinity}}',
     "total_size Infinity raised OverflowError"),
    ("pickle", b"\x80\x05}(\x96\x01\x00\x00\x00\x00\x00\x00\x00aN",
     "a bytearray key in a cut SETITEMS raised TypeError"),
    ("pickle", bytes.fromhex("94289480058005950d000000000000009602000000000000000000800595"
                             "0d000000000000009602000000000000000000960200000000ffff002b05949495"),
     "the fuzzer's own input for the bytearray key"),
]


# the fuzzer's own crash inputs, unminimized: fuzz_inputs/<target>/<what broke>
INPUTS = sorted((Path(__file__).parent / "fuzz_inputs").glob("*/*"))


@pytest.mark.parametrize(("target", "data"), [(t, d) for t, d, _ in REGRESSIONS],
                         ids=[why for _, _, why in REGRESSIONS])
def test_the_target_contract_holds(target: str, data: bytes) -> None:
    targets.TARGETS[target](data)


# where whyload names a global otherwise than CPython's unpickler resolves it: pickletools
# escape-decodes GLOBAL's lines where CPython takes them raw (a name with a backslash never
# imports), and reads a line across a FRAME's end where CPython stops (the file is WL604, an
# error, whatever it names); the differential records both classes instead of failing
DIVERGENT: dict[str, str] = {}


def test_a_global_read_across_a_frame_end_is_a_frame_violation() -> None:
    data = (Path(__file__).parent / "fuzz_inputs" / "diff-pickle" /
            "global-line-across-frame-end").read_bytes()
    walked = walk_pickle_bytes(data)
    assert walked.frame_violation is not None
    assert "_pickle.loads" in [g.dotted for g in walked.globals]


def _input(path: Path) -> object:
    why = DIVERGENT.get(path.name)
    marks = [pytest.mark.xfail(reason=why, strict=True, raises=AssertionError)] if why else []
    return pytest.param(path, marks=marks, id=f"{path.parent.name}/{path.name}")


@pytest.mark.parametrize("path", [_input(p) for p in INPUTS])
def test_crash_inputs_pass_their_target(path: Path) -> None:
    run = {**targets.TARGETS, **differential.TARGETS}[path.parent.name]
    run(path.read_bytes())


def test_a_zip_member_with_an_empty_name_is_skipped() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("a/version", "3\n")
        z.writestr(zipfile.ZipInfo(""), b"\x80\x02cposix\nsystem\nq\x00.")
    data = buf.getvalue()
    ckpt = read_torch_zip(io.BytesIO(data), len(data))
    assert ckpt.error is None and ckpt.members[-1] == ""
    assert [h.member for h in ckpt.hidden_pickles] == [""]  # still scanned: not a folder
    assert ckpt.hidden_pickles[0].globals == ("posix.system",)


@pytest.mark.parametrize("cut", [False, True])
def test_a_bytearray_key_is_an_unhashable_key(cut: bool) -> None:
    stream = walk_pickle_bytes(b"\x80\x05}(\x96\x01\x00\x00\x00\x00\x00\x00\x00aN"
                               + (b"" if cut else b"u."))
    assert stream.truncated is cut and (stream.error is None) is not cut
    assert stream.value == {Unknown("unhashable bytearray"): None}


@pytest.mark.parametrize("dtype", [b"[]", b"{}", b"null", b"7"])
def test_a_dtype_that_is_not_a_string_is_a_deserialization_error(dtype: bytes) -> None:
    data = _safetensors(b'{"a":{"dtype":' + dtype + b',"shape":[],"data_offsets":[0,0]}}')
    header = read_safetensors_header(io.BytesIO(data), len(data))
    assert header.error is HeaderError.NOT_DESERIALIZABLE
    assert "unknown dtype" in header.error_detail


def test_added_tokens_that_are_not_a_list_add_nothing(tmp_path: Path) -> None:
    raw = b'{"model":{"type":"WordPiece","vocab":{"a":0,"b":1}},"added_tokens":true}'
    (tmp_path / "tokenizer.json").write_bytes(raw)
    facts, broken = tokenizer.read_tokenizer(tmp_path, {"tokenizer.json": len(raw)})
    assert broken is None and facts is not None
    assert (facts.size, facts.base_size, facts.added) == (2, 2, ())


@pytest.mark.parametrize("total", [b"Infinity", b"-Infinity", b"NaN", b"1e400"])
def test_an_index_total_size_that_is_not_a_number_of_bytes_is_unknown(tmp_path: Path,
                                                                       total: bytes) -> None:
    path = tmp_path / "model.safetensors.index.json"
    path.write_bytes(b'{"metadata":{"total_size":' + total + b'},"weight_map":{"w":"a.st"}}')
    index = snapshot.read_index(path.name, path, path.stat().st_size)
    assert index.problem is None and index.total_size is None
    assert index.shards == ["a.st"]


F32 = b'"dtype":"F32","shape":[1],"data_offsets":[0,4]'
# headers Python's json reads and the library's serde_json refuses (differential harness)
SERDE_REFUSES = {
    "NaN": b'{"a":{' + F32 + b',"x":NaN}}',
    "Infinity": b'{"a":{' + F32 + b',"x":-Infinity}}',
    "number-out-of-range": b'{"a":{' + F32 + b',"x":1e400}}',
    "lone-surrogate-name": b'{"\\ud800":{' + F32 + b"}}",
    "lone-surrogate-metadata": b'{"__metadata__":{"k":"\\udc00"},"a":{' + F32 + b"}}",
    "metadata-twice": b'{"__metadata__":{},"__metadata__":{"k":"v"},"a":{' + F32 + b"}}",
    "dtype-twice": b'{"a":{"dtype":"F32",' + F32 + b"}}",
    "128-levels": b'{"a":{' + F32 + b',"x":' + b"[" * 126 + b"]" * 126 + b"}}",
    "invalid-tensor-named-again": b'{"a":{"dtype":"U08","shape":[1],"data_offsets":[0,4]},'
    b'"a":{' + F32 + b"}}",
    "field-twice-in-a-tensor-named-again": b'{"a":{"shape":[1],' + F32 + b'},"a":{' + F32
    + b"}}",
    "minus-zero-offset": b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[-0,4]}}',
}
# and what both accept
SERDE_ACCEPTS = {
    "127-levels": b'{"a":{' + F32 + b',"x":' + b"[" * 125 + b"]" * 125 + b"}}",
    "surrogate-pair": b'{"__metadata__":{"k":"\\ud83d\\ude00"},"a":{' + F32 + b"}}",
    "big-integer": b'{"a":{' + F32 + b',"x":123456789012345678901234567890}}',
    "tensor-twice": b'{"a":{' + F32 + b'},"a":{' + F32 + b"}}",
    "metadata-key-twice": b'{"__metadata__":{"k":"a","k":"b"},"a":{' + F32 + b"}}",
    "minus-zero-elsewhere": b'{"a":{' + F32 + b',"x":-0}}',
}


def _library_accepts(path: Path) -> bool:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy"):
            return True
    except SafetensorError:
        return False


@pytest.mark.parametrize("name", list(SERDE_REFUSES) + list(SERDE_ACCEPTS))
def test_the_header_json_is_read_as_the_library_reads_it(name: str, tmp_path: Path) -> None:
    data = _safetensors(SERDE_REFUSES.get(name) or SERDE_ACCEPTS[name], bytes(4))
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    header = read_safetensors_header(io.BytesIO(data), len(data))
    assert _library_accepts(path) is (name in SERDE_ACCEPTS)
    if name in SERDE_ACCEPTS:
        assert header.error is None and list(header.tensors) == ["a"]
    else:
        assert header.error is HeaderError.NOT_DESERIALIZABLE


def test_with_two_roots_the_data_pkl_torch_reads_is_the_checkpoint() -> None:
    """torch names the archive after its first record's folder: that folder's data.pkl is the
    one torch unpickles (found by diff-torch), whatever order the others come in."""
    import collections
    import pickle

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("b/version", "3\n")
        zf.writestr("a/data.pkl", pickle.dumps({1, 2}, protocol=2))  # names builtins.set
        zf.writestr("a/version", "3\n")
        zf.writestr("b/data.pkl", pickle.dumps(collections.OrderedDict(b=2), protocol=2))
    data = buf.getvalue()
    ckpt = read_torch_zip(io.BytesIO(data), len(data))
    assert ckpt.globals == ("collections.OrderedDict",)
    assert [h.member for h in ckpt.hidden_pickles] == ["a/data.pkl"]
