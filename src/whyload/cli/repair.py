"""fix: a repair plan for a broken checkpoint, applied only to a new folder."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from whyload.cli.common import FailOn, Format, app, emit, out
from whyload.errors import UsageError


def parse_settings(values: list[str] | None) -> dict[str, Any]:
    """--set KEY=VALUE, the value read as JSON when it parses (12 -> int), else as text."""
    settings: dict[str, Any] = {}
    for item in values or []:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE",
                             hint="e.g. --set num_attention_heads=12")
        try:
            settings[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            settings[key.strip()] = raw
    return settings


@app.command()
def fix(
    target: Annotated[str, typer.Argument(help="The model folder (or cached hub id) to "
                                          "repair. It is only read.")],
    out_dir: Annotated[str, typer.Option("--out", "-o", help="The new folder to write the "
                                         "repaired copy into.")],
    apply: Annotated[bool, typer.Option("--apply", help="Write it (default: only show the "
                                        "plan).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists (swapped "
                                        "in only once the new copy is complete).")] = False,
    safetensors: Annotated[bool, typer.Option("--safetensors", help="Convert .bin weights to "
                                              "safetensors even when nothing else needs "
                                              "it.")] = False,
    max_shard_size: Annotated[str | None, typer.Option(help="Re-shard the weights: at most "
                                                       "this size per file (5GB, 500MB).")] =
    None,
    settings: Annotated[list[str] | None, typer.Option(
        "--set", help="A config value the weights do not determine, KEY=VALUE "
        "(num_attention_heads=12); repeat for more.")] = None,
    model_class: Annotated[str | None, typer.Option("--class", help="The class you load "
                                                    "with.")] = None,
    load: Annotated[bool, typer.Option("--load/--no-load", help="After --apply, load the "
                                       "result with transformers (child process).")] = True,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
) -> None:
    """Plan the repair of a broken checkpoint into a new folder; --apply writes it (atomically),
    then checks it and loads it. The original is never modified. Exit 0: repaired or nothing to
    fix; 1: refused or still broken; 2: bad usage."""
    from whyload.repair import plan as make_plan
    from whyload.repair.keys import parse_size
    from whyload.repair.text import render_plan, render_result

    try:
        shard_bytes = parse_size(max_shard_size) if max_shard_size else None
    except ValueError as exc:
        raise UsageError(str(exc), hint="--max-shard-size 5GB") from None
    repair = make_plan(target, out_dir, force=force, to_safetensors=safetensors,
                       max_shard_bytes=shard_bytes, overrides=parse_settings(settings),
                       model_class=model_class)
    result = repair.apply(force=force, prove=load) if apply and repair.applicable else None
    if fmt is Format.text:
        out(render_plan(repair, applying=apply))
        if result is not None:
            out(render_result(result))
    else:  # the report every command shares: the findings of the folder as it now stands
        from whyload.report import Report

        shown = result.after if result else repair.before
        emit(Report(command="fix", target=target, resolved=repair.before.resolved,
                    findings=shown.findings, skipped=shown.skipped,
                    facts={"plan": repair.to_dict(),
                           "result": result.to_dict() if result else None},
                    timings=dict(repair.before.timings)), fmt, FailOn.never, verbose=False)
    if repair.refusals or (result is not None and not result.ok):
        raise typer.Exit(1)
