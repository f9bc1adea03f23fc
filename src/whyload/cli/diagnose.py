"""check, env, rules, demo, version: the commands that diagnose without writing anything."""

from __future__ import annotations

from typing import Annotated

import typer

from whyload.cli.common import (
    Device,
    Dtype,
    FailOn,
    Format,
    RulesFormat,
    app,
    emit,
    out,
    split_list,
    use_color,
)


@app.command()
def check(
    target: Annotated[str, typer.Argument(help="A model folder, a weights file, or a hub id "
                                          "(org/name) found in the local HF cache.")] = ".",
    revision: Annotated[str | None, typer.Option(help="Hub revision (branch, tag or commit) "
                                                 "to look up in the cache.")] = None,
    model_class: Annotated[str | None, typer.Option(
        "--class", help="The class you load with (BertForSequenceClassification, "
        "AutoModelForTokenClassification, ...). Default: config.json's architectures.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 when a finding has at least this "
                                            "severity.")] = FailOn.error,
    select: Annotated[list[str] | None, typer.Option(
        help="Only these codes or prefixes (WL1, WL104); repeat or comma-separate.")] = None,
    ignore: Annotated[list[str] | None, typer.Option(help="Drop these codes or prefixes.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show evidence, notes and "
                                          "timings.")] = False,
    deep: Annotated[bool, typer.Option(help="For model types outside the BERT family, build the "
                                       "model on the meta device (transformers, in a child "
                                       "process) to predict its loading report.")] = False,
    device: Annotated[Device, typer.Option(help="Where it will be loaded.")] = Device.cpu,
    dtype: Annotated[Dtype | None, typer.Option(help="The dtype it will be loaded in "
                                                "(default: as stored).")] = None,
) -> None:
    """Diagnose a model without loading it: headers and JSON only, in well under a second."""
    from whyload.pipeline import check as run_check

    report = run_check(target, revision=revision, select=split_list(select),
                       ignore=split_list(ignore), model_class=model_class, deep=deep,
                       device=device.value, dtype=dtype.value if dtype else None)
    emit(report, fmt, fail_on, verbose)


@app.command("env")
def env_command(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    device: Annotated[Device, typer.Option(help="Check readiness for this device.")] =
    Device.cpu,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 when a finding has at least this "
                                            "severity.")] = FailOn.error,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show evidence.")] = False,
) -> None:
    """Diagnose this machine: versions, torch (imported in a child process), GPUs, memory and
    container limits, the Hugging Face cache."""
    from whyload.pipeline import env

    report = env(device=device.value)
    emit(report, fmt, fail_on, verbose)


@app.command()
def rules(
    fmt: Annotated[RulesFormat, typer.Option("--format", "-f")] = RulesFormat.text,
) -> None:
    """List every check: its code, category, name and what it means."""
    from whyload.registry import all_rules

    every = all_rules()
    if fmt is RulesFormat.markdown:
        from whyload.render.markdown import render_rules_markdown

        out(render_rules_markdown(every))
    elif fmt is RulesFormat.json:
        import json

        out(json.dumps([{"code": r.code, "name": r.name, "category": r.category.value,
                          "title": r.title, "explanation": r.explanation, "command": r.command,
                          "requires": list(r.requires)} for r in every], indent=2))
    else:
        width = max(len(r.name) for r in every)
        out("\n".join(f"{r.code}  {r.category.value:<12} {r.name:<{width}}  {r.title}"
                       for r in every))


@app.command()
def demo(
    keep: Annotated[str | None, typer.Option(help="Build the broken copies in this folder and "
                                             "keep them (default: a temporary folder).")] = None,
) -> None:
    """Break copies of a real bundled BERT the way the world does, and diagnose each."""
    from whyload.demo import run_demo

    out(run_demo(keep, color=use_color()))


@app.command()
def version() -> None:
    """Print whyload's version."""
    from whyload import __version__

    out(__version__)
