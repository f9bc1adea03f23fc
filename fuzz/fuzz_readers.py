"""Coverage-guided fuzzing of every whyload reader with atheris (not part of the test suite).

    pip install atheris
    python fuzz/fuzz_readers.py fuzz/corpus -max_total_time=3600 -rss_limit_mb=2048 -timeout=10

Without atheris, `python fuzz/fuzz_readers.py --smoke N` feeds N random mutations of the seeds
through the same entry point (a quick check that the harness itself works). See fuzz/README.md.
"""

from __future__ import annotations

import io
import random
import sys
import tempfile
from pathlib import Path

try:
    import atheris
except ImportError:  # the smoke mode needs no atheris
    atheris = None

if atheris is not None:
    with atheris.instrument_imports():
        from whyload.readers import code, jsonfile, lfs, pickle, safetensors, sniff, tokenizer
        from whyload.readers import torch as torch_reader
else:
    from whyload.readers import code, jsonfile, lfs, pickle, safetensors, sniff, tokenizer
    from whyload.readers import torch as torch_reader

SCRATCH = Path(tempfile.mkdtemp(prefix="whyload-fuzz-"))
LIMITS = pickle.Limits(max_opcodes=200_000, max_memo=50_000, max_stack=50_000)
READERS = ("pickle", "safetensors", "torch-zip", "legacy", "sniff", "lfs", "json", "tokenizer",
           "code", "npy")


def run_reader(which: str, data: bytes) -> None:
    """One reader on one input. Readers must not raise: any exception here is a finding."""
    if which == "pickle":
        pickle.walk_pickle_bytes(data, LIMITS)
    elif which == "safetensors":
        safetensors.read_safetensors_header(io.BytesIO(data), len(data))
    elif which == "torch-zip":
        torch_reader.read_torch_zip(io.BytesIO(data), len(data))
    elif which == "legacy":
        torch_reader.read_legacy_torch(io.BytesIO(data), len(data))
    elif which == "sniff":
        sniff.sniff(data[:4096], len(data), "pytorch_model.bin")
    elif which == "lfs":
        lfs.parse_lfs_pointer(data)
    elif which == "json":
        jsonfile.parse_json(data)
    elif which == "tokenizer":
        (SCRATCH / "tokenizer.json").write_bytes(data)
        tokenizer.read_tokenizer(SCRATCH, {"tokenizer.json": len(data)})
    elif which == "code":
        (SCRATCH / "modeling_x.py").write_bytes(data)
        code.read_code(SCRATCH, "modeling_x.py", len(data))
    else:
        torch_reader.object_array_pickle(b"\x93NUMPY" + data)


def test_one_input(data: bytes) -> None:
    """The first byte picks the reader; the rest is its input."""
    if not data:
        return
    run_reader(READERS[data[0] % len(READERS)], data[1:])


def _smoke(count: int) -> None:
    seeds = [p.read_bytes() for p in (Path(__file__).parent / "corpus").glob("*")] or [b""]
    rng = random.Random(0)
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(0, 8)):
            if data and rng.random() < 0.7:
                data[rng.randrange(len(data))] = rng.randrange(256)
            else:
                data[rng.randint(0, len(data)):0] = rng.randbytes(rng.randint(1, 8))
        test_one_input(bytes(data))
    print(f"{count} inputs, no exception")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--smoke":
        _smoke(int(sys.argv[2]))
        return
    if atheris is None:
        sys.exit("atheris is not installed: pip install atheris (or use --smoke N)")
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
