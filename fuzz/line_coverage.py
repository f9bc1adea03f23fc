"""Line coverage of the readers reached by a fuzz corpus (no coverage.py needed).

    python fuzz/line_coverage.py TARGET CORPUS_FOLDER...

Replays every input through the target under sys.settrace and prints, for each whyload module
the target reached, the lines run out of the lines that can run (from the code objects).
libFuzzer's own `cov:` counts instrumented edges in whyload, pickletools, zipfile and json
together; this says which reader lines the corpus exercises.
"""

from __future__ import annotations

import sys
import types
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import fuzz_differential as differential  # noqa: E402  (after the path is set)
import fuzz_readers as targets  # noqa: E402

SRC = str(HERE.parent / "src" / "whyload")


def _lines(code: types.CodeType) -> set[int]:
    """The lines of every function in `code` (module and class bodies run at import)."""
    out = set()
    if code.co_flags & 0x2:  # CO_NEWLOCALS: a function, lambda or comprehension
        out = {line for _, _, line in code.co_lines() if line is not None}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out |= _lines(const)
    return out


def main() -> None:
    run = {**targets.TARGETS, **differential.TARGETS}[sys.argv[1]]
    hit: dict[str, set[int]] = defaultdict(set)

    def tracer(frame: types.FrameType, event: str, arg: object):  # type: ignore[no-untyped-def]
        name = frame.f_code.co_filename
        if not name.startswith(SRC):
            return None
        hit[name].add(frame.f_lineno)
        return tracer

    inputs = [p for folder in sys.argv[2:] for p in Path(folder).iterdir() if p.is_file()]
    for path in inputs:
        sys.settrace(tracer)
        try:
            run(path.read_bytes())
        except Exception as exc:  # a crash input: counted, and said
            print(f"{path.name}: {type(exc).__name__}: {exc}"[:200])
        finally:
            sys.settrace(None)
    print(f"{len(inputs)} inputs")
    for name in sorted(hit):
        source = Path(name).read_text()
        possible = _lines(compile(source, name, "exec"))
        ran = hit[name] & possible
        rel = name[len(SRC) - len("whyload"):]
        missed = ",".join(map(str, sorted(possible - ran)))
        missed = missed if len(missed) <= 300 else missed[:300] + "..."
        print(f"{rel:40} {len(ran):4}/{len(possible):4} lines "
              f"({100 * len(ran) / len(possible):.0f}%)  not run: {missed}")


if __name__ == "__main__":
    main()
