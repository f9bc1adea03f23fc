"""Write the seed corpora: real files saved by torch, transformers, safetensors and tokenizers,
plus the hostile pickles of tests/test_security.py, cut to what each reader reads.

    python fuzz/make_corpus.py            # fuzz/seeds/<target>/, a few hundred KB in all

Nothing is committed: the seeds are rebuilt from the installed libraries, so they follow them.
The differential harnesses use their reader's seeds (diff-pickle: pickle, ...).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "seeds"
MAX_SEED = 48 << 10


def _tiny_bert(out: Path) -> Path:
    """A transformers model small enough that its whole checkpoint is a seed."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=12, hidden_size=4, num_hidden_layers=1, num_attention_heads=1,
                     intermediate_size=4, max_position_embeddings=8, type_vocab_size=1)
    model = BertModel(cfg)
    model.save_pretrained(out / "st")
    model.save_pretrained(out / "sharded", max_shard_size=200)
    (out / "bin").mkdir()  # transformers 5 saves safetensors only: torch.save, as 4.x did
    torch.save(model.state_dict(), out / "bin" / "pytorch_model.bin")
    torch.save(model.state_dict(), out / "legacy.bin", _use_new_zipfile_serialization=False)
    torch.save({"model": model.state_dict(), "epoch": 3, "optimizer": {"lr": 0.1}},
               out / "trainer.pt")
    return out


def _torch_files(tmp: Path) -> dict[str, bytes]:
    import torch

    out = {}
    for dtype in (torch.float32, torch.bfloat16, torch.float16, torch.int64, torch.bool,
                  torch.float8_e4m3fn, torch.complex64):
        buf = io.BytesIO()
        torch.save({"w": torch.zeros(2, 3).to(dtype), "b": torch.ones(3).to(dtype)}, buf)
        out[f"zip-{dtype}".replace("torch.", "")] = buf.getvalue()
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buf)  # a whole module: its class is pickled
    out["zip-module"] = buf.getvalue()
    buf = io.BytesIO()
    torch.save([torch.zeros(2), {"nested": (torch.ones(1), "text")}], buf)
    out["zip-nested"] = buf.getvalue()
    for name in ("bin/pytorch_model.bin", "legacy.bin", "trainer.pt"):
        out[name.replace("/", "-")] = (tmp / name).read_bytes()
    return out


