"""`whyload verify` against sequential sha256, side by side in one run.

    .venv/bin/python benchmarks/verify.py            # (a) one 2 GiB file, (b) 8 x 256 MiB shards
    .venv/bin/python benchmarks/verify.py --quick    # 256 MiB and 8 x 32 MiB, one repeat less

Three ways to hash the same files, run in turn (a different order each repeat), page cache warm:
- `hashlib`: one file after another, sha256 in 1 MiB reads — what `hf cache verify` does
  (huggingface_hub.utils.sha.sha_fileobj);
- `sha256sum`: coreutils, one process for all files;
- `whyload`: `whyload.integrity.verify(folder)`: files in parallel threads, 2 MiB reads (a
  second thread reads ahead when a core would idle), each file's zip CRCs (none here) and
  sha256 in one pass.
Ratios are hashlib's median time over the other's (above 1: faster than hashlib). Targets:
whyload >= 0.95x on (a) and >= 1.8x on (b) with at least 2 cores. Files go in a temporary folder
under /tmp (--workdir to choose) and are deleted at the end. Results: docs/benchmarks-verify.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "docs" / "benchmarks-verify.md"
MIB = 1 << 20


@dataclass(frozen=True)
class Case:
    name: str
    files: int
    file_mib: int
    target: float  # whyload's speed over hashlib's, at least


def cases(quick: bool) -> list[Case]:
    if quick:
        return [Case("(a) one 256 MiB file", 1, 256, 0.95),
                Case("(b) 8 x 32 MiB shards", 8, 32, 1.8)]
    return [Case("(a) one 2 GiB file", 1, 2048, 0.95),
            Case("(b) 8 x 256 MiB shards", 8, 256, 1.8)]


def write_files(folder: Path, case: Case) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    block = os.urandom(8 * MIB)
    for i in range(case.files):
        name = "model.safetensors" if case.files == 1 else \
            f"model-{i + 1:05d}-of-{case.files:05d}.safetensors"
        path = folder / name
        with path.open("wb") as f:
            for j in range(case.file_mib // 8):
                f.write(block[j % 7 :] + block[: j % 7])  # no two blocks alike
        paths.append(path)
    return paths


def hashlib_sequential(paths: list[Path]) -> None:
    from huggingface_hub.utils.sha import sha_fileobj

    for path in paths:
        with path.open("rb") as f:
            sha_fileobj(f)


def sha256sum(paths: list[Path]) -> None:
    subprocess.run(["sha256sum", *map(str, paths)], check=True, stdout=subprocess.DEVNULL)


def whyload_verify(paths: list[Path]) -> None:
    import whyload.integrity

    report = whyload.integrity.verify(str(paths[0].parent))
    assert len(report.facts["files"]) == len(paths)


def measure(case: Case, paths: list[Path], repeats: int
            ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall seconds and CPU seconds (this process's threads plus its children) per method."""
    methods: dict[str, Callable[[list[Path]], None]] = {
        "hashlib": hashlib_sequential, "whyload": whyload_verify}
    if shutil.which("sha256sum"):
        methods["sha256sum"] = sha256sum
    times: dict[str, list[float]] = {m: [] for m in methods}
    cpu: dict[str, list[float]] = {m: [] for m in methods}
    for path in paths:  # warm the page cache: every method then reads from memory
        with path.open("rb") as f:
            while f.read(64 * MIB):
                pass
    names = list(methods)
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            c0, t0 = os.times(), time.perf_counter()
            methods[name](paths)
            times[name].append(time.perf_counter() - t0)
            c1 = os.times()
            cpu[name].append(c1.user - c0.user + c1.system - c0.system
                             + c1.children_user - c0.children_user
                             + c1.children_system - c0.children_system)
    return times, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB and 8 x 32 MiB")
    parser.add_argument("--repeats", type=int, default=None, help="default 5 (quick: 3)")
    parser.add_argument("--workdir", default=None, help="where the files go (default: /tmp)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write docs/")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    cores = len(os.sched_getaffinity(0))
    rows: list[str] = []
    missed = []
    work = Path(tempfile.mkdtemp(prefix="whyload-bench-verify-", dir=args.workdir or "/tmp"))
    try:
        for i, case in enumerate(cases(args.quick)):
            paths = write_files(work / f"case{i}", case)
            load_before = os.getloadavg()[0]
            times, cpu = measure(case, paths, repeats)
            shutil.rmtree(work / f"case{i}")
            total = case.files * case.file_mib
            base = statistics.median(times["hashlib"])
            for name, samples in times.items():
                median = statistics.median(samples)
                cpu_median = statistics.median(cpu[name])
                ratio = base / median
                verdict = ""
                if name == "whyload":
                    ok = ratio >= case.target or (cores < 2 and case.files > 1)
                    verdict = f"target >= {case.target}x: {'met' if ok else 'MISSED'}"
                    if not ok:
                        missed.append(case.name)
                        if load_before >= cores - 0.5:
                            verdict += f" (load {load_before:.1f} on {cores} cores: no idle core)"
                rows.append(f"| {case.name} | {name} | {median:.3f} | {total / median:,.0f} | "
                            f"{cpu_median:.3f} | {ratio:.2f}x | {verdict} |")
                print(rows[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    text = "\n".join([
        "# Benchmark: whyload verify vs sequential sha256",
        "",
        f"`.venv/bin/python benchmarks/verify.py{' --quick' if args.quick else ''}` "
        f"on {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} at the end (other work on the machine adds noise); "
        f"{repeats} repeats per method, in rotating order, page cache warm; random bytes.",
        "",
        "`hashlib` is one file after another in 1 MiB reads (huggingface_hub's sha_fileobj, "
        "what `hf cache verify` runs); `sha256sum` is coreutils; `whyload` is "
        "`whyload.integrity.verify(folder)` (threads, 2 MiB reads). Ratio: hashlib's median "
        "over the method's (higher is faster). CPU s counts every thread and child process: "
        "when whyload's CPU s is about hashlib's but its time is not lower, the other cores "
        "were busy, not idle.",
        "",
        "| case | method | median s | MiB/s | CPU s | vs hashlib | |",
        "|---|---|---:|---:|---:|---:|---|",
        *rows,
        "",
        ("All targets met." if not missed else f"Missed: {', '.join(missed)}.")
        + (" This was the quick run; the full one is `benchmarks/verify.py` (2 GiB and "
           "8 x 256 MiB, 2 GiB of /tmp at a time) on an otherwise idle machine."
           if args.quick else ""),
        "",
    ])
    if not args.no_write:
        RESULT.write_text(text)
        print(f"wrote {RESULT}")
    return 1 if missed and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
