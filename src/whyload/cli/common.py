"""What every command shares: the typer app, the option types, and how a report is printed."""

from __future__ import annotations

import enum
import os
import sys
from typing import NoReturn

import typer

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
    sarif = "sarif"


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


def split_list(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def fail(message: str) -> NoReturn:
    sys.stderr.write(f"whyload: error: {message}\n")
    raise typer.Exit(2)


def use_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return os.environ.get("FORCE_COLOR") is not None or sys.stdout.isatty()


def emit(report: Report, fmt: Format, fail_on: FailOn, verbose: bool) -> None:
    """Print a report in the chosen format; exit 1 when a finding reaches --fail-on."""
    if fmt is Format.json:
        from whyload.render.json import render_json

        out(render_json(report))
    elif fmt is Format.sarif:
        from whyload.render.sarif import render_sarif

        out(render_sarif(report))
    else:
        from whyload.render.text import render_text

        out(render_text(report, color=use_color(), verbose=verbose))
    if fail_on is not FailOn.never and report.failed(Severity.parse(fail_on.value)):
        raise typer.Exit(1)