def _hostile_pickles() -> dict[str, bytes]:
    """The payloads tests/test_security.py proves live (aimed at a marker nobody reads)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    import test_security

    marker = Path("/nonexistent/whyload-fuzz-marker")
    out = {f"hostile-{p.name}": p.build(marker) for p in test_security.PAYLOADS}
    for name, data in test_security._bombs().items():
        out[f"bomb-{name}"] = data[:4096] if len(data) > MAX_SEED else data
    return out


def _plain_pickles() -> dict[str, bytes]:
    import collections
    import decimal

    values = [{"w": [1, 2.5, b"x", None], "epoch": 3}, collections.OrderedDict(a=(1, 2)),
              {1, 2}, frozenset({"a"}), bytearray(b"ab"), 10**30, -1, "é", decimal.Decimal(1),
              [[]] * 3, {"t": (True, False, 1.5)}]
    out = {}
    for proto in range(0, 6):
        for i, v in enumerate(values):
            out[f"plain-p{proto}-{i}"] = pickle.dumps(v, protocol=proto)
    out["two-streams"] = pickle.dumps(1, 2) + pickle.dumps({"a": 1}, 2)
    return out


def _zip_member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith(name)))


def _hostile_zips(benign: bytes, payloads: dict[str, bytes]) -> dict[str, bytes]:
    """A payload as data.pkl, and a payload hidden in another member (tests/test_security.py)."""
    out = {}
    for key in ("hostile-reduce-os-system", "hostile-nested-pickle"):
        for where in ("data.pkl", "extra.pkl"):
            buf = io.BytesIO()
            with zipfile.ZipFile(io.BytesIO(benign)) as src, zipfile.ZipFile(buf, "w") as dst:
                for info in src.infolist():
                    body = src.read(info)
                    if where == "data.pkl" and info.filename.endswith("data.pkl"):
                        body = payloads[key]
                    dst.writestr(info, body)
                if where != "data.pkl":
                    root = src.namelist()[0].split("/")[0]
                    dst.writestr(f"{root}/{where}", payloads[key])
            out[f"{key}-as-{where}"] = buf.getvalue()
    # two roots: torch reads the data.pkl under the first member's folder, whatever comes first
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for name, body in (("b/byteorder", b"little"), ("a/data.pkl", pickle.dumps({"w": 1}, 2)),
                           ("a/version", b"3\n"), ("b/data.pkl", payloads[
                               "hostile-reduce-os-system"]), ("b/version", b"3\n")):
            dst.writestr(name, body)
    out["two-roots"] = buf.getvalue()
    # np.savez of an object array: np.load(allow_pickle=True) unpickles the member
    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, a=np.array([{"k": 1}, None], dtype=object), b=np.zeros(2))
    out["npz-object"] = buf.getvalue()
    return out


def _safetensors_files(tmp: Path) -> dict[str, bytes]:
    import numpy as np
    import torch
    from safetensors.numpy import save
    from safetensors.torch import save as save_torch

    out = {"bert": (tmp / "st" / "model.safetensors").read_bytes()}
    out.update({f"shard-{p.name}": p.read_bytes()
                for p in (tmp / "sharded").glob("*.safetensors")})
    out["numpy-meta"] = save({"a": np.zeros((2, 2), np.float32), "b": np.arange(3)},
                             metadata={"format": "np"})
    out["empty"] = save({})
    out["scalar"] = save({"s": np.array(1.0)})
    out["zero-dim"] = save({"z": np.zeros((0, 3), np.int8)})
    out["torch-dtypes"] = save_torch({str(d): torch.zeros(2, dtype=d) for d in (
        torch.bfloat16, torch.float8_e5m2, torch.bool, torch.uint16, torch.complex64)},
        metadata={"format": "pt"})
    header = json.loads(out["numpy-meta"][8:8 + struct.unpack("<Q", out["numpy-meta"][:8])[0]])
    raw = json.dumps(header).encode() + b"   "
    out["padded"] = struct.pack("<Q", len(raw)) + raw + out["numpy-meta"][-(4 * 4 + 8 * 3):]
    return out


def _header_form(file: bytes) -> bytes:
    """A safetensors file as fuzz_readers.safetensors_file's even form: tensor byte count, header,
    tensor bytes."""
    (n,) = struct.unpack("<Q", file[:8])
    return b"\x00" + (len(file) - 8 - n).to_bytes(2, "little") + file[8:]


def _json_docs(tmp: Path) -> dict[str, bytes]:
    out = {p.name: p.read_bytes() for p in (tmp / "st").glob("*.json")}
    out["index-st"] = (tmp / "sharded" / "model.safetensors.index.json").read_bytes()
    out["bom"] = b"\xef\xbb\xbf" + out["config.json"]
    out["nan"] = b'{"a": NaN, "b": -Infinity, "c": [1e400, 1E-5, "\\ud800"]}'
    out["dup"] = b'{"a": 1, "a": {"b": [true, false, null]}}'
    out["broken"] = out["config.json"][:-5]
    return out


def _indexes(tmp: Path) -> dict[str, bytes]:
    st = (tmp / "sharded" / "model.safetensors.index.json").read_bytes()
    out = {"safetensors": st, "bin": st.replace(b".safetensors", b".bin")}
    out["no-metadata"] = json.dumps({"weight_map": {"a": "x.safetensors"}}).encode()
    out["float-total"] = b'{"metadata": {"total_size": 1.5e3}, "weight_map": {"a": "b"}}'
    return out


def _tokenizers() -> dict[str, bytes]:
    """tokenizer.json of each model kind, saved by the tokenizers library (first byte 0), and
    a vocab.txt (first byte 1): fuzz_tokenizer's selector."""
    from tokenizers import Tokenizer, models

    out = {}
    vocab = {"[PAD]": 0, "[UNK]": 1, "a": 2, "b": 3, "ab": 4}
    kinds = {
        "wordpiece": models.WordPiece(vocab, unk_token="[UNK]"),
        "bpe": models.BPE(vocab, [("a", "b")], unk_token="[UNK]"),
        "unigram": models.Unigram([("[UNK]", 0.0), ("a", -1.0), ("b", -2.0)], unk_id=0),
        "wordlevel": models.WordLevel(vocab, unk_token="[UNK]"),
    }
    for name, model in kinds.items():
        tok = Tokenizer(model)
        tok.add_special_tokens(["[CLS]", "[SEP]"])
        out[name] = b"\x00" + tok.to_str().encode()
    out["vocab-txt"] = b"\x01" + "\n".join(vocab).encode() + b"\n"
    return out


