"""Run one fuzz target under atheris (coverage-guided libFuzzer).

    python fuzz/fuzz.py TARGET [libFuzzer flags] [corpus folders]
    python fuzz/fuzz.py pickle fuzz/corpus/pickle fuzz/seeds/pickle -runs=1000000 -max_len=16384

TARGET is a reader (fuzz/fuzz_readers.py: safetensors, torch, pickle, index, json, tokenizer, sniff)
or a differential harness (fuzz/fuzz_differential.py: diff-pickle, diff-safetensors, diff-torch).
whyload (and pickletools, zipfile and json, which the readers drive) is instrumented for
coverage; the libraries the differential harnesses compare against are not.

`python fuzz/fuzz.py TARGET --replay FILE...` feeds files through the target without atheris;
`python fuzz/fuzz.py TARGET --smoke N` feeds it N random mutations of its seeds (a check that
the harness works, not a campaign).
"""

from __future__ import annotations

import random
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ADDRESS_SPACE = 8 << 30
INSTRUMENTED = ["whyload", "pickletools", "zipfile", "json"]


def _load(target: str, instrument: bool):  # type: ignore[no-untyped-def]
    if instrument:
        import atheris

        assert not any(m.split(".")[0] in INSTRUMENTED for m in sys.modules), \
            "imported before instrumentation"
        with atheris.instrument_imports(include=INSTRUMENTED):
            import fuzz_readers as targets
        if target.startswith("diff-"):
            # the harness compares against the libraries: it is not instrumented itself
            import fuzz_differential as differential
            return differential.TARGETS[target]
        return targets.TARGETS[target]
    import fuzz_differential as differential
    import fuzz_readers as targets
    return {**targets.TARGETS, **differential.TARGETS}[target]


def _smoke(run, seeds: Path, count: int) -> None:  # type: ignore[no-untyped-def]
    corpus = [p.read_bytes() for p in seeds.glob("*")] or [b""]
    rng = random.Random(0)
    for _ in range(count):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 8)):
            if data and rng.random() < 0.7:
                data[rng.randrange(len(data))] = rng.randrange(256)
            else:
                data[rng.randint(0, len(data)):0] = rng.randbytes(rng.randint(1, 8))
        run(bytes(data))
    print(f"{count} inputs, no exception")


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    target = sys.argv[1]
    if "--replay" in sys.argv:
        run = _load(target, instrument=False)
        for name in sys.argv[sys.argv.index("--replay") + 1:]:
            run(Path(name).read_bytes())
            print(f"{name}: ok")
        return
    if "--smoke" in sys.argv:
        seeds = Path(__file__).resolve().parent / "seeds" / target.removeprefix("diff-")
        _smoke(_load(target, instrument=False), seeds, int(sys.argv[sys.argv.index("--smoke") + 1]))
        return
    import atheris

    # an allocation past this fails as MemoryError instead of swapping a shared machine;
    # libFuzzer's -rss_limit_mb reports what stays resident
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    run = _load(target, instrument=True)
    atheris.Setup([sys.argv[0], *sys.argv[2:]], run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
