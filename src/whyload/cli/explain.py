"""explain: a traceback or a log in, the cause and the fix out."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from whyload.cli.common import FailOn, Format, app, emit, fail


@app.command()
def explain(
    log: Annotated[str, typer.Argument(help="A log or traceback file; '-' reads standard "
                                       "input.")] = "-",
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 when a finding has at least this "
                                            "severity.")] = FailOn.error,
    no_check: Annotated[bool, typer.Option("--no-check", help="Do not run `check` on the model "
                                           "the log names.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show evidence, notes and "
                                          "timings.")] = False,
) -> None:
    """Explain a failed load from its traceback or log: the cause, the line that shows it, and
    the fix. Runs `check` on the model folder or cached hub id the log names."""
    from whyload.logs import explain as explain_log

    if log == "-" and sys.stdin.isatty():
        fail("no log: give a file, or pipe one in (python train.py 2>&1 | whyload explain -)")
    report = explain_log(log, run_check=not no_check)
    emit(report, fmt, fail_on, verbose)