def _sniff_heads(files: dict[str, bytes]) -> dict[str, bytes]:
    """First bytes of every kind of file the snapshot meets, under a name picked by byte 0
    (fuzz_readers.SNIFF_NAMES): weights, LFS pointers, HTML pages, archives, text."""
    heads = {
        "lfs": b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"4b0e" * 16
        + b"\nsize 440449768\n",
        "html": b"<!DOCTYPE html>\n<html class=\"\">\n<head><title>Hugging Face</title></head>"
        b"<body>Repository Not Found</body></html>",
        "xml-error": b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>",
        "gzip": b"\x1f\x8b\x08\x00" + bytes(12), "hdf5": b"\x89HDF\r\n\x1a\n" + bytes(16),
        "gguf": b"GGUF\x03\x00\x00\x00" + bytes(16), "zeros": bytes(64),
        "vocab": b"[PAD]\n[unused0]\n[CLS]\n", "proto0": b"cos\nsystem\n(Vls\ntR.",
        "tar": bytes(257) + b"ustar\x0000" + bytes(64), "msgpack": b"\x82\xa1a\x01\xa1b\x02",
    }
    out = {}
    for i, (name, data) in enumerate({**heads, **files}.items()):
        out[name] = bytes([i % 8]) + data[:4096]
    return out


def _write(target: str, seeds: dict[str, bytes]) -> int:
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, data in seeds.items():
        if len(data) > MAX_SEED:
            continue  # too big to mutate usefully; smaller seeds of the same kind exist
        digest = hashlib.sha1(data).hexdigest()[:8]
        (folder / f"{name}-{digest}").write_bytes(data)
        total += len(data)
    return total


def main() -> None:
    shutil.rmtree(SEEDS, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = _tiny_bert(Path(tmp_name))
        torch_files = _torch_files(tmp)
        hostile = _hostile_pickles()
        plain = _plain_pickles()
        safetensors_files = _safetensors_files(tmp)
        jsons = _json_docs(tmp)
        indexes = _indexes(tmp)
    zips = {k: v for k, v in torch_files.items() if v[:2] == b"PK"}
    data_pkls = {f"data.pkl-{k}": _zip_member(v, "data.pkl") for k, v in zips.items()}
    legacy = {k: v for k, v in torch_files.items() if v[:1] == b"\x80"}
    hostile_zips = _hostile_zips(torch_files["zip-float32"], hostile)
    corpora = {
        "pickle": {**hostile, **plain, **data_pkls, **legacy},
        "torch": {**torch_files, **hostile_zips, **{k: v for k, v in hostile.items()
                                                      if k.startswith("hostile")}},
        "safetensors": {**{f"raw-{k}": b"\x01" + v for k, v in safetensors_files.items()},
                        **{f"header-{k}": _header_form(v) for k, v in safetensors_files.items()}},
        "json": jsons,
        "index": indexes,
        "tokenizer": _tokenizers(),
        "sniff": _sniff_heads({**safetensors_files, **zips, **legacy, **jsons,
                               "hostile": hostile["hostile-reduce-os-system"]}),
    }
    for target, seeds in corpora.items():
        total = _write(target, seeds)
        print(f"{target:12} {len(list((SEEDS / target).iterdir())):4} seeds, {total:9,} bytes")


if __name__ == "__main__":
    main()
