"""How `whyload load` caps memory, measured side by side in one run.

1. Address space against resident memory: a child imports torch and transformers and loads a
   tiny BERT; /proc/self/status says how much address space that reserves (VmPeak) for how much
   it touches (VmHWM), and which RLIMIT_AS values let it finish. That is why the cap watches RSS.
2. The watchdog: a 300 MB BERT in the legacy torch format (read whole into memory) loaded
   without a cap, then under caps below its peak: the RSS at the kill against the cap.
3. The cost of isolation: `run_load` (check + child + watchdog) against a bare child that only
   runs from_pretrained, on the same tiny BERT, alternated.

    .venv/bin/python benchmarks/load_sandbox.py   # ~3 minutes; writes docs/benchmarks-load.md
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 2**20
HANG_S = 90  # a child under a tight RLIMIT_AS can spin instead of failing
ROOT = Path(__file__).resolve().parents[1]

STATUS_CHILD = r"""
import json, resource, sys
limit = int(sys.argv[2])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
out = {}
try:
    import transformers
    transformers.AutoModel.from_pretrained(sys.argv[1])
    out["loaded"] = True
except BaseException as exc:
    out["loaded"] = False
    out["error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
for line in open("/proc/self/status"):
    key, _, value = line.partition(":")
    if key in ("VmPeak", "VmHWM"):
        out[key] = int(value.split()[0]) * 1024
print(json.dumps(out))
"""

BARE_CHILD = "import sys, transformers; transformers.AutoModel.from_pretrained(sys.argv[1])"


def build(workdir: Path) -> tuple[Path, Path]:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    tiny = workdir / "tiny"
    BertModel(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=37,
                         max_position_embeddings=64)).save_pretrained(tiny)
    wide = workdir / "legacy-300mb"
    wide.mkdir()
    config = BertConfig(vocab_size=100, hidden_size=1024, num_hidden_layers=6,
                        num_attention_heads=16, intermediate_size=4096,
                        max_position_embeddings=64, architectures=["BertModel"])
    config.save_pretrained(wide)
    torch.save(BertModel(config).state_dict(), wide / "pytorch_model.bin",
               _use_new_zipfile_serialization=False)
    return tiny, wide


def status(folder: Path, limit: int) -> dict[str, object]:
    try:
        done = subprocess.run([sys.executable, "-c", STATUS_CHILD, str(folder), str(limit)],
                              capture_output=True, text=True, timeout=HANG_S)
    except subprocess.TimeoutExpired:
        return {"loaded": False, "error": f"hung: killed after {HANG_S} s"}
    try:
        data: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return data
    except (ValueError, IndexError):
        return {"loaded": False, "error": f"exit {done.returncode}"}


def main() -> int:
    from whyload.probe.load import run_load

    lines = ["# `whyload load`: the memory cap, measured", "",
             f"Run on {time.strftime('%Y-%m-%d')} by `benchmarks/load_sandbox.py`.", ""]
    with tempfile.TemporaryDirectory(prefix="whyload-bench-load-") as tmp:
        tiny, wide = build(Path(tmp))

        free = status(tiny, 0)
        peak, hwm = int(free["VmPeak"]), int(free["VmHWM"])  # type: ignore[call-overload]
        lines += ["## 1. Address space against resident memory (tiny BERT)", "",
                  f"Without a limit: VmPeak {peak / MB:,.0f} MiB of address space for VmHWM "
                  f"{hwm / MB:,.0f} MiB resident: {peak / hwm:.1f}x.", "",
                  "| RLIMIT_AS | loads? | error |", "|---:|---|---|"]
        for limit_mb in (700, 900, 1200):
            got = status(tiny, limit_mb * MB)
            lines.append(f"| {limit_mb} MiB | {'yes' if got['loaded'] else 'no'} | "
                         f"{got.get('error', '')} |")
        lines += ["", "A cap on the address space near the memory the model may use fails "
                  "inside `import torch` or at a thread start, long before the model matters "
                  f"(and a child under such a cap may spin instead of failing: {HANG_S} s is "
                  "the limit here). So the cap watches RSS, and RLIMIT_AS is only a backstop, "
                  "set at the cap plus 2 GiB and 512 MiB per CPU.", ""]

        uncapped = run_load(str(wide))
        top = int(uncapped.facts["peak_rss"])
        lines += ["## 2. The watchdog (300 MB BERT, legacy .bin)", "",
                  f"Without a cap: outcome {uncapped.facts['outcome']}, peak RSS "
                  f"{top / MB:,.0f} MiB.", "",
                  "| cap | outcome | RSS seen at the kill | past the cap |", "|---:|---|---:|---:|"]
        for cap_mb in (550, 650, 750):
            report = run_load(str(wide), memory_limit=cap_mb * MB)
            seen = int(report.facts["peak_rss"])
            lines.append(f"| {cap_mb} MiB | {report.facts['outcome']} | {seen / MB:,.0f} MiB | "
                         f"{(seen - cap_mb * MB) / MB:+,.0f} MiB |")
        lines.append("")

        sandboxed: list[float] = []
        bare: list[float] = []
        for _ in range(3):
            t0 = time.perf_counter()
            run_load(str(tiny))
            sandboxed.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", BARE_CHILD, str(tiny)], capture_output=True,
                           check=True, timeout=300)
            bare.append(time.perf_counter() - t0)
        s, b = statistics.median(sandboxed), statistics.median(bare)
        lines += ["## 3. The cost of isolation (tiny BERT, medians of 3, alternated)", "",
                  "| | wall |", "|---|---:|",
                  f"| bare child: from_pretrained | {b:.2f} s |",
                  f"| run_load: check + child + watchdog + report | {s:.2f} s |",
                  f"| ratio | {s / b:.2f}x |", ""]
    text = "\n".join(lines)
    print(text)
    (ROOT / "docs" / "benchmarks-load.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
