"""Write the seed corpus for fuzz_readers.py: one small valid input per reader, each prefixed
with the byte that selects its reader (see READERS in fuzz_readers.py)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save

READERS = ("pickle", "safetensors", "torch-zip", "legacy", "sniff", "lfs", "json", "tokenizer",
           "code", "npy")


def seeds() -> dict[str, bytes]:
    state = pickle.dumps({"w": [1, 2.5, b"x", None], "epoch": 3}, protocol=2)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", state)
        z.writestr("archive/version", "3\n")
        z.writestr("archive/data/0", b"\x00" * 16)
    legacy = b"".join(pickle.dumps(v, protocol=2) for v in (
        0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, {"w": 1}, ["0"]))
    return {
        "pickle": state,
        "safetensors": save({"w": np.zeros((2, 2), np.float32)}),
        "torch-zip": zipped.getvalue(),
        "legacy": legacy,
        "sniff": b"\x80\x02}q\x00.",
        "lfs": b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64
        + b"\nsize 1\n",
        "json": json.dumps({"model_type": "bert", "vocab_size": 10}).encode(),
        "tokenizer": json.dumps({"model": {"type": "WordPiece", "vocab": {"a": 0}}}).encode(),
        "code": b"import os\nos.system('x')\n",
        "npy": b"\x01\x00F\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
        + pickle.dumps([1], protocol=2),
    }


def main() -> None:
    out = Path(__file__).parent / "corpus"
    out.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (out / name).write_bytes(bytes([READERS.index(name)]) + data)
    print(f"{len(seeds())} seeds in {out}")


if __name__ == "__main__":
    main()
