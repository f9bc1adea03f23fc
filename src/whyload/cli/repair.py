"""fix: a repair plan for a broken checkpoint, applied only to a new folder."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from whyload.cli.common import FORMAT, MODEL_CLASS, add_command, emit, out, size
from whyload.errors import UsageError

if TYPE_CHECKING:
    from whyload.cli.common import Commands


def parse_settings(values: list[str]) -> dict[str, Any]:
    """--set KEY=VALUE, the value read as JSON when it parses (12 -> int), else as text."""
    import json

    settings: dict[str, Any] = {}
    for item in values:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE",
                             hint="e.g. --set num_attention_heads=12")
        try:
            settings[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            settings[key.strip()] = raw
    return settings


def register(commands: Commands) -> None:
    parser = add_command(commands, "fix", fix)
    parser.add_argument("target", help="The model folder (or cached hub id) to repair. It is "
                        "only read.")
    parser.add_argument("--out", "-o", dest="out_dir", required=True, metavar="FOLDER",
                        help="The new folder to write the repaired copy into.")
    parser.add_argument("--apply", action="store_true",
                        help="Write it (default: only show the plan).")
    parser.add_argument("--force", action="store_true", help="Replace --out if it exists "
                        "(swapped in only once the new copy is complete).")
    parser.add_argument("--safetensors", action="store_true", help="Convert .bin weights to "
                        "safetensors even when nothing else needs it.")
    parser.add_argument("--max-shard-size", type=size, metavar="SIZE",
                        help="Re-shard the weights: at most this size per file (5GB, 500MB: "
                        "powers of 1000, as transformers reads them; 2G, 2GiB: of 1024).")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="A config value the weights do not "
                        "determine (num_attention_heads=12); repeat for more.")
    MODEL_CLASS.add_to(parser, help="The class you load with.")
    parser.add_argument("--load", action=argparse.BooleanOptionalAction, default=True,
                        help="After --apply, load the result with transformers (child process).")
    FORMAT.add_to(parser)


def fix(args: argparse.Namespace) -> int:
    """Plan the repair of a broken checkpoint into a new folder; --apply writes it (atomically),
    then checks it and loads it. The original is never modified. Exit 0: repaired or nothing to
    fix; 1: refused or still broken; 2: bad usage."""
    from whyload.repair import plan as make_plan
    from whyload.repair.text import render_plan, render_result

    repair = make_plan(args.target, args.out_dir, force=args.force,
                       to_safetensors=args.safetensors, max_shard_bytes=args.max_shard_size,
                       overrides=parse_settings(args.settings), model_class=args.model_class)
    result = repair.apply(force=args.force, prove=args.load) \
        if args.apply and repair.applicable else None
    if args.format == "text":
        out(render_plan(repair, applying=args.apply))
        if result is not None:
            out(render_result(result))
    else:  # the report every command shares: the findings of the folder as it now stands
        from whyload.report import Report

        shown = result.after if result else repair.before
        emit(Report(command="fix", target=args.target, resolved=repair.before.resolved,
                    findings=shown.findings, skipped=shown.skipped,
                    facts={"plan": repair.to_dict(),
                           "result": result.to_dict() if result else None},
                    timings=dict(repair.before.timings)), args.format, "never", verbose=False)
    return int(bool(repair.refusals or (result is not None and not result.ok)))
