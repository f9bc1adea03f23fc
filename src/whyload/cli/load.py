"""load: a real from_pretrained in an isolated, memory-capped child process."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from whyload.cli.common import Device, Dtype, FailOn, Format, app, emit, fail, out
from whyload.report import Report, Verdict

MIN_MEMORY_LIMIT = 64 << 20  # a child below it dies before it can import anything


def _mb(n: Any) -> str:
    return f"{int(n) / 1e6:,.0f} MB" if isinstance(n, (int, float)) else "?"


def summary_line(report: Report) -> str:
    """check's prediction beside what happened, in one line."""
    facts = report.facts
    static = (facts.get("static") or {}).get("verdict", "?")
    outcome = str(facts.get("outcome"))
    happened = {"loaded": "loaded", "exception": "raised "
                + str((facts.get("exception") or {}).get("type", "")),
                "killed_oom": "ran out of memory", "signal": f"died from {facts.get('signal')}",
                "timeout": "timed out"}.get(outcome, outcome)
    cap = f" (cap {_mb(facts['memory_limit'])})" if facts.get("memory_limit") else ""
    return (f"check predicted: {static}  |  real load: {happened} in {facts.get('wall_s', 0):.1f}"
            f" s, peak RSS {_mb(facts.get('peak_rss'))}{cap}")


@app.command()
def load(
    target: Annotated[str, typer.Argument(help="A model folder, a weights file, or a hub id "
                                          "(org/name) found in the local HF cache.")],
    model_class: Annotated[str | None, typer.Option(
        "--class", help="The transformers class to load into. Default: config.json's "
        "architectures, else AutoModel.")] = None,
    dtype: Annotated[Dtype | None, typer.Option(help="Load in this dtype (default: as "
                                                "transformers chooses).")] = None,
    device: Annotated[Device, typer.Option(help="Move the model there after loading.")] =
    Device.cpu,
    device_map: Annotated[str | None, typer.Option(help="from_pretrained's device_map "
                                                   "(auto, cpu, cuda).")] = None,
    timeout: Annotated[float, typer.Option(help="Kill the load after this many seconds.")] =
    600.0,
    memory_limit: Annotated[str | None, typer.Option(
        help="Kill the load when its resident memory passes this (2G, 512M), as a container "
        "limit would.")] = None,
    trust_remote_code: Annotated[bool, typer.Option(
        help="Run the model's own Python code (auto_map). Review it first.")] = False,
    revision: Annotated[str | None, typer.Option(help="Hub revision to look up in the "
                                                 "cache.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show evidence and "
                                          "timings.")] = False,
) -> None:
    """Load the model for real (from_pretrained) in a child process with a memory cap and a
    timeout, and say what happened and why. Exit 1 when it failed or loaded broken."""
    from whyload.probe.load import run_load
    from whyload.probe.sandbox import parse_size

    if not math.isfinite(timeout) or timeout <= 0:
        fail(f"--timeout must be a positive number of seconds, not {timeout}")
    try:
        limit = parse_size(memory_limit) if memory_limit is not None else None
    except ValueError as exc:
        fail(f"--memory-limit: {exc}")
    if limit is not None and limit < MIN_MEMORY_LIMIT:
        fail(f"--memory-limit {memory_limit}: below the {MIN_MEMORY_LIMIT >> 20} MB that Python "
             "and transformers need to start; give at least 256M")
    report = run_load(target, model_class=model_class, dtype=dtype.value if dtype else None,
                      device=device.value, device_map=device_map, timeout_s=timeout,
                      memory_limit=limit, trust_remote_code=trust_remote_code,
                      revision=revision)
    if fmt is Format.text:
        out(summary_line(report))
    emit(report, fmt, FailOn.error, verbose)
    if report.verdict in (Verdict.FAILS, Verdict.LOADS_BROKEN):
        raise typer.Exit(1)
