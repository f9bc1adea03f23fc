"""load: a real from_pretrained in an isolated, memory-capped child process."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, Any

from whyload.cli.common import (
    DEVICE,
    DTYPE,
    FORMAT,
    MODEL_CLASS,
    PYTHON,
    REVISION,
    TARGET,
    VERBOSE,
    add_command,
    emit,
    out,
    size,
)

if TYPE_CHECKING:
    from whyload.cli.common import Commands
    from whyload.report import Report

MIN_MEMORY_LIMIT = 64 << 20  # a child below it dies before it can import anything


def seconds(text: str) -> float:
    """--timeout: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def memory_limit(text: str) -> int:
    """--memory-limit: a size, at least what a child needs to start."""
    from whyload.sizes import format_size

    limit = size(text)
    if limit < MIN_MEMORY_LIMIT:
        raise argparse.ArgumentTypeError(
            f"{text}: below the {format_size(MIN_MEMORY_LIMIT)} that Python and transformers "
            "need to start; give at least 256M")
    return limit


def register(commands: Commands) -> None:
    parser = add_command(commands, "load", load)
    TARGET.add_to(parser, nargs=None, default=None, help="A model folder, a weights file, or a "
                  "hub id (org/name) found in the local HF cache.")
    MODEL_CLASS.add_to(parser, help="The transformers class to load into. Default: "
                       "config.json's architectures, else AutoModel.")
    DTYPE.add_to(parser, help="Load in this dtype (default: as transformers chooses).")
    DEVICE.add_to(parser, help="Move the model there after loading (default: %(default)s).")
    parser.add_argument("--device-map", metavar="MAP",
                        help="from_pretrained's device_map (auto, cpu, cuda).")
    parser.add_argument("--timeout", type=seconds, default=600.0, metavar="SECONDS",
                        help="Kill the load after this many seconds (default: %(default)s).")
    parser.add_argument("--memory-limit", type=memory_limit, metavar="SIZE",
                        help="Kill the load when its resident memory passes this (2G, 512M: "
                        "powers of 1024; 2GB: of 1000), as a container limit would.")
    parser.add_argument("--trust-remote-code", action=argparse.BooleanOptionalAction,
                        default=False,
                        help="Run the model's own Python code (auto_map). Review it first.")
    REVISION.add_to(parser)
    FORMAT.add_to(parser)
    VERBOSE.add_to(parser, help="Show evidence and timings.")
    PYTHON.add_to(parser)


def load(args: argparse.Namespace) -> int:
    """Load the model for real (from_pretrained) in a child process with a memory cap and a
    timeout, and say what happened and why. Exit 1 when it failed or loaded broken."""
    from whyload.probe.load import run_load
    from whyload.report import Verdict

    report = run_load(args.target, model_class=args.model_class, dtype=args.dtype,
                      device=args.device, device_map=args.device_map, timeout_s=args.timeout,
                      memory_limit=args.memory_limit, trust_remote_code=args.trust_remote_code,
                      revision=args.revision, python=args.python)
    if args.format == "text":
        out(summary_line(report))
    code = emit(report, args.format, "error", args.verbose)
    return 1 if report.verdict in (Verdict.FAILS, Verdict.LOADS_BROKEN) else code


def _size(n: Any) -> str:
    from whyload.sizes import format_size

    return format_size(int(n)) if isinstance(n, (int, float)) else "?"


def summary_line(report: Report) -> str:
    """check's prediction beside what happened, in one line."""
    facts = report.facts
    static = (facts.get("static") or {}).get("verdict", "?")
    outcome = str(facts.get("outcome"))
    happened = {"loaded": "loaded", "exception": "raised "
                + str((facts.get("exception") or {}).get("type", "")),
                "killed_oom": "ran out of memory", "signal": f"died from {facts.get('signal')}",
                "timeout": "timed out"}.get(outcome, outcome)
    cap = f" (cap {_size(facts['memory_limit'])})" if facts.get("memory_limit") else ""
    return (f"check predicted: {static}  |  real load: {happened} in {facts.get('wall_s', 0):.1f}"
            f" s, peak RSS {_size(facts.get('peak_rss'))}{cap}")
