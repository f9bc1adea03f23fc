"""The command line: the only module that prints or exits.

Exit codes: 0 nothing at or above --fail-on, 1 something, 2 bad usage or a target that cannot be
examined. Never a traceback: unexpected errors are reported in one line (WHYLOAD_DEBUG=1 shows
the traceback).
"""

from __future__ import annotations

import enum
import os
import sys
from typing import Annotated, NoReturn

import typer

from whyload.errors import WhyloadError
from whyload.report import Report, Severity

app = typer.Typer(
    name="whyload",
    help="Why does this model fail to load, and what do I do about it? Diagnoses model folders, "
    "weights files and cached hub ids without loading them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, enum.Enum):
    text = "text"
    json = "json"


class RulesFormat(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class Device(str, enum.Enum):
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class Dtype(str, enum.Enum):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"


class FailOn(str, enum.Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


def _split(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"whyload: error: {message}\n")
    raise typer.Exit(2)


def _color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return os.environ.get("FORCE_COLOR") is not None or sys.stdout.isatty()


def _emit(report: Report, fmt: Format, fail_on: FailOn, verbose: bool) -> None:
    """Print a report in the chosen format; exit 1 when a finding reaches --fail-on."""
    if fmt is Format.json:
        from whyload.render.json import render_json

        _out(render_json(report))
    else:
        from whyload.render.text import render_text

        _out(render_text(report, color=_color(), verbose=verbose))
    if fail_on is not FailOn.never and report.failed(Severity.parse(fail_on.value)):
        raise typer.Exit(1)


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

    report = run_check(target, revision=revision, select=_split(select), ignore=_split(ignore),
                       model_class=model_class, deep=deep, device=device.value,
                       dtype=dtype.value if dtype else None)
    _emit(report, fmt, fail_on, verbose)


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
    _emit(report, fmt, fail_on, verbose)


@app.command()
def rules(
    fmt: Annotated[RulesFormat, typer.Option("--format", "-f")] = RulesFormat.text,
) -> None:
    """List every check: its code, category, name and what it means."""
    from whyload.registry import all_rules

    every = all_rules()
    if fmt is RulesFormat.markdown:
        from whyload.render.markdown import render_rules_markdown

        _out(render_rules_markdown(every))
    elif fmt is RulesFormat.json:
        import json

        _out(json.dumps([{"code": r.code, "name": r.name, "category": r.category.value,
                          "title": r.title, "explanation": r.explanation,
                          "requires": list(r.requires)} for r in every], indent=2))
    else:
        width = max(len(r.name) for r in every)
        _out("\n".join(f"{r.code}  {r.category.value:<12} {r.name:<{width}}  {r.title}"
                       for r in every))


@app.command()
def demo(
    keep: Annotated[str | None, typer.Option(help="Build the broken copies in this folder and "
                                             "keep them (default: a temporary folder).")] = None,
) -> None:
    """Break copies of a real bundled BERT the way the world does, and diagnose each."""
    from whyload.demo import run_demo

    _out(run_demo(keep, color=_color()))


@app.command()
def version() -> None:
    """Print whyload's version."""
    from whyload import __version__

    _out(__version__)


def main() -> None:
    try:
        # without standalone mode click returns the code of typer.Exit instead of raising it
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except WhyloadError as exc:
        sys.stderr.write(f"whyload: error: {exc}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("whyload: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        # usage errors (typer's own, or click's in older typer) know how to show themselves
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            sys.exit(2)
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        if os.environ.get("WHYLOAD_DEBUG"):
            raise
        sys.stderr.write(f"whyload: internal error: {type(exc).__name__}: {exc}\n"
                         "  (set WHYLOAD_DEBUG=1 for the traceback, and please report it)\n")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
